using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;

namespace Unicorn.Images;

/// <summary>Where an image archive's files come from: a directory (an OCI layout) or a tar
/// (docker save, or an OCI layout archived), read in one pass for its small JSON files and in
/// one more for the layers the store lacks.</summary>
interface IArchiveSource : IDisposable
{
    bool Has(string path);
    /// <summary>A small file (JSON), whole; a missing one is a corrupt archive.</summary>
    byte[] Read(string path);
    /// <summary>Calls use with each of the files named, as a stream, in the source's order.</summary>
    void ForEachBlob(ISet<string> paths, Action<string, Stream> use);
}

sealed class DirectorySource(string root) : IArchiveSource
{
    string Full(string path) => Path.Combine(root, path);
    public bool Has(string path) => File.Exists(Full(path));
    public byte[] Read(string path) => Has(path) ? File.ReadAllBytes(Full(path)) : throw Archive.Missing(path, root);

    public void ForEachBlob(ISet<string> paths, Action<string, Stream> use)
    {
        foreach (var p in paths)
        {
            if (!Has(p))
                throw Archive.Missing(p, root);
            using var s = new FileStream(Full(p), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            use(p, s);
        }
    }

    public void Dispose() { }
    public override string ToString() => root;
}

sealed class TarArchiveSource : IArchiveSource
{
    const long SmallFile = 4 << 20; // manifests and configs; layers are streamed instead
    readonly string _path;
    readonly Dictionary<string, byte[]> _small = [];
    readonly HashSet<string> _names = [];
    readonly Dictionary<string, string> _links = []; // docker save may link <id>/layer.tar to ../<digest>.tar

    public TarArchiveSource(string path)
    {
        _path = path;
        Archive.Read(path, () =>
        {
            using var reader = new TarReader(Compression.Open(File.OpenRead(path)));
            while (reader.GetNextEntry() is { } e)
            {
                if (e.EntryType is TarEntryType.SymbolicLink)
                    _links[Archive.Clean(e.Name)] = Archive.Clean(Path.GetRelativePath("/", Path.GetFullPath(e.LinkName, "/" + Path.GetDirectoryName(Archive.Clean(e.Name)))));
                if (e.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                    continue;
                var name = Archive.Clean(e.Name);
                _names.Add(name);
                if (e.Length <= SmallFile && e.DataStream is { } data && (name.EndsWith(".json") || name.StartsWith("blobs/") || name == "oci-layout"))
                {
                    var bytes = new byte[e.Length];
                    data.ReadExactly(bytes);
                    _small[name] = bytes;
                }
            }
        });
    }

    string Resolve(string path) => _links.TryGetValue(path, out var target) ? target : path;
    public bool Has(string path) => _names.Contains(Resolve(path));
    public byte[] Read(string path) => _small.TryGetValue(Resolve(path), out var b) ? b : throw Archive.Missing(path, _path);

    public void ForEachBlob(ISet<string> paths, Action<string, Stream> use)
    {
        var asked = paths.GroupBy(Resolve).ToDictionary(g => g.Key, g => g.First());
        var left = new HashSet<string>(asked.Keys);
        foreach (var p in left.Where(_small.ContainsKey).ToList())
        {
            use(asked[p], new MemoryStream(_small[p], writable: false));
            left.Remove(p);
        }
        if (left.Count == 0)
            return;
        Archive.Read(_path, () =>
        {
            using var reader = new TarReader(Compression.Open(File.OpenRead(_path)));
            while (left.Count > 0 && reader.GetNextEntry() is { } e)
                if (left.Remove(Archive.Clean(e.Name)) && e.DataStream is { } data)
                    use(asked[Archive.Clean(e.Name)], data);
        });
        if (left.Count > 0)
            throw Archive.Missing(left.First(), _path);
    }

    public void Dispose() { }
    public override string ToString() => _path;
}

static class Archive
{
    public static string Clean(string name) => name.StartsWith("./") ? name[2..] : name.TrimStart('/');

    public static UnicornException Missing(string path, string archive) => new("CorruptArchive", ErrorKind.InvalidArgument,
        $"'{archive}' lacks '{path}', which its manifest names: the archive is incomplete.", archive);

    /// <summary>Runs a read of the archive, its format errors made clear ones.</summary>
    public static void Read(string path, Action read)
    {
        try { read(); }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ZstdSharp.ZstdException)
        {
            throw new UnicornException("CorruptArchive", ErrorKind.InvalidArgument, $"'{path}' is truncated or corrupt: {e.Message}", path);
        }
    }

