using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Get, "UnicornRootfs")]
[OutputType(typeof(Rootfs))]
public sealed class GetUnicornRootfsCommand : UnicornCmdlet
{
    /// <summary>Ids or unique id prefixes; all when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("RootfsId")]
    [ValidateNotNullOrEmpty]
    public string[]? Id { get; set; }

    protected override void ProcessRecord()
    {
        if (Id is null)
        {
            WriteObject(Engine.Rootfs.List(), enumerateCollection: true);
            return;
        }
        foreach (var id in Id)
            ForItem(() => WriteObject(Engine.Rootfs.Get(id)));
    }
}
