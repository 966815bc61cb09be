// This folder keeps namespace Unicorn, not Unicorn.Rootfs: that is the full name of this type,
// which users see (Unicorn.Rootfs objects), and a namespace cannot share it.
namespace Unicorn;

/// <summary>A copy-on-write root filesystem: an overlay of an image (or any directory) with a
/// fresh upper layer, mounted at <see cref="Path"/>.</summary>
public sealed class Rootfs
{
    public required string Id { get; init; }
    /// <summary>The merged view: what a container sees as /.</summary>
    public required string Path { get; init; }
    /// <summary>"default" for the embedded rootfs, an image's name (or short id), or the lower
    /// directory's path.</summary>
    public required string Image { get; init; }
    /// <summary>The image's id, for a rootfs made from an image of the store.</summary>
    public string? ImageId { get; init; }
    /// <summary>The overlay's lower directories, the top one first, joined by ':'.</summary>
    public required string LowerDir { get; init; }
    public required string UpperDir { get; init; }
    public required string WorkDir { get; init; }
    /// <summary>The container that owns this rootfs, if any; removing it removes the rootfs.</summary>
    public string? ContainerId { get; init; }
    public DateTime Created { get; init; }
    /// <summary>Read from the kernel: is the overlay mounted now?</summary>
    public bool Mounted { get; init; }

    public override string ToString() => Path;
}
