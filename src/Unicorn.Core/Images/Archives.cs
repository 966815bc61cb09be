using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Win32.SafeHandles;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Images;

/// <summary>Where an image archive's files come from: a directory (an OCI layout) or a tar
/// (docker save, or an OCI layout archived), read in one pass for its small JSON files and in
/// one more for the layers the store lacks. Every name in it is the image author's: a source
/// reads only regular files inside itself, and at most ImageLimits.MaxJsonBytes of each JSON
/// document (MaxJsonTotal in all).</summary>
abstract class ArchiveSource : IDisposable
{
    long _jsonBytes;

    public abstract bool Has(string path);

    /// <summary>A small file (JSON), whole; a missing one is a corrupt archive, a larger one
    /// than a JSON document may be too.</summary>
    public byte[] Read(string path)
    {
        var bytes = ReadSmall(path);
        if ((_jsonBytes += bytes.Length) > ImageLimits.MaxJsonTotal)
            throw ImageLimits.TooComplex($"'{this}' has more than {ImageLimits.Bytes(ImageLimits.MaxJsonTotal)} of manifests, indexes and configs to read.", ToString());
        return bytes;
    }

    /// <summary>The file at path, at most ImageLimits.MaxJsonBytes of it (Archive.ReadCapped).</summary>
    protected abstract byte[] ReadSmall(string path);

    /// <summary>Calls use with each of the files named, as a stream, in the source's order.</summary>
    public abstract void ForEachBlob(ISet<string> paths, Action<string, Stream> use);

    public virtual void Dispose() { }
}

/// <summary>An OCI layout directory, read through a descriptor of it: each file is reached one
/// component at a time below it, through no symbolic link, and opened only once fstat has
/// shown it a regular file (so that neither a fifo nor a device is ever opened).</summary>
sealed class DirectorySource : ArchiveSource
{
    readonly string _root;
    readonly int _fd;

    public DirectorySource(string root)
    {
        _root = root;
        _fd = Libc.Open(root, L.O_PATH | L.O_DIRECTORY);
    }

    public override bool Has(string path)
    {
        int err = Libc.TryOpenBeneath(_fd, path, out int fd);
        if (err == 0)
            Libc.Close(fd);
        return err != Errno.ENOENT;
    }

    protected override byte[] ReadSmall(string path)
    {
        using var stream = new FileStream(Open(path), FileAccess.Read, 1);
        return Archive.ReadCapped(stream, path, _root);
    }

    public override void ForEachBlob(ISet<string> paths, Action<string, Stream> use)
    {
        foreach (var p in paths)
        {
            using var s = new FileStream(Open(p), FileAccess.Read, 1 << 16);
            use(p, s);
        }
    }

    /// <summary>The regular file at path, open for reading.</summary>
    SafeFileHandle Open(string path)
    {
        int err = Libc.TryOpenBeneath(_fd, path, out int pathFd);
        if (err == Errno.ENOENT)
            throw Archive.Missing(path, _root);
        if (err != 0)
            throw Archive.Unsafe(path, $"'{path}' in the layout '{_root}' cannot be reached as a plain file inside it: {Libc.StrError(err)} (a symbolic link, or a file where a directory should be).");
        try
        {
            var type = Libc.Fstat(pathFd, path).Type;
            if (type != (uint)L.S_IFREG)
                throw Archive.Unsafe(path, $"'{path}' in the layout '{_root}' is {TypeName(type)}, not a regular file.");
            // Through the descriptor: the very file fstat saw, whatever is renamed meanwhile.
            return new SafeFileHandle(Libc.Open($"/proc/self/fd/{pathFd}", L.O_RDONLY | L.O_NOCTTY), ownsHandle: true);
        }
        finally
        {
            Libc.Close(pathFd);
        }
    }

    static string TypeName(uint type) =>
        type == (uint)L.S_IFLNK ? "a symbolic link" : type == (uint)L.S_IFIFO ? "a fifo" : type == (uint)L.S_IFDIR ? "a directory"
        : type == (uint)L.S_IFCHR || type == (uint)L.S_IFBLK ? "a device" : type == (uint)L.S_IFSOCK ? "a socket" : "not a regular file";

