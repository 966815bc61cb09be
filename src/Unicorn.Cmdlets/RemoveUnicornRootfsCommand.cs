using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Remove, "UnicornRootfs", SupportsShouldProcess = true, DefaultParameterSetName = "RootfsId")]
[OutputType(typeof(void))]
public sealed class RemoveUnicornRootfsCommand : UnicornCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public Rootfs[] InputObject { get; set; } = [];

    /// <summary>Rootfs ids or unique id prefixes. Binds RootfsId by property name (so a container
    /// pipes in its rootfs), else Id (a rootfs, deserialized too).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = "RootfsId")]
    [Alias("Id")]
    [ArgumentCompleter(typeof(RootfsCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] RootfsId { get; set; } = [];

    protected override void ProcessRecord()
    {
        foreach (var id in ParameterSetName == "InputObject" ? InputObject.Select(r => r.Id) : RootfsId)
            ForItem(() =>
            {
                Rootfs rootfs;
                try { rootfs = Engine.Rootfs.Get(id); }
                catch (CorruptStateException e) when (e.RootfsId is { } damaged)
                {
                    // Its record is damaged, but what it is on disk (a mount, layers) can go.
                    if (ShouldProcess(Ids.Short(damaged), "Unmount and delete the rootfs, whose record is damaged"))
                        Engine.Rootfs.Remove(damaged);
                    return;
                }
                if (ShouldProcess($"{rootfs.Id[..12]} ({rootfs.Path})", "Unmount and delete the rootfs"))
                    Engine.Rootfs.Remove(rootfs.Id);
            });
    }
}
