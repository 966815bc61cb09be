using System.Text.Json;

namespace Unicorn.Images;

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
