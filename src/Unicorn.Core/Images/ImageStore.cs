using System.Formats.Tar;
using System.Text.RegularExpressions;

namespace Unicorn.Images;

/// <summary>The content-addressed image store under data/images: layers/&lt;diff id&gt; (each
/// layer extracted once, shared by every image that has it, used in place as an overlay lower
/// directory), records/&lt;image id&gt;.json, and tmp/ where imports are extracted before a rename
/// puts them in place, so that nothing half-imported is ever seen.</summary>
public sealed partial class ImageStore(UnicornPaths paths)
{
    string LayersDir => Path.Combine(paths.Images, "layers");
    string RecordsDir => Path.Combine(paths.Images, "records");
    string TmpDir => Path.Combine(paths.Images, "tmp");
    public string LayerDir(string diffId) => Path.Combine(LayersDir, Hex(diffId));
    string RecordFile(string id) => Path.Combine(RecordsDir, Hex(id) + ".json");
    IDisposable Lock() => Files.Lock(Path.Combine(paths.Images, "lock"));
    /// <summary>Imports hold it shared for their whole length, removal exclusively while it
    /// deletes layers: so no layer is deleted between its extraction and its image's record.</summary>
    IDisposable GcLock(bool shared) => Files.Lock(Path.Combine(paths.Images, "gc.lock"), shared);

    static string Hex(string digest) => digest.StartsWith("sha256:") ? digest[7..] : digest;

    // ---- reading the store ---------------------------------------------------------------------

    public IEnumerable<Image> List() => Directory.Exists(RecordsDir)
        ? Directory.EnumerateFiles(RecordsDir, "*.json").Select(f => Files.ReadJson(f, Json.Default.Image)).OfType<Image>().OrderBy(i => i.Name)
        : [];

    /// <summary>An image by name (a missing tag means :latest), id, or unique id prefix.</summary>
    public Image? Find(string nameOrId)
    {
        var all = List().ToList();
        var name = WithTag(nameOrId);
        if (all.FirstOrDefault(i => i.Names.Contains(name) || i.Names.Contains(nameOrId)) is { } byName)
            return byName;
        var hex = Hex(nameOrId);
        if (!HexPattern().IsMatch(hex))
            return null;
        var id = IdResolver.Resolve(all.Select(i => Hex(i.Id)), hex, "Image");
        return all.FirstOrDefault(i => Hex(i.Id) == id);
    }

    public Image Get(string nameOrId) => Find(nameOrId) ?? throw new UnicornException("ImageNotFound", ErrorKind.ObjectNotFound,
        $"No image is named '{nameOrId}' or has that id. Get-UnicornImage lists them; Import-UnicornImage brings one in.", nameOrId);

    [GeneratedRegex("^[0-9a-f]{3,64}$")]
    private static partial Regex HexPattern();

    /// <summary>A name with its tag: busybox becomes busybox:latest (a registry port is not a tag).</summary>
    public static string WithTag(string name) =>
        name.Contains('@') || name.LastIndexOf(':') > name.LastIndexOf('/') ? name : name + ":latest";

    /// <summary>The image's layers as overlay lower directories, the top layer first.</summary>
    public IReadOnlyList<string> LowerDirs(Image image)
    {
        // A layer listed twice (the common empty one) is a lower directory once, where it is highest.
        // Checked again here: a record written before imports checked diff ids could name any path.
        var dirs = image.Layers.Select(l => LayerDir(Archive.RequireDigest(l, "A layer", image))).Reverse().Distinct().ToList();
        foreach (var d in dirs.Where(d => !Directory.Exists(d)))
            throw new UnicornException("ImageLayerMissing", ErrorKind.ObjectNotFound,
                $"A layer of {image} is missing from the store ({d}). Remove the image and import it again.", image.Id);
        return dirs;
    }

    // ---- import ---------------------------------------------------------------------------------