    public override void Dispose() => Libc.Close(_fd);
    public override string ToString() => _root;
}

/// <summary>An image archive in a tar (plain, gzip or zstd). Its names are looked up in the
/// archive, never on the host. At most ImageLimits.MaxArchiveEntries entries; its small files
/// are kept in memory after the first pass up to ImageLimits.MaxArchiveCache, and any other
/// is read by a further pass.</summary>
sealed class TarArchiveSource : ArchiveSource
{
    readonly string _path;
    readonly Dictionary<string, byte[]> _small = [];
    readonly Dictionary<string, long> _sizes = []; // the regular files, by name
    readonly Dictionary<string, string> _links = []; // docker save may link <id>/layer.tar to ../<digest>.tar

    public TarArchiveSource(string path)
    {
        _path = path;
        long cached = 0;
        int entries = 0;
        Archive.Read(path, () =>
        {
            using var reader = new TarReader(Compression.Open(File.OpenRead(path)));
            while (reader.GetNextEntry() is { } e)
            {
                if (++entries > ImageLimits.MaxArchiveEntries)
                    throw ImageLimits.TooComplex($"'{path}' holds more than {ImageLimits.MaxArchiveEntries} entries, more than an image archive has.", path);
                if (e.EntryType is TarEntryType.SymbolicLink)
                    _links[Archive.Clean(e.Name)] = Archive.Clean(Path.GetRelativePath("/", Path.GetFullPath(e.LinkName, "/" + Path.GetDirectoryName(Archive.Clean(e.Name)))));
                if (e.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                    continue;
                var name = Archive.Clean(e.Name);
                _sizes[name] = e.Length;
                if (e.Length <= ImageLimits.MaxJsonBytes && cached + e.Length <= ImageLimits.MaxArchiveCache && e.DataStream is { } data
                    && (name.EndsWith(".json") || name.StartsWith("blobs/") || name == "oci-layout"))
                {
                    var bytes = new byte[e.Length];
                    data.ReadExactly(bytes);
                    _small[name] = bytes;
                    cached += bytes.Length;
                }
            }
        });
    }

    string Resolve(string path) => _links.TryGetValue(path, out var target) ? target : path;
    public override bool Has(string path) => _sizes.ContainsKey(Resolve(path));

    protected override byte[] ReadSmall(string path)
    {
        if (_small.TryGetValue(Resolve(path), out var b))
            return b;
        if (!Has(path))
            throw Archive.Missing(path, _path);
        byte[]? read = null;
        ForEachBlob(new HashSet<string> { path }, (_, s) => read = Archive.ReadCapped(s, path, _path));
        return read!;
    }

    public override void ForEachBlob(ISet<string> paths, Action<string, Stream> use)
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
                if (e.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && left.Remove(Archive.Clean(e.Name)) && e.DataStream is { } data)
                    use(asked[Archive.Clean(e.Name)], data);
        });
        if (left.Count > 0)
            throw Archive.Missing(left.First(), _path);
    }

    public override string ToString() => _path;
}

static partial class Archive
{
    public static string Clean(string name) => name.StartsWith("./") ? name[2..] : name.TrimStart('/');

    public static UnicornException Missing(string path, string archive) => new("CorruptArchive", ErrorKind.InvalidArgument,
        $"'{archive}' lacks '{path}', which its manifest names: the archive is incomplete.", archive);

    public static UnicornException Corrupt(string message, object? target) => new("CorruptArchive", ErrorKind.InvalidArgument,
        message + " Get the archive again, or make it again.", target);

    public static UnicornException Unsafe(string path, string message) => new("UnsafeArchive", ErrorKind.InvalidArgument,
        message + " An image's files must be plain files inside it, named as its tools name them: do not use it.", path);

