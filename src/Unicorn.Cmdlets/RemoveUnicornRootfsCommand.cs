using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Remove, "UnicornRootfs", SupportsShouldProcess = true, DefaultParameterSetName = "Id")]
[OutputType(typeof(void))]
public sealed class RemoveUnicornRootfsCommand : UnicornCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public Rootfs[] InputObject { get; set; } = [];

    /// <summary>Ids or unique id prefixes.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = "Id")]
    [Alias("RootfsId")]
    [ValidateNotNullOrEmpty]
    public string[] Id { get; set; } = [];

    protected override void ProcessRecord()
    {
        foreach (var id in ParameterSetName == "InputObject" ? InputObject.Select(r => r.Id) : Id)
            ForItem(() =>
            {
                var rootfs = Engine.Rootfs.Get(id);
                if (ShouldProcess($"{rootfs.Id[..12]} ({rootfs.Path})", "Unmount and delete the rootfs"))
                    Engine.Rootfs.Remove(rootfs.Id);
            });
    }
}
