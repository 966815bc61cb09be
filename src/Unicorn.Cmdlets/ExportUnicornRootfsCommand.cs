using System.Management.Automation;
using Unicorn.Images;

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
            var rootfs = Engine.Rootfs.Get(InputObject?.BaseObject switch
            {
                Rootfs r => r.Id,
                Container c => c.RootfsId ?? throw new UnicornException("RootfsNotOwned", ErrorKind.InvalidArgument,
                    $"{c.Name} runs on a directory (-RootfsPath), not on a rootfs of Unicorn's: archive that directory itself.", c.Name),
                null => Id!,
                var other => throw new UnicornException("InvalidInput", ErrorKind.InvalidArgument,
                    $"Export-UnicornRootfs takes a rootfs or a container, not a {other.GetType().Name}.", other),
            });
            if (!Diff && !rootfs.Mounted)
                throw new UnicornException("RootfsNotMounted", ErrorKind.InvalidOperation,
                    $"The rootfs {Ids.Short(rootfs.Id)} is not mounted (after a reboot, say): starting a container on it mounts it again. Its changes alone can be exported now, with -Diff.", rootfs.Id);
            var path = FileSystemPath(Path);
            if (!ShouldProcess(rootfs.Path, $"Export {(Diff ? "the changes of the" : "the")} root filesystem to {path}"))
                return;
            LayerWriter.WriteFile(Diff ? rootfs.UpperDir : rootfs.Path, path, overlayUpper: Diff,
                gzip: path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".tgz", StringComparison.OrdinalIgnoreCase));
            WriteObject(new FileInfo(path));
        });
    }
}