    /// <summary>Imports what path holds: a rootfs tarball (tar, tar.gz, tar.zst), a docker-save
    /// archive, or an OCI image layout (a directory, or an archive of one). Returns the images
    /// (an existing one, when the same image is imported again). maxSize bounds the bytes of
    /// file content that the import extracts, across its layers (ImageTooLarge).</summary>
    public List<Image> Import(string path, string? name, Action<string>? log = null, Action<ImportProgress>? progress = null,
        long maxSize = ImageLimits.DefaultMaxSize)
    {
        path = Path.GetFullPath(path);
        return Run(new ImportRun(maxSize), run =>
        {
            if (Directory.Exists(path))
            {
                using var layout = new DirectorySource(path);
                if (!layout.Has("oci-layout") || !layout.Has("index.json"))
                    throw new UnicornException("UnsupportedImageFormat", ErrorKind.InvalidArgument,
                        $"The directory '{path}' is not an OCI image layout (it has no oci-layout and index.json). For a directory that holds a root filesystem, use New-UnicornRootfs -Path.", path);
                return ImportArchive(layout, name, Path.GetFileName(path), run, log, progress);
            }
            if (!File.Exists(path))
                throw new UnicornException("ImageSourceNotFound", ErrorKind.ObjectNotFound, $"'{path}' does not exist. Give a file or an OCI layout directory.", path);

            if (!LooksLikeImageArchive(path))
            {
                log?.Invoke($"Importing {path} as a root filesystem tarball.");
                using var file = File.OpenRead(path);
                return [ImportRootfsTarball(file, name, path, run, progress)];
            }
            using var archive = new TarArchiveSource(path);
            return ImportArchive(archive, name, Path.GetFileNameWithoutExtension(path), run, log, progress);
        });
    }

    /// <summary>One import: what it may still extract, and the layers it put in the store.</summary>
    sealed class ImportRun(long maxSize)
    {
        public ExtractionBudget Budget { get; } = new(maxSize);
        public List<string> Created { get; } = [];
    }

    /// <summary>Runs an import under the shared gc lock. One stopped by a limit takes out the
    /// layers it put in the store (that no image has meanwhile come to use), so that a hostile
    /// image leaves nothing behind; other failures keep verified layers for the next attempt.</summary>
    T Run<T>(ImportRun run, Func<ImportRun, T> import)
    {
        try
        {
            using var _ = GcLock(shared: true);
            return import(run);
        }
        // Not every LimitsExceeded: a registry's 429 is one, and a pull retried later wants its layers.
        catch (UnicornException e) when (e.ErrorId is "ImageTooLarge" or "ImageTooComplex" && run.Created.Count > 0)
        {
            using var gc = GcLock(shared: false); // no import runs now, so none is about to use them
            using var _ = Lock();
            var used = List().SelectMany(i => i.Layers).ToHashSet();
            foreach (var layer in run.Created.Where(l => !used.Contains(l)))
                Files.DeleteTree(LayerDir(layer));
            throw;
        }
    }

    /// <summary>Is the tar (after decompression) an image archive rather than a root filesystem?
    /// Told by its first entries, as image archives begin with their own files.</summary>
    static bool LooksLikeImageArchive(string path)
    {
        try
        {
            RequireTar(path);
            using var stream = Compression.Open(File.OpenRead(path));
            using var reader = new TarReader(stream);
            for (int i = 0; i < 8 && reader.GetNextEntry() is { } e; i++)
            {
                var n = e.Name.TrimStart('.', '/');
                if (n is "manifest.json" or "index.json" or "oci-layout" or "repositories" || n.StartsWith("blobs/")
                    || ArchiveLayerName().IsMatch(n))
                    return true;
                if (n.Length > 0 && e.EntryType is not TarEntryType.GlobalExtendedAttributes)
                    return false;
            }
            return false;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ZstdSharp.ZstdException)
        {
            throw new UnicornException("CorruptArchive", ErrorKind.InvalidArgument,
                $"'{path}' is not a readable tar archive (plain, gzip or zstd): {e.Message}", path);
        }
    }

