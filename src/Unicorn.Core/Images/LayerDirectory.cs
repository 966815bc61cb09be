using System.Runtime.CompilerServices;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Images;

/// <summary>The directory a layer is extracted into. Every path is resolved inside it as if it
/// were "/" (openat2 RESOLVE_IN_ROOT: symbolic links are followed, but ".." and absolute
/// targets stop at the directory, as filepath-securejoin does it), and each file is then made
/// relative to its parent's descriptor, never following a final symbolic link.</summary>
sealed class LayerDirectory : IDisposable
{
    // Not in Errno; fixed on every architecture.
    const int ELOOP = 40, EXDEV = 18, ENOSYS = 38;
    // Stands for "a symbolic link in the path" where openat2 is missing and links are refused.
    const int SymlinkInPath = -1;

    readonly int _root;
    readonly bool _inKernel, _ownsRoot = true;
    readonly uint _uid = Libc.EffectiveUid, _gid = Libc.EffectiveGid;
    readonly List<(string Path, DateTimeOffset Atime, DateTimeOffset Mtime)> _directoryTimes = [];
    // The parent directory of the last entry: entries come grouped by directory.
    string? _cachedPath;
    int _cachedFd = -1;

    public LayerDirectory(string dir, bool resolveInKernel)
    {
        _root = Libc.Open(dir, L.O_RDONLY | L.O_DIRECTORY);
        _inKernel = resolveInKernel && ProbeOpenat2();
    }

    /// <summary>A copy's target: the directory rootFd holds, left open at the end.</summary>
    public LayerDirectory(int rootFd, bool layer)
    {
        (_root, _ownsRoot, Layer) = (rootFd, false, layer);
        _inKernel = ProbeOpenat2();
    }

    /// <summary>An image layer (whiteouts, opaque directories), not a copy.</summary>
    public bool Layer { get; } = true;

    bool ProbeOpenat2()
    {
        int err = Libc.TryOpenInRoot(_root, ".", L.O_PATH | L.O_DIRECTORY, out int fd);
        if (err == 0)
            Libc.Close(fd);
        return err != ENOSYS && err != Errno.EPERM; // EPERM: a seccomp filter that predates it
    }

