using Unicorn.Images;

namespace Unicorn.Runtime;

/// <summary>The removal of an image, checked by <see cref="ContainerEngine.PlanImageRemoval"/>.</summary>
public sealed class ImageRemoval
{
    readonly ContainerEngine engine;

    internal ImageRemoval(ContainerEngine engine, Image image, IReadOnlyList<Rootfs> usedBy) =>
        (this.engine, Image, UsedBy) = (engine, image, usedBy);

    public Image Image { get; }
    /// <summary>The root filesystems made from it (with force): they keep working.</summary>
    public IReadOnlyList<Rootfs> UsedBy { get; }

    /// <summary>Removes the image's record, then every layer that no image and no rootfs (of
    /// this image or any other, as they are now) uses any more.</summary>
    public void Run(Action<string>? log = null) =>
        engine.Images.Remove(Image, engine.Rootfs.List().Select(r => r.LowerDir), log);
}