    /// <summary>Runs a read of the archive, its format errors made clear ones.</summary>
    public static void Read(string path, Action read)
    {
        try { read(); }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ZstdSharp.ZstdException)
        {
            throw new UnicornException("CorruptArchive", ErrorKind.InvalidArgument, $"'{path}' is truncated or corrupt: {e.Message}", path);
        }
    }

    /// <summary>A JSON document from a stream: at most ImageLimits.MaxJsonBytes, read before
    /// anything parses it.</summary>
    public static byte[] ReadCapped(Stream stream, string file, object? where)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        for (int n; (n = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, ImageLimits.MaxJsonBytes + 1 - buffer.Length))) > 0;)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > ImageLimits.MaxJsonBytes)
                throw Corrupt($"'{file}' in '{where}' is larger than {ImageLimits.Bytes(ImageLimits.MaxJsonBytes)}, more than any manifest, index or config.", file);
        }
        return buffer.ToArray();
    }

    /// <summary>The one JSON reader of an import: the document at path, checked against its
    /// digest when it has one (a blob), parsed; malformed JSON is CorruptArchive naming it.</summary>
    public static JsonElement Json(ArchiveSource source, string path, string? digest = null)
    {
        var bytes = source.Read(path);
        if (digest is not null && Sha256(bytes) != digest)
            throw new UnicornException("DigestMismatch", ErrorKind.InvalidArgument,
                $"'{path}' in '{source}' does not match its digest {digest}: the archive is corrupt or was changed.", path);
        return ParseJson(bytes, path, source);
    }

    public static JsonElement ParseJson(byte[] bytes, string file, object? where)
    {
        try { return JsonDocument.Parse(bytes).RootElement; }
        catch (JsonException e)
        {
            throw Corrupt($"'{file}' in '{where}' is not valid JSON: {e.Message}", file);
        }
    }

    /// <summary>The one check of a digest that an image names (an index's or manifest's entry, a
    /// config reference, a layer, a diff id, a docker-save config): "sha256:" and 64 lowercase
    /// hex digits, and nothing else, so that what it names is a plain file name.</summary>
    public static string RequireDigest(string? digest, string what, object? where)
    {
        if (digest is not null && Sha256Digest().IsMatch(digest))
            return digest;
        if (digest is null)
            throw new UnicornException("InvalidDigest", ErrorKind.InvalidArgument, $"{what} in '{where}' has no digest (or not as a string). The image is damaged; do not use it.", what);
        if (OtherDigest().Match(digest) is { Success: true } m && m.Groups[1].Value != "sha256")
            throw new UnicornException("InvalidDigest", ErrorKind.InvalidArgument,
                $"{what} in '{where}' is named by a {m.Groups[1].Value} digest; Unicorn imports only sha256 content. Convert the image with a tool that writes sha256 digests (skopeo, umoci, docker).", digest);
        throw new UnicornException("InvalidDigest", ErrorKind.InvalidArgument,
            $"{what} in '{where}' names the digest '{Shown(digest)}', which is not sha256: and 64 lowercase hex digits. The image is damaged or made to harm; do not use it.", Shown(digest));
    }

    /// <summary>A path that an image archive's manifest names (docker save's Config and
    /// Layers): relative, clean, inside the archive.</summary>
    public static string RequirePath(string? path, string what, object? where)
    {
        if (path is null)
            throw Corrupt($"{what} in '{where}' has no path.", what);
        if (path.Length > 4096 || path.Contains('\0') || path.StartsWith('/') || path.Split('/').Any(p => p is "" or "." or ".."))
            throw Unsafe(Shown(path), $"{what} in '{where}' names '{Shown(path)}', which is not a plain path inside the archive.");
        return path;
    }

    /// <summary>A value for a message: control characters escaped, at most 100 characters.</summary>
    public static string Shown(string value)
    {
        var s = string.Concat(value.Take(100).Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
        return value.Length > 100 ? s + "..." : s;
    }

    [GeneratedRegex(@"^sha256:[0-9a-f]{64}\z")]
    private static partial Regex Sha256Digest();

    // The OCI grammar of a digest's algorithm.
    [GeneratedRegex(@"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):[a-zA-Z0-9=_-]+\z")]
    private static partial Regex OtherDigest();

    /// <summary>A property of an object, or Undefined (for a missing one, or when e is not an object).</summary>
    public static JsonElement Prop(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;

    public static string? Text(this JsonElement e, string name) =>
        e.Prop(name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    public static IEnumerable<JsonElement> Items(this JsonElement e, string name) =>
        e.Prop(name) is { ValueKind: JsonValueKind.Array } v ? v.EnumerateArray() : [];

    /// <summary>The strings of an array (other items as null).</summary>
    public static string?[]? Strings(this JsonElement e, string name) =>
        e.Prop(name) is { ValueKind: JsonValueKind.Array } v ? v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString() : null).ToArray() : null;

    public static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
}

/// <summary>A layer to import: where its blob is in the archive, what it must hash to.</summary>
sealed record LayerPlan(string Path, string? BlobDigest, string DiffId);

/// <summary>An image found in an archive, before its layers are in the store.</summary>
sealed class ImagePlan
{
    public required string ConfigDigest { get; init; }
    public required JsonElement Config { get; init; }
    /// <summary>What the config says a container runs with, validated.</summary>
    public required ImageConfig Settings { get; init; }
    public required List<LayerPlan> Layers { get; init; }
    /// <summary>Full names (a docker-save RepoTag, a ref.name with ':' or '/').</summary>
    public List<string> Names { get; init; } = [];
    /// <summary>Bare tags from an OCI layout's ref.name, for names made with the layout's own.</summary>
    public List<string> Tags { get; init; } = [];
    public string? ManifestDigest { get; init; }

    /// <summary>Reads a config blob: verified against its digest, parsed, what it says a
    /// container runs with validated, and its diff ids checked.</summary>
    public static (JsonElement Config, ImageConfig Settings, List<string> DiffIds) ReadConfig(byte[] bytes, string digest, string file, object? where)
    {
        if (Archive.Sha256(bytes) != digest)
            throw new UnicornException("DigestMismatch", ErrorKind.InvalidArgument,
                $"The image config {file} in '{where}' does not match its digest {digest}: the archive is corrupt or was changed.", file);
        var config = Archive.ParseJson(bytes, file, where);
        var diffIds = config.Prop("rootfs").Items("diff_ids")
            .Select((d, i) => Archive.RequireDigest(d.ValueKind == JsonValueKind.String ? d.GetString() : null, $"Diff id {i} of the config {digest}", where)).ToList();
        var c = config.Prop("config");
        var settings = new ImageConfig
        {
            // A missing (non-string) item stays null, for Validate to name.
            Entrypoint = c.Strings("Entrypoint")!,
            Cmd = c.Strings("Cmd")!,
            Env = (c.Strings("Env") ?? [])!,
            WorkingDir = c.Text("WorkingDir") is { Length: > 0 } w ? w : null,
            User = c.Text("User") is { Length: > 0 } u ? u : null,
            ExposedPorts = c.Prop("ExposedPorts") is { ValueKind: JsonValueKind.Object } p ? p.EnumerateObject().Select(x => x.Name).ToArray() : [],
        };
        settings.Validate();
        return (config, settings, diffIds);
    }

    /// <summary>The layers of a manifest paired with the config's diff ids: as many of each,
    /// and no more than overlayfs can stack.</summary>
    public static List<LayerPlan> Pair(List<(string Path, string? BlobDigest)> layers, List<string> diffIds, string image)
    {
        if (layers.Count != diffIds.Count)
            throw Archive.Corrupt($"The image {image} lists {layers.Count} layers but its config {diffIds.Count} diff ids.", image);
        if (layers.Count > ImageLimits.MaxLayers)
            throw ImageLimits.TooComplex($"The image {image} has {layers.Count} layers, more than the {ImageLimits.MaxLayers} that overlayfs can stack.", image);
        return layers.Zip(diffIds, (l, d) => new LayerPlan(l.Path, l.BlobDigest, d)).ToList();
    }

    public Image ToImage(List<string> names, List<long> sizes) => new()
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
        Config = Settings,
    };
}

