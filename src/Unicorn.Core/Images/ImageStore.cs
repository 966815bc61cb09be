using System.Formats.Tar;
using System.Text.Json;
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
        var dirs = image.Layers.Select(LayerDir).Reverse().Distinct().ToList();
        foreach (var d in dirs.Where(d => !Directory.Exists(d)))
            throw new UnicornException("ImageLayerMissing", ErrorKind.ObjectNotFound,
                $"A layer of {image} is missing from the store ({d}). Remove the image and import it again.", image.Id);
        return dirs;
    }

    // ---- import ---------------------------------------------------------------------------------

    /// <summary>Imports what path holds: a rootfs tarball (tar, tar.gz, tar.zst), a docker-save
    /// archive, or an OCI image layout (a directory, or an archive of one). Returns the images
    /// (an existing one, when the same image is imported again).</summary>
    public List<Image> Import(string path, string? name, Action<string>? log = null, Action<ImportProgress>? progress = null)
    {
        path = Path.GetFullPath(path);
        using var _ = GcLock(shared: true);
        if (Directory.Exists(path))
        {
            if (!File.Exists(Path.Combine(path, "oci-layout")) || !File.Exists(Path.Combine(path, "index.json")))
                throw new UnicornException("UnsupportedImageFormat", ErrorKind.InvalidArgument,
                    $"The directory '{path}' is not an OCI image layout (it has no oci-layout and index.json). For a directory that holds a root filesystem, use New-UnicornRootfs -Path.", path);
            return ImportArchive(new DirectorySource(path), name, Path.GetFileName(path), log, progress);
        }
        if (!File.Exists(path))
            throw new UnicornException("ImageSourceNotFound", ErrorKind.ObjectNotFound, $"'{path}' does not exist. Give a file or an OCI layout directory.", path);

        if (!LooksLikeImageArchive(path))
        {
            log?.Invoke($"Importing {path} as a root filesystem tarball.");
            using var file = File.OpenRead(path);
            return [ImportRootfsTarball(file, name, path, progress)];
        }
        using var archive = new TarArchiveSource(path);
        return ImportArchive(archive, name, Path.GetFileNameWithoutExtension(path), log, progress);
    }

    /// <summary>Is the tar (after decompression) an image archive rather than a root filesystem?
    /// Told by its first entries, as image archives begin with their own files.</summary>
    static bool LooksLikeImageArchive(string path)
    {
        try
        {
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

    [GeneratedRegex("^[0-9a-f]{64}(/|\\.json$|\\.tar$)")]
    private static partial Regex ArchiveLayerName();

    Image ImportRootfsTarball(Stream file, string? name, string path, Action<ImportProgress>? progress)
    {
        var (diffId, size) = ExtractLayer(() => file, blobDigest: null, diffId: null, 0, 1, progress);
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
    (string DiffId, long Size) ExtractLayer(Func<Stream> open, string? blobDigest, string? diffId, int index, int count, Action<ImportProgress>? progress)
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
            using (var blobHash = new DigestStream(open()))
            {
                var tar = Compression.Open(new NonClosing(blobHash), out bool compressed);
                // A plain tar is its own diff: hashed once, not twice.
                using (var diffHash = compressed ? new DigestStream(tar) : null)
                {
                    size = LayerExtractor.Extract(diffHash ?? tar, tmp);
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
                Directory.Move(tmp, LayerDir(diff));
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

    List<Image> ImportArchive(IArchiveSource source, string? name, string fallbackRepository, Action<string>? log, Action<ImportProgress>? progress)
    {
        var plans = source.Has("manifest.json") ? DockerSave.Plan(source) : OciLayout.Plan(source, Platform.Architecture);
        if (plans.Count == 0)
            throw new UnicornException("PlatformNotFound", ErrorKind.ObjectNotFound,
                $"The archive has no image for linux/{Platform.Architecture}.", source.ToString());
        var images = new List<Image>();
        foreach (var plan in plans)
        {
            log?.Invoke($"Importing {plan.ConfigDigest} ({plan.Layers.Count} layers).");
            var sizes = new long[plan.Layers.Count];
            source.ForEachBlob(plan.Layers.Where(l => !Directory.Exists(LayerDir(l.DiffId))).Select(l => l.Path).ToHashSet(), (path, stream) =>
            {
                foreach (var (layer, i) in plan.Layers.Select((l, i) => (l, i)).Where(x => x.l.Path == path))
                    sizes[i] = ExtractLayer(() => new NonClosing(stream), layer.BlobDigest, layer.DiffId, i, plan.Layers.Count, progress).Size;
            });
            foreach (var l in plan.Layers.Where(l => !Directory.Exists(LayerDir(l.DiffId))))
                throw new UnicornException("CorruptArchive", ErrorKind.InvalidArgument, $"The archive lacks the layer {l.Path} that its manifest lists.", l.Path);
            var names = name is not null ? [WithTag(name)] : plan.Names.Count > 0 ? plan.Names
                : plan.Tag is { } tag ? [$"{fallbackRepository}:{tag}"] : new List<string>();
            images.Add(Record(plan.ToImage(names, FillKnownSizes(plan, [.. sizes]))));
        }
        return images;
    }

    /// <summary>A layer the store had already was not extracted (size 0): its size as recorded
    /// with an image that has it.</summary>
    List<long> FillKnownSizes(ImagePlan plan, List<long> sizes)
    {
        var known = List().SelectMany(i => i.Layers.Zip(i.LayerSizes)).GroupBy(x => x.First).ToDictionary(g => g.Key, g => g.First().Second);
        for (int i = 0; i < sizes.Count; i++)
            if (sizes[i] == 0 && known.TryGetValue(plan.Layers[i].DiffId, out var size))
                sizes[i] = size;
        return sizes;
    }

    // ---- registries -------------------------------------------------------------------------------

    /// <summary>Pulls an image from an OCI distribution registry into the store: the manifest for
    /// this platform, its config and each layer the store lacks, all verified as they arrive.</summary>
    public Image Pull(string reference, string? name, System.Net.NetworkCredential? credential, bool skipTlsVerify,
        Action<string>? log = null, Action<ImportProgress>? progress = null)
    {
        var r = ImageReference.Parse(reference);
        using var gc = GcLock(shared: true);
        using var client = new RegistryClient(r, credential, skipTlsVerify);
        log?.Invoke($"Resolving {r} for linux/{Platform.Architecture}.");
        var (bytes, _, manifestDigest) = client.GetManifestAsync(Platform.Architecture).GetAwaiter().GetResult();
        var manifest = JsonDocument.Parse(bytes).RootElement;
        var configDigest = manifest.TryGetProperty("config", out var c) ? c.Text("digest") : null;
        if (configDigest is null)
            throw new UnicornException("UnsupportedMediaType", ErrorKind.InvalidArgument, $"The manifest of {r} has no config: not an image manifest.", reference);
        byte[] configBytes;
        using (var blob = client.GetBlobAsync(configDigest).GetAwaiter().GetResult())
        using (var buffer = new MemoryStream())
        {
            blob.CopyTo(buffer);
            configBytes = buffer.ToArray();
        }
        if (Archive.Sha256(configBytes) != configDigest)
            throw DigestMismatch($"the config {configDigest}", Archive.Sha256(configBytes));
        var config = JsonDocument.Parse(configBytes).RootElement;
        var diffIds = config.TryGetProperty("rootfs", out var rootfs) ? rootfs.Items("diff_ids").Select(d => d.GetString()!).ToList() : [];
        var layers = manifest.Items("layers").ToList();
        OciLayout.CheckLayerTypes(layers);
        if (layers.Count != diffIds.Count)
            throw new UnicornException("CorruptArchive", ErrorKind.InvalidArgument, $"{r} lists {layers.Count} layers but its config {diffIds.Count} diff ids.", reference);
        var plan = new ImagePlan
        {
            ConfigDigest = configDigest,
            Config = config,
            ManifestDigest = manifestDigest,
            Layers = layers.Zip(diffIds, (l, d) => new LayerPlan(l.Text("digest")!, l.Text("digest"), d)).ToList(),
        };
        var sizes = plan.Layers.Select((l, i) =>
        {
            log?.Invoke($"Layer {i + 1} of {plan.Layers.Count}: {l.BlobDigest}.");
            try { return ExtractLayer(() => client.GetBlobAsync(l.BlobDigest!).GetAwaiter().GetResult(), l.BlobDigest, l.DiffId, i, plan.Layers.Count, progress).Size; }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                throw new UnicornException("RegistryRequestFailed", ErrorKind.ResourceUnavailable,
                    $"The download of layer {l.BlobDigest} from {r} broke off: {e.Message}. Nothing of it was kept; import again.", reference, e);
            }
        }).ToList();
        return Record(plan.ToImage([name ?? (r.Digest is null ? reference : r.ToString())], FillKnownSizes(plan, sizes)));
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

/// <summary>Progress of an import: which layer of how many, and its content bytes.</summary>
public sealed record ImportProgress(int Layer, int Layers, long Bytes, string DiffId, bool Skipped);

/// <summary>A stream whose disposal leaves the one below open (a tar entry's data is the
/// reader's, not ours to close).</summary>
sealed class NonClosing(Stream inner) : ReadOnlyStream
{
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    public override int Read(Span<byte> buffer) => inner.Read(buffer);
}

/// <summary>This machine's architecture as OCI names it.</summary>
public static class Platform
{
    public static string Architecture => System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        System.Runtime.InteropServices.Architecture.S390x => "s390x",
        System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64le",
        System.Runtime.InteropServices.Architecture.RiscV64 => "riscv64",
        var a => a.ToString().ToLowerInvariant(),
    };
}
