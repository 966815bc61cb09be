using System.Text.Json;

namespace Unicorn.Images;

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