/// <summary>`docker save`: manifest.json lists each image's config and layer tars (its
/// RepoTags name it); the config's diff ids verify the layers.</summary>
static class DockerSave
{
    public static List<ImagePlan> Plan(ArchiveSource source)
    {
        var manifest = Archive.Json(source, "manifest.json");
        if (manifest.ValueKind != JsonValueKind.Array)
            throw Archive.Corrupt($"'manifest.json' in '{source}' is not a list of images.", "manifest.json");
        if (manifest.GetArrayLength() > ImageLimits.MaxIndexEntries)
            throw ImageLimits.TooComplex($"'manifest.json' in '{source}' lists {manifest.GetArrayLength()} images, more than {ImageLimits.MaxIndexEntries}.", "manifest.json");
        var plans = new List<ImagePlan>();
        foreach (var entry in manifest.EnumerateArray())
        {
            var configPath = Archive.RequirePath(entry.Text("Config"), "The Config of an image in manifest.json", source);
            var digest = Archive.RequireDigest("sha256:" + Path.GetFileNameWithoutExtension(configPath.Split('/').Last()), $"The config '{configPath}'", source);
            var (config, settings, diffIds) = ImagePlan.ReadConfig(source.Read(configPath), digest, configPath, source);
            var layers = entry.Items("Layers")
                .Select(l => (Archive.RequirePath(l.ValueKind == JsonValueKind.String ? l.GetString() : null, $"A layer of the image {digest} in manifest.json", source), (string?)null))
                .ToList();
            plans.Add(new ImagePlan
            {
                ConfigDigest = digest,
                Config = config,
                Settings = settings,
                Layers = ImagePlan.Pair(layers, diffIds, digest),
                Names = entry.Items("RepoTags").Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()!).ToList(),
            });
        }
        return plans;
    }
}

