using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.New, "UnicornRootfs", SupportsShouldProcess = true)]
[OutputType(typeof(Rootfs))]
public sealed class NewUnicornRootfsCommand : UnicornCmdlet
{
    /// <summary>The lower directory; the embedded default rootfs when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "LowerDir")]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    protected override void ProcessRecord()
    {
        var lower = Path is null ? null : FileSystemPath(Path);
        if (!ShouldProcess(lower ?? "the default rootfs", "Create an overlay root filesystem"))
            return;
        ForItem(() => WriteObject(Engine.Rootfs.Create(lower, Verbose)));
    }
}
