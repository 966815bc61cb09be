using Unicorn.Images;

namespace Unicorn;

/// <summary>An export of a rootfs to a tar file (Export-UnicornRootfs), checked by
/// <see cref="RootfsStore.PlanExport"/>: nothing is written until <see cref="Run"/>.</summary>
public sealed class RootfsExport
{
    internal RootfsExport(Rootfs rootfs, string path, bool diff) =>
        (Rootfs, Path, Diff, Gzip) = (rootfs, System.IO.Path.GetFullPath(path), diff, IsGzipName(path));

    public Rootfs Rootfs { get; }
    /// <summary>The tar file to write, a full path.</summary>
    public string Path { get; }
    /// <summary>Only the changes over the lower layers: the upper layer, its whiteouts as an
    /// image layer has them.</summary>
    public bool Diff { get; }
    /// <summary>gzip-compressed, as the file's name says (.gz, .tgz).</summary>
    public bool Gzip { get; }

    /// <summary>The compression a tar file's name asks for: gzip for .gz and .tgz (any case),
    /// none otherwise.</summary>
    public static bool IsGzipName(string path) =>
        path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".tgz", StringComparison.OrdinalIgnoreCase);

    /// <summary>Writes the tar into a temporary file beside Path, renamed over it once complete:
    /// a failure midway leaves no half-written file, and an older file there stays until then.</summary>
    public FileInfo Run()
    {
        LayerWriter.WriteFile(Diff ? Rootfs.UpperDir : Rootfs.Path, Path, overlayUpper: Diff, gzip: Gzip);
        return new FileInfo(Path);
    }
}
