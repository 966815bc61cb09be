namespace Unicorn.Images;

/// <summary>An image in the store: its layers (by diff id, bottom first, each extracted once
/// under data/images/layers and shared), its config, and the names it goes by.</summary>
public sealed class Image
{
    /// <summary>"sha256:..." of its config, as Docker and Podman name images.</summary>
    public required string Id { get; init; }
    public List<string> Names { get; init; } = [];
    /// <summary>The manifest's digest, when it came with one.</summary>
    public string? Digest { get; init; }
    public required List<string> Layers { get; init; }
    public ImageConfig Config { get; init; } = new();
    public string? Architecture { get; init; }
    public string? Os { get; init; }
    /// <summary>When the image was made, per its config.</summary>
    public DateTime? Created { get; init; }
    public DateTime Imported { get; init; }
    /// <summary>The bytes of file content in each layer, as Layers.</summary>
    public List<long> LayerSizes { get; init; } = [];
    public long Size => LayerSizes.Sum();

    public string ShortId => Id.StartsWith("sha256:") ? Id[7..19] : Ids.Short(Id);
    /// <summary>The first name's repository and tag, for tables.</summary>
    public string Name => Names.FirstOrDefault() ?? "<none>";
    public override string ToString() => Names.FirstOrDefault() ?? Id;
}
