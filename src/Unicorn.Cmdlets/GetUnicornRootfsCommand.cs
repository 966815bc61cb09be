using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Get, "UnicornRootfs")]
[OutputType(typeof(Rootfs))]
public sealed class GetUnicornRootfsCommand : UnicornCmdlet
{
    /// <summary>Rootfs ids or unique id prefixes. Binds RootfsId by property name (so a container
    /// pipes in its rootfs), else Id (a rootfs, deserialized too); all when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Id")]
    [ArgumentCompleter(typeof(RootfsCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? RootfsId { get; set; }

    protected override void ProcessRecord()
    {
        if (RootfsId is null)
        {
            foreach (var r in Engine.Rootfs.List(e => WriteError(ToErrorRecord(e))))
                WriteObject(r);
            return;
        }
        foreach (var id in RootfsId)
            ForItem(() => WriteObject(Engine.Rootfs.Get(id)));
    }
}
