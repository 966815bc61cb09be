using System.Management.Automation;
using Unicorn.Images;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Remove, "UnicornImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Name")]
[OutputType(typeof(void))]
public sealed class RemoveUnicornImageCommand : UnicornCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public Image[] InputObject { get; set; } = [];

    /// <summary>Names or ids.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Name")]
    [ArgumentCompleter(typeof(ImageCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>Remove an image that root filesystems use (their layers stay until they go).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var key in ParameterSetName == "InputObject" ? InputObject.Select(i => i.Id) : Name)
            ForItem(() =>
            {
                var image = Engine.Images.Get(key);
                var users = Engine.Rootfs.List().Where(r => r.ImageId == image.Id).ToList();
                if (users.Count > 0 && !Force)
                    throw new UnicornException("ImageInUse", ErrorKind.ResourceBusy,
                        $"{image} is used by {users.Count} root filesystem(s) ({string.Join(", ", users.Select(r => Ids.Short(r.Id)))}). Remove them (and their containers) first, or use -Force.", image.Id);
                if (ShouldProcess($"{image} ({image.ShortId})", "Remove image"))
                    Engine.Images.Remove(image, Engine.Rootfs.List().Select(r => r.LowerDir), Verbose);
            });
    }
}
