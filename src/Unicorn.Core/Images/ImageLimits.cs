namespace Unicorn.Images;

/// <summary>The bounds an import holds an image to. Every byte of an image is its author's to
/// choose: these keep a hostile one from filling the disk, the memory or the stack, or from
/// making an import's work grow faster than the image. Real images stay far inside them.</summary>
public static class ImageLimits
{
    /// <summary>The default of Import-UnicornImage -MaxSize: the file content one import may
    /// extract, across its layers (layers the store has already do not count).</summary>
    public const long DefaultMaxSize = 64L << 30;
    /// <summary>Entries (files, directories, links, devices, whiteouts) one import may extract,
    /// across its layers; real images have a few hundred thousand at most.</summary>
    public const long MaxEntries = 1 << 22;
    /// <summary>Components in a layer entry's path.</summary>
    public const int MaxPathDepth = 256;
    /// <summary>A JSON document of an image (index, manifest, config, docker-save manifest.json),
    /// as containerd bounds manifests.</summary>
    public const int MaxJsonBytes = 4 << 20;
    /// <summary>All the JSON documents one import reads, together.</summary>
    public const long MaxJsonTotal = 64 << 20;
    /// <summary>Indexes nested in indexes, index.json being the first.</summary>
    public const int MaxIndexDepth = 8;
    /// <summary>Entries of one index (the fan-out).</summary>
    public const int MaxIndexEntries = 1024;
    /// <summary>Manifests and indexes one import follows, in all (each blob is read once).</summary>
    public const int MaxDescriptors = 4096;
    /// <summary>Layers of one image: overlayfs stacks no more than 500 lower directories.</summary>
    public const int MaxLayers = 500;
    /// <summary>Entries of an image archive (docker save, or an OCI layout in a tar).</summary>
    public const int MaxArchiveEntries = 1 << 16;
    /// <summary>The small files of an image archive held in memory after its first read.</summary>
    public const long MaxArchiveCache = 256 << 20;

    /// <summary>An image beyond a limit of its structure, which no raising of -MaxSize helps.</summary>
    internal static UnicornException TooComplex(string message, object? target) => new("ImageTooComplex", ErrorKind.LimitsExceeded,
        message + " No image tool makes such an image: it is damaged or made to harm; do not use it.", target);

    internal static string Bytes(long n) => n >= 1L << 30 ? $"{n / (double)(1L << 30):0.##} GiB" : n >= 1 << 20 ? $"{n / (double)(1 << 20):0.##} MiB" : $"{n} bytes";
}