/// <summary>An OCI image layout: index.json, then (nested) indexes and manifests by digest under
/// blobs/; a multi-platform index is resolved to linux/&lt;this architecture&gt;. The walk is
/// bounded (ImageLimits: MaxIndexDepth, MaxIndexEntries, MaxDescriptors) and linear: each blob
/// is read, verified and parsed once, each (blob, name) followed once, and a manifest reached
/// by several names is one plan with all of them.</summary>
static class OciLayout
{
    const string Index = "application/vnd.oci.image.index.v1+json", DockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
    static readonly HashSet<string> LayerTypes =
    [
        "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.docker.image.rootfs.diff.tar",
    ];

    /// <summary>Where a blob is in a layout: its digest must have passed Archive.RequireDigest.</summary>
    static string BlobPath(string digest) => "blobs/" + digest.Replace(':', '/');

    /// <summary>Only tar layers (plain, gzip, zstd): not foreign or encrypted ones.</summary>
    public static void CheckLayerTypes(IEnumerable<JsonElement> layers)
    {
        foreach (var l in layers.Where(l => !LayerTypes.Contains(l.Text("mediaType") ?? "")))
            throw new UnicornException("UnsupportedMediaType", ErrorKind.InvalidArgument,
                $"The layer {Archive.Shown(l.Text("digest") ?? "")} has the media type '{Archive.Shown(l.Text("mediaType") ?? "")}', which Unicorn cannot import (it takes tar layers, plain, gzip or zstd).", l.Text("mediaType"));
    }

    public static List<ImagePlan> Plan(ArchiveSource source, string architecture)
    {
        if (!source.Has("oci-layout") || !source.Has("index.json"))
            throw new UnicornException("UnsupportedImageFormat", ErrorKind.InvalidArgument,
                $"'{source}' is neither a docker-save archive (manifest.json) nor an OCI image layout (oci-layout, index.json).", source.ToString());
        var walk = new Walk(source, architecture);
        walk.Follow(Archive.Json(source, "index.json"), "index.json", 1, null);
        return walk.Plans.Values.ToList();
    }

    sealed class Walk(ArchiveSource source, string architecture)
    {
        readonly Dictionary<string, JsonElement> _blobs = [];
        readonly HashSet<(string Digest, string? Name)> _followed = [];
        readonly HashSet<string> _otherPlatform = [];
        public readonly Dictionary<string, ImagePlan> Plans = []; // by manifest digest, in the order found