    public static JsonElement Json(IArchiveSource source, string path)
    {
        try { return JsonDocument.Parse(source.Read(path)).RootElement; }
        catch (JsonException e)
        {
            throw new UnicornException("CorruptArchive", ErrorKind.InvalidArgument, $"'{path}' in '{source}' is not valid JSON: {e.Message}", path);
        }
    }

    public static string? Text(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static IEnumerable<JsonElement> Items(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : [];

    public static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
}

/// <summary>A layer to import: where its blob is in the archive, what it must hash to.</summary>
sealed record LayerPlan(string Path, string? BlobDigest, string DiffId);

/// <summary>An image found in an archive, before its layers are in the store.</summary>
sealed class ImagePlan
{
    public required string ConfigDigest { get; init; }
    public required JsonElement Config { get; init; }
    public required List<LayerPlan> Layers { get; init; }
    public List<string> Names { get; init; } = [];
    /// <summary>A bare tag from an OCI layout's ref.name, for a name made with the layout's own.</summary>
    public string? Tag { get; init; }
    public string? ManifestDigest { get; init; }

    /// <summary>Reads a config blob: verified against its digest, its diff ids paired with the layers.</summary>
    public static (JsonElement Config, List<string> DiffIds) ReadConfig(IArchiveSource source, string path, string digest)
    {
        var bytes = source.Read(path);
        if (Archive.Sha256(bytes) != digest)
            throw new UnicornException("DigestMismatch", ErrorKind.InvalidArgument,
                $"The image config {path} does not match its digest {digest}: the archive is corrupt or was changed.", path);
        var config = JsonDocument.Parse(bytes).RootElement;
        var diffIds = config.TryGetProperty("rootfs", out var rootfs) ? rootfs.Items("diff_ids").Select(d => d.GetString()!).ToList() : [];
        return (config, diffIds);
    }

    public Image ToImage(List<string> names, List<long> sizes)
    {
        var c = Config.TryGetProperty("config", out var cc) ? cc : default;
        string[]? list(string n) => c.ValueKind == JsonValueKind.Object && c.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.Array
            ? v.EnumerateArray().Select(x => x.GetString() ?? "").ToArray() : null;
        return new Image
        {
            Id = ConfigDigest,
            Names = names.Select(ImageStore.WithTag).ToList(),
            Digest = ManifestDigest,
            Layers = Layers.Select(l => l.DiffId).ToList(),
            LayerSizes = sizes,
            Architecture = Config.Text("architecture"),
            Os = Config.Text("os"),
            Created = DateTime.TryParse(Config.Text("created"), null, System.Globalization.DateTimeStyles.AdjustToUniversal, out var t) ? t : null,
            Imported = DateTime.UtcNow,
            Config = new ImageConfig
            {
                Entrypoint = list("Entrypoint"),
                Cmd = list("Cmd"),
                Env = list("Env") ?? [],
                WorkingDir = c.Text("WorkingDir") is { Length: > 0 } w ? w : null,
                User = c.Text("User") is { Length: > 0 } u ? u : null,
                ExposedPorts = c.ValueKind == JsonValueKind.Object && c.TryGetProperty("ExposedPorts", out var p) && p.ValueKind == JsonValueKind.Object
                    ? p.EnumerateObject().Select(x => x.Name).ToArray() : [],
            },
        };
    }
}

/// <summary>`docker save`: manifest.json lists each image's config and layer tars (its
/// RepoTags name it); the config's diff ids verify the layers.</summary>
static class DockerSave
{
    public static List<ImagePlan> Plan(IArchiveSource source)
    {
        var plans = new List<ImagePlan>();
        foreach (var entry in Archive.Json(source, "manifest.json").EnumerateArray())
        {
            var configPath = entry.Text("Config") ?? throw Archive.Missing("Config", source.ToString()!);
            var digest = "sha256:" + System.IO.Path.GetFileNameWithoutExtension(configPath.Split('/').Last());
            var (config, diffIds) = ImagePlan.ReadConfig(source, configPath, digest);
            var layers = entry.Items("Layers").Select(l => l.GetString()!).ToList();
            if (layers.Count != diffIds.Count)
                throw new UnicornException("CorruptArchive", ErrorKind.InvalidArgument,
                    $"The image {digest} lists {layers.Count} layers but its config {diffIds.Count} diff ids.", digest);
            plans.Add(new ImagePlan
            {
                ConfigDigest = digest,
                Config = config,
                Layers = layers.Zip(diffIds, (p, d) => new LayerPlan(p, null, d)).ToList(),
                Names = entry.Items("RepoTags").Select(t => t.GetString()!).ToList(),
            });
        }
        return plans;
    }
}

/// <summary>An OCI image layout: index.json, then (nested) indexes and manifests by digest under
/// blobs/; a multi-platform index is resolved to linux/&lt;this architecture&gt;.</summary>
static class OciLayout
{
    const string Index = "application/vnd.oci.image.index.v1+json", DockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
    static readonly HashSet<string> LayerTypes =
    [
        "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.docker.image.rootfs.diff.tar",
    ];

    static string BlobPath(string digest) => "blobs/" + digest.Replace(':', '/');

    /// <summary>Only tar layers (plain, gzip, zstd): not foreign or encrypted ones.</summary>
    public static void CheckLayerTypes(IEnumerable<JsonElement> layers)
    {
        foreach (var l in layers.Where(l => !LayerTypes.Contains(l.Text("mediaType") ?? "")))
            throw new UnicornException("UnsupportedMediaType", ErrorKind.InvalidArgument,
                $"The layer {l.Text("digest")} has the media type '{l.Text("mediaType")}', which Unicorn cannot import (it takes tar layers, plain, gzip or zstd).", l.Text("mediaType"));
    }

    public static List<ImagePlan> Plan(IArchiveSource source, string architecture)
    {
        if (!source.Has("oci-layout") || !source.Has("index.json"))
            throw new UnicornException("UnsupportedImageFormat", ErrorKind.InvalidArgument,
                $"'{source}' is neither a docker-save archive (manifest.json) nor an OCI image layout (oci-layout, index.json).", source.ToString());
        var plans = new List<ImagePlan>();
        Walk(source, Archive.Json(source, "index.json"), architecture, null, plans);
        return plans;
    }

    static void Walk(IArchiveSource source, JsonElement index, string architecture, string? tag, List<ImagePlan> plans)
    {
        foreach (var d in index.Items("manifests"))
        {
            var digest = d.Text("digest")!;
            var type = d.Text("mediaType");
            var refName = d.TryGetProperty("annotations", out var a) ? a.Text("org.opencontainers.image.ref.name") : null;
            if (d.TryGetProperty("platform", out var platform)
                && (platform.Text("os") != "linux" || platform.Text("architecture") != architecture))
                continue;
            var bytes = source.Read(BlobPath(digest));
            if (Archive.Sha256(bytes) != digest)
                throw new UnicornException("DigestMismatch", ErrorKind.InvalidArgument, $"The manifest {digest} does not match its digest.", digest);
            var doc = JsonDocument.Parse(bytes).RootElement;
            if (type is Index or DockerList || doc.Text("mediaType") is Index or DockerList)
            {
                Walk(source, doc, architecture, refName ?? tag, plans);
                continue;
            }
            var configDigest = doc.TryGetProperty("config", out var c) ? c.Text("digest") : null;
            if (configDigest is null)
                throw new UnicornException("UnsupportedMediaType", ErrorKind.InvalidArgument, $"The manifest {digest} has no config: not an image manifest.", digest);
            var (config, diffIds) = ImagePlan.ReadConfig(source, BlobPath(configDigest), configDigest);
            if (config.Text("architecture") is { } arch && arch != architecture)
                continue;
            var layers = doc.Items("layers").ToList();
            CheckLayerTypes(layers);
            if (layers.Count != diffIds.Count)
                throw new UnicornException("CorruptArchive", ErrorKind.InvalidArgument, $"The image {configDigest} lists {layers.Count} layers but its config {diffIds.Count} diff ids.", configDigest);
            var name = refName ?? tag;
            plans.Add(new ImagePlan
            {
                ConfigDigest = configDigest,
                Config = config,
                ManifestDigest = digest,
                Layers = layers.Zip(diffIds, (l, diff) => new LayerPlan(BlobPath(l.Text("digest")!), l.Text("digest"), diff)).ToList(),
                Names = name is not null && (name.Contains(':') || name.Contains('/')) ? [name] : [],
                Tag = name is not null && !name.Contains(':') && !name.Contains('/') ? name : null,
            });
        }
    }
}