    public void Dispose()
    {
        Forget();
        if (_ownsRoot)
            Libc.Close(_root);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public long File(string path, LayerExtractor.Metadata meta, Stream? data, long length, byte[] buffer)
    {
        var (parent, name) = Split(path);
        int dir = Parent(parent, path);
        int flags = L.O_WRONLY | L.O_CREAT | L.O_EXCL | L.O_NOFOLLOW;
        int err = Libc.TryOpenAt(dir, name, flags, 0b110_000_000, out int fd);
        if (err == Errno.EEXIST && Clear(dir, name, keepDirectory: false))
            err = Libc.TryOpenAt(dir, name, flags, 0b110_000_000, out fd);
        if (err != 0)
            throw new NativeException(err, "openat", path);
        try
        {
            for (long left = length; left > 0;)
            {
                int n = data!.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                if (n == 0)
                    throw LayerExtractor.Corrupt(path, $"The layer archive ends inside the file '{path}'.");
                Libc.WriteAll(fd, buffer.AsSpan(0, n));
                left -= n;
            }
            // As in Own: chown, then mode and attributes.
            if (meta.Uid != _uid || meta.Gid != _gid)
                Libc.Fchown(fd, meta.Uid, meta.Gid, path);
            Libc.Fchmod(fd, meta.Mode, path);
            foreach (var (xname, value) in meta.Xattrs ?? [])
                Libc.SetXattr(fd, xname, value, path);
            Libc.SetTimes(fd, meta.Atime, meta.Mtime, path);
        }
        finally
        {
            Libc.Close(fd);
        }
        return length;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Directory(string path, LayerExtractor.Metadata meta)
    {
        var (parent, name) = Split(path);
        int dir = Parent(parent, path);
        int err = Libc.TryMkdirAt(dir, name, 0b111_000_000);
        bool fresh = true;
        if (err == Errno.EEXIST)
        {
            fresh = Clear(dir, name, keepDirectory: true); // an existing directory keeps its content and takes the new metadata
            err = fresh ? Libc.TryMkdirAt(dir, name, 0b111_000_000) : 0;
        }
        if (err != 0)
            throw new NativeException(err, "mkdirat", path);
        Own(dir, name, meta, fresh, symlink: false);
        // Their times come last: every file made in a directory changes its mtime.
        _directoryTimes.Add((path, meta.Atime, meta.Mtime));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Symlink(string path, string target, LayerExtractor.Metadata meta)
    {
        var (parent, name) = Split(path);
        int dir = Parent(parent, path);
        int err = Libc.TrySymlinkAt(target, dir, name);
        if (err == Errno.EEXIST && Clear(dir, name, keepDirectory: false))
            err = Libc.TrySymlinkAt(target, dir, name);
        if (err != 0)
            throw new NativeException(err, "symlinkat", path);
        Own(dir, name, meta, fresh: true, symlink: true);
        Libc.SetTimesAt(dir, name, meta.Atime, meta.Mtime);
    }

    /// <summary>A fifo or a device; fileType is S_IFIFO, S_IFCHR or S_IFBLK.</summary>
    public void Node(string path, uint fileType, uint major, uint minor, LayerExtractor.Metadata meta)
    {
        var (parent, name) = Split(path);
        int dir = Parent(parent, path);
        MakeNode(dir, name, path, fileType | 0b110_000_000, major, minor);
        Own(dir, name, meta, fresh: true, symlink: false);
        Libc.SetTimesAt(dir, name, meta.Atime, meta.Mtime);
    }

    /// <summary>Hides path in the layers below: an overlay whiteout, a character device 0/0.</summary>
    public void Whiteout(string path, string entry)
    {
        var (parent, name) = Split(path);
        if (name is "" or "." or "..")
            throw LayerExtractor.Unsafe(entry, $"The whiteout '{entry}' names no file.");
        MakeNode(Parent(parent, path), name, path, (uint)L.S_IFCHR, 0, 0);
    }

    /// <summary>Hides the content of the directory at path in the layers below (making it if need be).</summary>
    public void MakeOpaque(string path)
    {
        int dir = Parent(path, path);
        Libc.LSetXattr($"/proc/self/fd/{dir}/.", LayerExtractor.OpaqueXattr, "y"u8);
    }

    /// <summary>A hard link at path to target, an earlier file of this layer (not a directory).</summary>
    public void HardLink(string path, string target)
    {
        if (target == path)
            return;
        var (targetParent, targetName) = Split(target);
        if (target.Length == 0 || TryOpenDirectory(targetParent, out int from) != 0)
            throw LayerExtractor.Corrupt(path, $"The hard link '{path}' points to '{target}', which the layer does not hold.");
        try
        {
            if (!Libc.TryStatAt(from, targetName, out var st))
                throw LayerExtractor.Corrupt(path, $"The hard link '{path}' points to '{target}', which the layer does not hold.");
            if (st.IsDirectory)
                throw LayerExtractor.Unsafe(path, $"The hard link '{path}' points to the directory '{target}'.");
            var (parent, name) = Split(path);
            int dir = Parent(parent, path);
            int err = Libc.TryLinkAt(from, targetName, dir, name);
            if (err == Errno.EEXIST && Clear(dir, name, keepDirectory: false))
                err = Libc.TryLinkAt(from, targetName, dir, name);
            if (err != 0)
                throw new NativeException(err, "linkat", path);
        }
        finally
        {
            Libc.Close(from);
        }
    }

    /// <summary>Gives directories the times their entries said, now that nothing more is made in them.</summary>
    public void SetDirectoryTimes()
    {
        foreach (var (path, atime, mtime) in _directoryTimes)
        {
            var (parent, name) = Split(path);
            if (!TryParent(parent, out int dir))
                continue; // removed by a later entry
            if (Libc.TryStatAt(dir, name, out var st) && st.IsDirectory)
                Libc.SetTimesAt(dir, name, atime, mtime);
        }
    }

    void MakeNode(int dir, string name, string path, uint mode, uint major, uint minor)
    {
        int err = Libc.TryMknodAt(dir, name, mode, major, minor);
        if (err == Errno.EEXIST && Clear(dir, name, keepDirectory: false))
            err = Libc.TryMknodAt(dir, name, mode, major, minor);
        if (err != 0)
            throw new NativeException(err, "mknodat", path);
    }

    /// <summary>Owner, mode and extended attributes (chown first: it clears setuid bits and
    /// file capabilities). A fresh file is already ours, and needs no chown to be.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Own(int dir, string name, LayerExtractor.Metadata meta, bool fresh, bool symlink)
    {
        if (!fresh || meta.Uid != _uid || meta.Gid != _gid)
            Libc.ChownAt(dir, name, meta.Uid, meta.Gid);
        if (!symlink) // Linux has no modes for symbolic links
            Libc.ChmodAt(dir, name, meta.Mode);
        foreach (var (xname, value) in meta.Xattrs ?? [])
            Libc.LSetXattr($"/proc/self/fd/{dir}/{name}", xname, value);
    }

    /// <summary>Makes room at name for a new file. False if a directory is there and
    /// keepDirectory (a directory entry over a directory only updates it).</summary>
    bool Clear(int dir, string name, bool keepDirectory)
    {
        if (!Libc.TryStatAt(dir, name, out var st))
            return true;
        if (st.IsDirectory)
        {
            if (keepDirectory)
                return false;
            if (!Layer)
                throw new UnicornException("DestinationExists", ErrorKind.ResourceExists,
                    $"'{name}' is a directory, which a copy does not replace with a file. Remove it, or copy to another name.", name);
            // Through our descriptor of its parent; .NET removes symbolic links in it, never their targets.
            System.IO.Directory.Delete($"/proc/self/fd/{dir}/{name}", recursive: true);
        }
        else
            Libc.UnlinkAt(dir, name);
        // The cached parent may have been below what went, or reached through it.
        _cachedPath = null;
        return true;
    }

    /// <summary>A descriptor of the directory at path (made, with its parents, if missing),
    /// kept for the next entries; entry names the entry it is for, in errors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    int Parent(string path, string entry)
    {
        if (_cachedFd >= 0 && path == _cachedPath)
            return _cachedFd;
        int fd = OpenDirectory(path, entry);
        Forget();
        (_cachedPath, _cachedFd) = (path, fd);
        return fd;
    }

    bool TryParent(string path, out int fd)
    {
        fd = _cachedFd;
        if (_cachedFd >= 0 && path == _cachedPath)
            return true;
        if (TryOpenDirectory(path, out fd) != 0)
            return false;
        Forget();
        (_cachedPath, _cachedFd) = (path, fd);
        return true;
    }

    void Forget()
    {
        if (_cachedFd >= 0)
            Libc.Close(_cachedFd);
        (_cachedPath, _cachedFd) = (null, -1);
    }

    int OpenDirectory(string path, string entry)
    {
        int err = TryOpenDirectory(path, out int fd);
        if (err == 0)
            return fd;
        if (err == Errno.ENOENT && path.Length > 0)
        {
            // Missing directories are made as tar makes them (root's, 0755), below whatever the existing part resolves to.
            var (parent, name) = Split(path);
            int above = OpenDirectory(parent, entry);
            try
            {
                int made = Libc.TryMkdirAt(above, name, 0b111_101_101);
                if (made == 0)
                    Libc.ChmodAt(above, name, 0b111_101_101); // whatever the umask
                else if (made != Errno.EEXIST)
                    throw new NativeException(made, "mkdirat", path);
            }
            finally
            {
                Libc.Close(above);
            }
            err = TryOpenDirectory(path, out fd);
            if (err == 0)
                return fd;
        }
        throw err switch
        {
            ELOOP => LayerExtractor.Unsafe(entry, $"The path '{path}' of the layer's entry '{entry}' goes through symbolic links that loop or nest too deep."),
            SymlinkInPath => LayerExtractor.Unsafe(entry, $"The path '{path}' of the layer's entry '{entry}' goes through a symbolic link, which this kernel (without openat2) cannot follow safely."),
            EXDEV => LayerExtractor.Unsafe(entry, $"The path '{path}' of the layer's entry '{entry}' leads out of the layer."),
            Errno.ENOENT or Errno.ENOTDIR => LayerExtractor.Corrupt(entry, $"The layer's entry '{entry}' lies below '{path}', which is not a directory."),
            _ => new NativeException(err, "openat2", path),
        };
    }

    /// <summary>Opens the directory at path inside the layer (O_PATH): 0, or an errno.</summary>
    int TryOpenDirectory(string path, out int fd)
    {
        if (_inKernel)
            return Libc.TryOpenInRoot(_root, path.Length == 0 ? "." : path, L.O_PATH | L.O_DIRECTORY, out fd);

        // Without openat2: one component at a time, refusing symbolic links.
        int err = Libc.TryOpenAt(_root, ".", L.O_PATH | L.O_DIRECTORY, 0, out fd);
        foreach (var part in path.Length == 0 ? [] : path.Split('/'))
        {
            if (err != 0)
                break;
            err = Libc.TryOpenAt(fd, part, L.O_PATH | L.O_DIRECTORY | L.O_NOFOLLOW, 0, out int next);
            if ((err == Errno.ENOTDIR || err == ELOOP) && Libc.TryStatAt(fd, part, out var st) && st.Type == (uint)L.S_IFLNK)
                err = SymlinkInPath;
            Libc.Close(fd);
            fd = next;
        }
        return err;
    }

    /// <summary>A clean path's parent and last component; the root is ("", ".").</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (string Parent, string Name) Split(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash < 0 ? ("", path.Length == 0 ? "." : path) : (path[..slash], path[(slash + 1)..]);
    }
}
