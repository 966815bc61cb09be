using System.Management.Automation;
using Unicorn.Images;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.New, "UnicornRootfs", SupportsShouldProcess = true, DefaultParameterSetName = "Path")]
[OutputType(typeof(Rootfs))]
public sealed class NewUnicornRootfsCommand : UnicornCmdlet
{
    /// <summary>The lower directory; the embedded default rootfs when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = "Path")]
    [Alias("FullName", "LowerDir")]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>An image of the store, by name or id.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Image")]
    [ArgumentCompleter(typeof(ImageCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Image { get; set; }

    /// <summary>Images from Get-UnicornImage or Import-UnicornImage.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public Image? InputObject { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName is "Image" or "InputObject")
        {
            ForItem(() =>
            {
                var image = InputObject is not null ? Engine.Images.Get(InputObject.Id) : Engine.Images.Get(Image!);
                if (ShouldProcess(image.ToString(), "Create an overlay root filesystem over the image's layers"))
                    WriteObject(Engine.Rootfs.CreateFromImage(image, Verbose));
            });
            return;
        }
        var lower = Path is null ? null : FileSystemPath(Path);
        if (!ShouldProcess(lower ?? "the default rootfs", "Create an overlay root filesystem"))
            return;
        ForItem(() => WriteObject(Engine.Rootfs.Create(lower, Verbose)));
    }
}
