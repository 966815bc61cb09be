using Unicorn.Images;

namespace Unicorn.Runtime;

// Images across the two stores: a rootfs made from an image keeps it in use.
public sealed partial class ContainerEngine
{
    /// <summary>Checks the removal of an image (Remove-UnicornImage): refused (ImageInUse) while
    /// root filesystems are made from it, unless force; nothing is removed until
    /// <see cref="ImageRemoval.Run"/>.</summary>
    public ImageRemoval PlanImageRemoval(Image image, bool force)
    {
        var users = Rootfs.List().Where(r => r.ImageId == image.Id).ToList();
        if (users.Count > 0 && !force)
            throw new UnicornException("ImageInUse", ErrorKind.ResourceBusy,
                $"{image} is used by {users.Count} root filesystem(s) ({string.Join(", ", users.Select(r => Ids.Short(r.Id)))}). Remove them (and their containers) first, or use -Force.", image.Id);
        return new ImageRemoval(this, image, users);
    }
}