    /// <summary>Refuses a file that is no tar at all (after gzip or zstd), told by its first
    /// header's checksum, rather than with a tar reader's parse error.</summary>
    static void RequireTar(string path)
    {
        using var stream = Compression.Open(File.OpenRead(path));
        var header = new byte[512];
        if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !IsTarHeader(header))
            throw new UnicornException("UnknownArchiveFormat", ErrorKind.InvalidArgument,
                $"'{path}' is not an archive that Import-UnicornImage knows: it takes a tar (plain, gzip or zstd) of a root filesystem, a docker save archive, or an OCI layout (a directory, or a tar of one); -Reference pulls from a registry.", path);
    }

    /// <summary>A tar header block: its checksum field (octal) is the sum of its bytes, the field
    /// itself counted as spaces (every tar format has it, v7 included).</summary>
    static bool IsTarHeader(ReadOnlySpan<byte> block)
    {
        long sum = 0;
        for (int i = 0; i < 512; i++)
            sum += i is >= 148 and < 156 ? ' ' : block[i];
        var field = System.Text.Encoding.ASCII.GetString(block[148..156]).Trim(' ', '\0');
        return field.Length > 0 && field.All(c => c is >= '0' and <= '7') && Convert.ToInt64(field, 8) == sum;
    }

    [GeneratedRegex("^[0-9a-f]{64}(/|\\.json$|\\.tar$)")]
    private static partial Regex ArchiveLayerName();

    Image ImportRootfsTarball(Stream file, string? name, string path, ImportRun run, Action<ImportProgress>? progress)
    {
        var (diffId, size) = ExtractLayer(() => file, blobDigest: null, diffId: null, 0, 1, run, progress);
        var image = new Image
        {
            Id = diffId,
            Layers = [diffId],
            Names = name is null ? [] : [WithTag(name)],
            Architecture = null,
            Os = "linux",
            Imported = DateTime.UtcNow,
            LayerSizes = [size],
        };
        return Record(image);
    }

    /// <summary>One layer into the store, verified on the way: the blob against its digest (when
    /// known), its uncompressed tar against the diff id. Returns the diff id and the content size
    /// (0 when the store had the layer already).</summary>
    (string DiffId, long Size) ExtractLayer(Func<Stream> open, string? blobDigest, string? diffId, int index, int count, ImportRun run, Action<ImportProgress>? progress)
    {
        if (diffId is not null && Directory.Exists(LayerDir(diffId)))
        {
            progress?.Invoke(new ImportProgress(index + 1, count, 0, diffId, Skipped: true));
            return (diffId, 0);
        }
        Directory.CreateDirectory(TmpDir);
        var tmp = Directory.CreateDirectory(Path.Combine(TmpDir, Ids.Short(Ids.New()))).FullName;
        try
        {
            long size;
            string blob, diff;
            var blobStream = open();
            long? length = null;
            try { length = blobStream.Length; }
            catch (NotSupportedException) { } // a registry's response may not say
            using (var blobHash = new DigestStream(blobStream)
            {
                Progress = progress is null ? null : read => progress(new ImportProgress(index + 1, count, 0, null, Skipped: false, read, length)),
            })
            {
                var tar = Compression.Open(new NonClosing(blobHash), out bool compressed);
                // A plain tar is its own diff: hashed once, not twice.
                using (var diffHash = compressed ? new DigestStream(tar) : null)
                {
                    size = LayerExtractor.Extract(diffHash ?? tar, tmp, run.Budget);
                    diffHash?.Drain();
                    blobHash.Drain();
                    blob = blobHash.Digest();
                    diff = diffHash?.Digest() ?? blob;
                }
                tar.Dispose();
            }
            if (blobDigest is not null && blob != blobDigest)
                throw DigestMismatch($"layer {blobDigest}", blob);
            if (diffId is not null && diff != diffId)
                throw DigestMismatch($"the uncompressed layer {diffId}", diff);
            Directory.CreateDirectory(LayersDir);
            if (Directory.Exists(LayerDir(diff)))
                Files.DeleteTree(tmp); // another import put it there meanwhile
            else
            {
                Directory.Move(tmp, LayerDir(diff));
                run.Created.Add(diff);
            }
            progress?.Invoke(new ImportProgress(index + 1, count, size, diff, Skipped: false));
            return (diff, size);
        }
        catch
        {
            Files.DeleteTree(tmp);
            throw;
        }
    }

    static UnicornException DigestMismatch(string what, string actual) => new("DigestMismatch", ErrorKind.InvalidArgument,
        $"The content of {what} does not match its digest (it hashes to {actual}): the archive is corrupt or was changed. Nothing of it was kept.", what);

    /// <summary>Records an image, or gives the existing one with the same id the new names.
    /// A name moves from any other image to this one, as a tag does in Docker.</summary>
    Image Record(Image image)
    {
        using var _ = Lock();
        Directory.CreateDirectory(RecordsDir);
        var existing = Files.ReadJson(RecordFile(image.Id), Json.Default.Image);
        var result = existing is null ? image : new Image
        {
            Id = existing.Id, Digest = existing.Digest ?? image.Digest, Layers = existing.Layers, Config = existing.Config,
            Architecture = existing.Architecture, Os = existing.Os, Created = existing.Created, Imported = existing.Imported,
            LayerSizes = existing.LayerSizes, Names = existing.Names.Union(image.Names).ToList(),
        };
        foreach (var other in List().Where(i => i.Id != result.Id && i.Names.Intersect(result.Names).Any()))
        {
            other.Names.RemoveAll(result.Names.Contains);
            Files.WriteJson(RecordFile(other.Id), other, Json.Default.Image);
        }
        Files.WriteJson(RecordFile(result.Id), result, Json.Default.Image);
        return result;
    }

    // ---- image archives and layouts -------------------------------------------------------------

    List<Image> ImportArchive(ArchiveSource source, string? name, string fallbackRepository, ImportRun run, Action<string>? log, Action<ImportProgress>? progress)
    {
        // Every plan is made (every manifest and config read, checked and validated) before any layer is extracted.
        var plans = source.Has("manifest.json") ? DockerSave.Plan(source) : OciLayout.Plan(source, Platform.Architecture);
        if (plans.Count == 0)
            throw new UnicornException("PlatformNotFound", ErrorKind.ObjectNotFound,
                $"The archive has no image for linux/{Platform.Architecture}.", source.ToString());
        var images = new List<Image>();
        var known = KnownSizes();
        foreach (var plan in plans)
        {
            log?.Invoke($"Importing {plan.ConfigDigest} ({plan.Layers.Count} layers).");
            var sizes = new long[plan.Layers.Count];
            source.ForEachBlob(plan.Layers.Where(l => !Directory.Exists(LayerDir(l.DiffId))).Select(l => l.Path).ToHashSet(), (path, stream) =>
            {
                foreach (var (layer, i) in plan.Layers.Select((l, i) => (l, i)).Where(x => x.l.Path == path))
                    sizes[i] = ExtractLayer(() => new NonClosing(stream), layer.BlobDigest, layer.DiffId, i, plan.Layers.Count, run, progress).Size;
            });
            foreach (var l in plan.Layers.Where(l => !Directory.Exists(LayerDir(l.DiffId))))
                throw new UnicornException("CorruptArchive", ErrorKind.InvalidArgument, $"The archive lacks the layer {l.Path} that its manifest lists.", l.Path);
            List<string> names = name is not null ? [WithTag(name)] : [.. plan.Names, .. plan.Tags.Select(t => $"{fallbackRepository}:{t}")];
            var image = Record(plan.ToImage(names, FillKnownSizes(plan.Layers.Select(l => l.DiffId), [.. sizes], known)));
            foreach (var (layer, size) in image.Layers.Zip(image.LayerSizes))
                known.TryAdd(layer, size);
            images.Add(image);
        }
        return images;
    }

    /// <summary>The content size of each layer, as recorded with the images that have it.</summary>
    Dictionary<string, long> KnownSizes() =>
        List().SelectMany(i => i.Layers.Zip(i.LayerSizes)).GroupBy(x => x.First).ToDictionary(g => g.Key, g => g.First().Second);

    /// <summary>A layer the store had already was not extracted (size 0): its size as recorded
    /// with an image that has it.</summary>
    static List<long> FillKnownSizes(IEnumerable<string> diffIds, List<long> sizes, Dictionary<string, long> known)
    {
        foreach (var (diffId, i) in diffIds.Select((d, i) => (d, i)))
            if (sizes[i] == 0 && known.TryGetValue(diffId, out var size))
                sizes[i] = size;
        return sizes;
    }

    // ---- registries -------------------------------------------------------------------------------

    /// <summary>Pulls an image from an OCI distribution registry into the store: the manifest for
    /// this platform, its config and each layer the store lacks, all verified as they arrive.</summary>
    public Image Pull(string reference, string? name, System.Net.NetworkCredential? credential, bool skipTlsVerify,
        Action<string>? log = null, Action<ImportProgress>? progress = null, long maxSize = ImageLimits.DefaultMaxSize)
    {
        var r = ImageReference.Parse(reference);
        return Run(new ImportRun(maxSize), run =>
        {
            using var client = new RegistryClient(r, credential, skipTlsVerify);
            log?.Invoke($"Resolving {r} for linux/{Platform.Architecture}.");
            var (bytes, _, manifestDigest) = client.GetManifestAsync(Platform.Architecture).GetAwaiter().GetResult();
            var manifest = Archive.ParseJson(bytes, $"the manifest {manifestDigest}", r);
            if (manifest.Prop("config").Text("digest") is not { } configReference)
                throw new UnicornException("UnsupportedMediaType", ErrorKind.InvalidArgument, $"The manifest of {r} has no config: not an image manifest.", r.ToString());
            var configDigest = Archive.RequireDigest(configReference, "The config of the manifest", r);
            var layers = manifest.Items("layers").ToList();
            if (layers.Count > ImageLimits.MaxLayers)
                throw ImageLimits.TooComplex($"The image {r} has {layers.Count} layers, more than the {ImageLimits.MaxLayers} that overlayfs can stack.", r.ToString());
            OciLayout.CheckLayerTypes(layers);
            var blobs = layers.Select(l => Archive.RequireDigest(l.Text("digest"), "A layer of the manifest", r)).ToList();
            byte[] configBytes;
            using (var blob = client.GetBlobAsync(configDigest).GetAwaiter().GetResult())
                configBytes = Archive.ReadCapped(blob, $"the config {configDigest}", r);
            var (config, settings, diffIds) = ImagePlan.ReadConfig(configBytes, configDigest, $"the config {configDigest}", r);
            var plan = new ImagePlan
            {
                ConfigDigest = configDigest,
                Config = config,
                Settings = settings,
                ManifestDigest = manifestDigest,
                Layers = ImagePlan.Pair(blobs.Select(b => (b, (string?)b)).ToList(), diffIds, r.ToString()),
            };
            var sizes = plan.Layers.Select((l, i) =>
            {
                log?.Invoke($"Layer {i + 1} of {plan.Layers.Count}: {l.BlobDigest}.");
                try { return ExtractLayer(() => client.GetBlobAsync(l.BlobDigest!).GetAwaiter().GetResult(), l.BlobDigest, l.DiffId, i, plan.Layers.Count, run, progress).Size; }
                catch (Exception e) when (e is IOException or HttpRequestException)
                {
                    throw new UnicornException("RegistryRequestFailed", ErrorKind.ResourceUnavailable,
                        $"The download of layer {l.BlobDigest} from {r} broke off: {e.Message}. Nothing of it was kept; import again.", reference, e);
                }
            }).ToList();
            return Record(plan.ToImage([name ?? (r.Digest is null ? reference : r.ToString())], FillKnownSizes(plan.Layers.Select(l => l.DiffId), sizes, KnownSizes())));
        });
    }

    // ---- removal ---------------------------------------------------------------------------------

    /// <summary>Removes an image's record, then every layer no image and no rootfs uses any more.</summary>
    public void Remove(Image image, IEnumerable<string> lowerDirsInUse, Action<string>? log = null)
    {
        using var gc = GcLock(shared: false);
        using var _ = Lock();
        Files.DeleteTree(TmpDir); // what a crashed import left; no import runs now
        File.Delete(RecordFile(image.Id));
        var used = List().SelectMany(i => i.Layers).Select(LayerDir)
            .Concat(lowerDirsInUse.SelectMany(l => l.Split(':'))).ToHashSet();
        if (!Directory.Exists(LayersDir))
            return;
        foreach (var dir in Directory.EnumerateDirectories(LayersDir).Where(d => !used.Contains(d)))
        {
            log?.Invoke($"Removing layer {Path.GetFileName(dir)[..12]}.");
            Files.DeleteTree(dir);
        }
    }
}

/// <summary>A stream whose disposal leaves the one below open (a tar entry's data is the
/// reader's, not ours to close).</summary>
sealed class NonClosing(Stream inner) : ReadOnlyStream
{
    public override long Length => inner.Length;
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    public override int Read(Span<byte> buffer) => inner.Read(buffer);
}
