using System.Text.Json;

namespace Unicorn.Images;

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