        /// <summary>A blob's JSON, read, verified and parsed once.</summary>
        JsonElement Blob(string digest)
        {
            if (!_blobs.TryGetValue(digest, out var doc))
                _blobs[digest] = doc = Archive.Json(source, BlobPath(digest), digest);
            return doc;
        }

        public void Follow(JsonElement index, string file, int depth, string? tag)
        {
            var entries = index.Prop("manifests");
            if (entries.ValueKind != JsonValueKind.Array)
                return;
            if (entries.GetArrayLength() > ImageLimits.MaxIndexEntries)
                throw ImageLimits.TooComplex($"The index {file} in '{source}' lists {entries.GetArrayLength()} manifests, more than {ImageLimits.MaxIndexEntries}.", file);
            foreach (var d in entries.EnumerateArray())
            {
                if (d.ValueKind != JsonValueKind.Object)
                    throw Archive.Corrupt($"The index {file} in '{source}' lists something other than a descriptor.", file);
                var platform = d.Prop("platform");
                if (platform.ValueKind != JsonValueKind.Undefined && (platform.Text("os") != "linux" || platform.Text("architecture") != architecture))
                    continue;
                var digest = Archive.RequireDigest(d.Text("digest"), $"An entry of the index {file}", source);
                var name = d.Prop("annotations").Text("org.opencontainers.image.ref.name") ?? tag;
                if (!_followed.Add((digest, name)))
                    continue;
                if (_followed.Count > ImageLimits.MaxDescriptors)
                    throw ImageLimits.TooComplex($"'{source}' has more than {ImageLimits.MaxDescriptors} manifests and indexes to follow.", file);
                var doc = Blob(digest);
                if (d.Text("mediaType") is Index or DockerList || doc.Text("mediaType") is Index or DockerList)
                {
                    if (depth >= ImageLimits.MaxIndexDepth)
                        throw ImageLimits.TooComplex($"'{source}' nests image indexes more than {ImageLimits.MaxIndexDepth} deep (at {digest}).", digest);
                    Follow(doc, digest, depth + 1, name);
                }
                else
                    Manifest(doc, digest, name);
            }
        }

        void Manifest(JsonElement doc, string digest, string? name)
        {
            if (!Plans.TryGetValue(digest, out var plan))
            {
                if (_otherPlatform.Contains(digest))
                    return;
                if (doc.Prop("config").Text("digest") is not { } reference)
                    throw new UnicornException("UnsupportedMediaType", ErrorKind.InvalidArgument, $"The manifest {digest} has no config: not an image manifest.", digest);
                var configDigest = Archive.RequireDigest(reference, $"The config of the manifest {digest}", source);
                var (config, settings, diffIds) = ImagePlan.ReadConfig(source.Read(BlobPath(configDigest)), configDigest, BlobPath(configDigest), source);
                if (config.Text("architecture") is { } arch && arch != architecture)
                {
                    _otherPlatform.Add(digest);
                    return;
                }
                var layers = doc.Items("layers").ToList();
                if (layers.Count > ImageLimits.MaxLayers)
                    throw ImageLimits.TooComplex($"The image {configDigest} has {layers.Count} layers, more than the {ImageLimits.MaxLayers} that overlayfs can stack.", configDigest);
                CheckLayerTypes(layers);
                var blobs = layers.Select(l => Archive.RequireDigest(l.Text("digest"), $"A layer of the manifest {digest}", source)).ToList();
                Plans[digest] = plan = new ImagePlan
                {
                    ConfigDigest = configDigest,
                    Config = config,
                    Settings = settings,
                    ManifestDigest = digest,
                    Layers = ImagePlan.Pair(blobs.Select(b => (BlobPath(b), (string?)b)).ToList(), diffIds, configDigest),
                };
            }
            if (name is null)
                return;
            var list = name.Contains(':') || name.Contains('/') ? plan.Names : plan.Tags;
            if (!list.Contains(name))
                list.Add(name);
        }
    }
}
