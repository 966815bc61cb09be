using Unicorn.Native;

namespace Unicorn;

/// <summary>Overlay root filesystems under the data root: rootfs/&lt;id&gt;/{upper,work,merged}
/// and rootfs.json.</summary>
public sealed class RootfsStore(UnicornPaths paths)
{
    const string RecordFile = "rootfs.json";
    const string OwnerFile = "owner";

    /// <summary>A rootfs's record, with its owner (the container that claimed it), or null.
    /// A damaged record is a CorruptState error that says how to remove the rootfs.</summary>
    static RootfsRecord? Read(string dir)
    {
        RootfsRecord? r;
        try { r = Files.ReadJson(Path.Combine(dir, RecordFile), Json.Default.RootfsRecord); }
        catch (CorruptStateException e)
        {
            var id = Path.GetFileName(dir);
            throw new CorruptStateException(e.Path, e.Reason, $"Remove-UnicornRootfs {id} removes the rootfs {Ids.Short(id)}.", e) { RootfsId = id };
        }
        return r is not null && Owner(dir) is { } owner ? r with { ContainerId = owner } : r;
    }

    /// <summary>The container that claimed the rootfs in dir, or null. An owner file that holds
    /// no id (empty or cut short by a crash or a full disk: it is not fsynced) names no owner.</summary>
    static string? Owner(string dir)
    {
        try { return File.ReadAllText(Path.Combine(dir, OwnerFile)).Trim() is var id && Ids.IsId(id) ? id : null; }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }

    /// <summary>Mounts a new overlay over an image's layers: nothing is copied, whatever the
    /// image's size.</summary>
    public Rootfs CreateFromImage(Images.Image image, Action<string>? log = null)
    {
        var layers = new Images.ImageStore(paths).LowerDirs(image);
        foreach (var l in layers)
            CheckOverlayPath(l);
        return Create(new RootfsRecord(Ids.New(), image.Names.FirstOrDefault() ?? image.ShortId, string.Join(':', layers), DateTime.UtcNow, null, image.Id), log);
    }

    /// <summary>Mounts a new overlay over lowerDir, or over the embedded default rootfs.</summary>
    public Rootfs Create(string? lowerDir, Action<string>? log = null)
    {
        string image;
        if (lowerDir is null)
        {
            lowerDir = DefaultImage.Ensure(paths, log);
            image = DefaultImage.Name;
        }
        else
        {
            lowerDir = Path.GetFullPath(lowerDir);
            if (File.Exists(lowerDir))
                throw new UnicornException("RootfsSourceIsFile", ErrorKind.InvalidArgument,
                    $"'{lowerDir}' is a file, not a directory: -Path takes a directory that holds a root filesystem. For a tarball, an image archive or an OCI layout, import it first: Import-UnicornImage '{lowerDir}' | New-UnicornRootfs.", lowerDir);
            if (!Directory.Exists(lowerDir))
                throw new UnicornException("RootfsSourceNotFound", ErrorKind.ObjectNotFound,
                    $"The directory '{lowerDir}' does not exist. Give -Path a directory that holds a root filesystem (with /bin/sh, for instance).", lowerDir);
            image = lowerDir;
        }
        CheckOverlayPath(lowerDir);
        return Create(new RootfsRecord(Ids.New(), image, lowerDir, DateTime.UtcNow, null), log);
    }

    /// <summary>Held (shared) by every create from its directory to its record, and taken
    /// alone to sweep directories without a record: then none is a create still under way.</summary>
    string CreateLock => Path.Combine(paths.DataRoot, "rootfs.lock");

    Rootfs Create(RootfsRecord record, Action<string>? log)
    {
        var dir = paths.RootfsDir(record.Id);
        CheckOverlayPath(dir);
        using var creating = Files.Lock(CreateLock, shared: true);
        try
        {
            foreach (var sub in new[] { "upper", "work", "merged" })
                Directory.CreateDirectory(Path.Combine(dir, sub));
            Files.WriteJson(Path.Combine(dir, RecordFile), record, Json.Default.RootfsRecord);
            log?.Invoke($"Mounting overlay at {Path.Combine(dir, "merged")} (lower {record.LowerDir}).");
            Mount(record);
        }
        catch
        {
            Files.DeleteTree(dir);
            throw;
        }
        return ToRootfs(record, mounted: true);
    }

