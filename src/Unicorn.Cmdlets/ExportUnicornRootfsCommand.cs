using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsData.Export, "UnicornRootfs", SupportsShouldProcess = true, DefaultParameterSetName = "InputObject")]
[OutputType(typeof(FileInfo))]
public sealed class ExportUnicornRootfsCommand : UnicornCmdlet
{
    /// <summary>A rootfs, or a container (its rootfs).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public PSObject? InputObject { get; set; }

    /// <summary>A rootfs id or id prefix.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Id")]
    [ArgumentCompleter(typeof(RootfsCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Id { get; set; }

    /// <summary>The tar file to write (.tar.gz or .tgz: gzip-compressed).</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Only the changes made over the image, as a layer with whiteouts.</summary>
    [Parameter]
    public SwitchParameter Diff { get; set; }

    protected override void ProcessRecord()
    {
        ForItem(() =>
        {
            var rootfs = InputObject?.BaseObject switch
            {
                Rootfs r => Engine.Rootfs.Get(r.Id),
                Container c => Engine.Rootfs.Get(c),
                null => Engine.Rootfs.Get(Id!),
                var other => throw new UnicornException("InvalidInput", ErrorKind.InvalidArgument,
                    $"Export-UnicornRootfs takes a rootfs or a container, not a {other.GetType().Name}.", other),
            };
            var export = Engine.Rootfs.PlanExport(rootfs, FileSystemPath(Path), Diff);
            if (ShouldProcess(rootfs.Path, $"Export {(Diff ? "the changes of the" : "the")} root filesystem to {export.Path}"))
                WriteObject(export.Run());
        });
    }
}