    /// <summary>Every rootfs. One whose record is damaged is not listed: it goes to onError
    /// (CorruptState), and the others are listed all the same.</summary>
    public IEnumerable<Rootfs> List(Action<UnicornException>? onError = null)
    {
        if (!Directory.Exists(paths.RootfsRoot))
            yield break;
        var mounts = ProcFs.MountPoints().ToHashSet();
        var leftovers = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(paths.RootfsRoot))
        {
            RootfsRecord? r = null;
            try { r = Read(dir) ?? (RootfsRecord?)Leftover(dir); }
            catch (CorruptStateException e) { onError?.Invoke(e); }
            if (r is not null)
                yield return ToRootfs(r, mounts.Contains(Path.Combine(dir, "merged")));
        }
        if (leftovers.Count > 0)
            RemoveLeftovers(leftovers);

        RootfsRecord? Leftover(string dir)
        {
            leftovers.Add(dir);
            return null;
        }
    }

    /// <summary>Directories without a record: a New-UnicornRootfs that died before writing it
    /// (nothing was mounted: the mount comes after). Seen while no create is under way, they go.</summary>
    void RemoveLeftovers(IEnumerable<string> dirs)
    {
        using (Files.Lock(CreateLock))
            foreach (var dir in dirs.Where(d => !File.Exists(Path.Combine(d, RecordFile)) && !Libc.IsMountPoint(Path.Combine(d, "merged"))))
                Files.DeleteTree(dir);
    }

    /// <summary>The rootfs with this id or unique id prefix, or null.</summary>
    public Rootfs? Find(string idOrPrefix)
    {
        // A whole id (what a piped rootfs gives) is read directly; a prefix is matched against the
        // directories (not the records, one of which may be damaged: then this says so).
        var id = Ids.IsId(idOrPrefix) ? idOrPrefix
            : Directory.Exists(paths.RootfsRoot) ? IdResolver.Resolve(Directory.EnumerateDirectories(paths.RootfsRoot).Select(Path.GetFileName).OfType<string>(), idOrPrefix, "Rootfs")
            : null;
        return id is not null && Read(paths.RootfsDir(id)) is { } record
            ? ToRootfs(record, Libc.IsMountPoint(Path.Combine(paths.RootfsDir(id), "merged")))
            : null;
    }

    public Rootfs Get(string idOrPrefix) => Find(idOrPrefix) ?? throw NotFound(idOrPrefix);

    public static UnicornException NotFound(string id) => new("RootfsNotFound", ErrorKind.ObjectNotFound,
        $"No rootfs has the id '{id}'. Get-UnicornRootfs lists them; New-UnicornRootfs makes one.", id);

    /// <summary>The rootfs a container runs on. One that runs on a directory of its own
    /// (-RootfsPath) has none of Unicorn's: RootfsNotOwned.</summary>
    public Rootfs Get(Container c) => Get(c.RootfsId ?? throw new UnicornException("RootfsNotOwned", ErrorKind.InvalidArgument,
        $"{c.Name} runs on a directory (-RootfsPath), not on a rootfs of Unicorn's: archive that directory itself.", c.Name));

    /// <summary>Checks an export of the rootfs to a tar file (gzip-compressed when its name ends
    /// in .gz or .tgz); nothing is written until <see cref="RootfsExport.Run"/>. The whole tree
    /// needs the overlay mounted; its changes alone (diff) are on disk all the same.</summary>
    public RootfsExport PlanExport(Rootfs rootfs, string path, bool diff)
    {
        if (!diff && !rootfs.Mounted)
            throw new UnicornException("RootfsNotMounted", ErrorKind.InvalidOperation,
                $"The rootfs {Ids.Short(rootfs.Id)} is not mounted (after a reboot, say): starting a container on it mounts it again. Its changes alone can be exported now, with -Diff.", rootfs.Id);
        return new RootfsExport(rootfs, path, diff);
    }

    /// <summary>Gives the rootfs to a container, so that only it uses it and its removal
    /// removes the rootfs. Call under the engine lock.</summary>
    internal Rootfs Claim(string id, string containerId)
    {
        var dir = paths.RootfsDir(id);
        var r = Read(dir) ?? throw NotFound(id);
        // An owner that no longer exists (its state went with a reboot) owns nothing.
        if (r.ContainerId is not null && r.ContainerId != containerId && File.Exists(paths.ContainerRecord(r.ContainerId)))
            throw new UnicornException("RootfsBusy", ErrorKind.ResourceBusy,
                $"The rootfs {Ids.Short(id)} belongs to container {Ids.Short(r.ContainerId)}. Make a new one with New-UnicornRootfs, or remove that container first.", id);
        r = r with { ContainerId = containerId };
        // The owner in a file of its own, made new: rewriting rootfs.json (a replace by rename)
        // would cost ext4 a data flush on every start. Not fsynced: after a crash an unrecorded
        // claim leaves the rootfs unowned, which Remove-UnicornRootfs handles.
        File.WriteAllText(Path.Combine(dir, OwnerFile), containerId);
        return EnsureMounted(r);
    }

    /// <summary>The rootfs, mounted again if it is not (after a reboot: the layers are on disk,
    /// the mount is not). Call under the engine lock.</summary>
    internal Rootfs EnsureMounted(string id) => EnsureMounted(Read(paths.RootfsDir(id)) ?? throw NotFound(id));

    Rootfs EnsureMounted(RootfsRecord r)
    {
        if (!Libc.IsMountPoint(Path.Combine(paths.RootfsDir(r.Id), "merged")))
            Mount(r);
        return ToRootfs(r, mounted: true);
    }

    /// <summary>Unmounts the overlay and deletes its layers. Refuses a rootfs that a container
    /// owns unless that container is the one being removed.</summary>
    public void Remove(string id, string? owner = null)
    {
        var dir = paths.RootfsDir(id);
        // The owner alone, not the record: a rootfs whose record is damaged can be removed too.
        if (Owner(dir) is { } c && c != owner && File.Exists(paths.ContainerRecord(c)))
            throw new UnicornException("RootfsBusy", ErrorKind.ResourceBusy,
                $"The rootfs {Ids.Short(id)} belongs to container {Ids.Short(c)}; remove the container (Remove-UnicornContainer), which removes its rootfs too.", id);
        var merged = Path.Combine(dir, "merged");
        // Unmount every layer stacked here; only then is it safe to delete below it.
        while (Libc.Unmount(merged)) { }
        if (Libc.IsMountPoint(merged))
            throw new UnicornException("RootfsBusy", ErrorKind.ResourceBusy, $"'{merged}' is still mounted; a process may be using it.", id);
        Files.DeleteTree(dir);
    }

    void Mount(RootfsRecord r)
    {
        var dir = paths.RootfsDir(r.Id);
        var options = $"lowerdir={r.LowerDir},upperdir={Path.Combine(dir, "upper")},workdir={Path.Combine(dir, "work")}";
        // mount(2) takes one page of options.
        if (options.Length >= 4096)
            throw new UnicornException("ImageTooManyLayers", ErrorKind.InvalidArgument,
                $"The image {r.Image} has too many layers for one overlay mount's options ({options.Length} bytes, at most 4095). Use a shorter UNICORN_DATA_ROOT, or an image with fewer layers.", r.Image);
        // nosuid, nodev: no host user may run a setuid file or open a device node that an image
        // planted (CVE-2021-41091); the container's own bind of it clears nosuid (the launcher).
        Libc.Mount("overlay", Path.Combine(dir, "merged"), "overlay", Tmds.Linux.LibC.MS_NOSUID | Tmds.Linux.LibC.MS_NODEV, options);
    }

    Rootfs ToRootfs(RootfsRecord r, bool mounted)
    {
        var dir = paths.RootfsDir(r.Id);
        return new Rootfs
        {
            Id = r.Id,
            Path = Path.Combine(dir, "merged"),
            Image = r.Image,
            ImageId = r.ImageId,
            LowerDir = r.LowerDir,
            UpperDir = Path.Combine(dir, "upper"),
            WorkDir = Path.Combine(dir, "work"),
            ContainerId = r.ContainerId,
            Created = r.Created,
            Mounted = mounted,
        };
    }

    // Overlay's mount options are split on ',' and lowerdir on ':'.
    static void CheckOverlayPath(string path)
    {
        if (path.IndexOfAny([',', ':', '\\']) >= 0)
            throw new UnicornException("InvalidRootfsPath", ErrorKind.InvalidArgument,
                $"The path '{path}' holds ',', ':' or '\\', which overlayfs cannot take in its options. Use a path without them.", path);
    }
}
