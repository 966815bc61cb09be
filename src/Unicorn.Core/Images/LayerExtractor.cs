using System.Formats.Tar;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Images;

/// <summary>Extracts image layers into directories that become overlayfs lower layers, by the
/// OCI image-spec layer rules (as runc, umoci and containerd apply them): whiteouts become
/// overlay whiteouts, opaque markers the overlay's opaque attribute, and nothing is ever
/// written outside the directory, whatever the archive's names and symbolic links say.</summary>
public static class LayerExtractor
{
    internal const string WhiteoutPrefix = ".wh.", OpaqueMarker = ".wh..wh..opq", OpaqueXattr = "trusted.overlay.opaque";
    const string MetaPrefix = ".wh..wh.", OverlayXattrs = "trusted.overlay.";

    /// <summary>Extracts an uncompressed tar stream (an OCI/Docker image layer, or a plain rootfs
    /// tarball) into dir, an existing empty directory that becomes an overlayfs lower layer.
    /// Returns the number of bytes of file content written. It may read tar past the archive's
    /// end-of-archive blocks (it reads ahead, in large blocks). The budget, shared by the
    /// layers of one import, bounds the bytes and entries written (ImageTooLarge); without one,
    /// only the entries are bounded. A path deeper than ImageLimits.MaxPathDepth is refused.</summary>
    public static long Extract(Stream tar, string dir, ExtractionBudget? budget = null) => Extract(tar, dir, resolveInKernel: true, budget);

    // This and the other per-entry methods of extraction are compiled optimized at once: a
    // process often extracts one image, before tiered compilation would have caught up, and
    // the first extraction then takes a third less time.
    /// <summary>resolveInKernel false extracts as on a kernel without openat2 (before 5.6), where
    /// a path through a symbolic link is refused instead of resolved.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static long Extract(Stream tar, string dir, bool resolveInKernel, ExtractionBudget? budget = null)
    {
        using var target = new LayerDirectory(dir, resolveInKernel);
        return Extract(tar, target, dir, budget ?? ExtractionBudget.Unlimited);
    }

    /// <summary>Extracts a copy (a tar that <see cref="LayerWriter.WriteItem"/> wrote) into the
    /// directory rootFd holds, which stays open, as if it were "/", by the rules of a layer but
    /// for the layer's own: names are taken as they are (".wh." means nothing), no overlay
    /// attribute is set, and a directory in the way of a file is an error, never removed (a
    /// running container could turn a removal by path against the host). shown names the
    /// directory in messages.</summary>
    public static long ExtractCopy(Stream tar, int rootFd, string shown, ExtractionBudget budget)
    {
        using var target = new LayerDirectory(rootFd, layer: false);
        return Extract(tar, target, shown, budget);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static long Extract(Stream tar, LayerDirectory target, string dir, ExtractionBudget budget)
    {
        using var input = new PaxXattrStream(tar);
        using var reader = new TarReader(input, leaveOpen: true);
        var buffer = GC.AllocateUninitializedArray<byte>(1 << 20);
        long written = 0;
        string? name = null;
        try
        {
            while (reader.GetNextEntry(copyData: false) is { } entry)
            {
                name = entry.Name;
                written += Apply(target, entry, buffer, budget);
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or OverflowException
            or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            // The reader's complaints (and the decompressor's): a truncated or malformed archive.
            var where = name is null ? "at its start" : $"at or after the entry '{name}'";
            throw new UnicornException("CorruptArchive", ErrorKind.InvalidArgument, $"The layer archive is truncated or malformed {where}: {e.Message}", name, e);
        }
        catch (NativeException e)
        {
            throw new UnicornException(e.ErrorId, e.Kind, $"Extracting '{name}' into '{dir}' failed: {e.Message}", name, e);
        }
        target.SetDirectoryTimes();
        return written;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static long Apply(LayerDirectory target, TarEntry entry, byte[] buffer, ExtractionBudget budget)
    {
        var type = entry.EntryType;
        if (type == TarEntryType.GlobalExtendedAttributes)
            return 0;
        budget.TakeEntry(entry.Name);
        if (entry.Name.Contains('\0') || entry.LinkName.Contains('\0'))
            throw Unsafe(entry.Name, $"The layer's entry '{entry.Name}' has a NUL character in its name or link.");
        var path = Clean(entry.Name);
        if (path.AsSpan().Count('/') >= ImageLimits.MaxPathDepth)
            throw ImageLimits.TooComplex($"The layer's entry '{(path.Length > 200 ? path[..200] + "..." : path)}' is more than {ImageLimits.MaxPathDepth} directories deep.", path[..Math.Min(path.Length, 200)]);
        var baseName = path[(path.LastIndexOf('/') + 1)..];

        if (target.Layer && baseName.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            if (baseName == OpaqueMarker)
                target.MakeOpaque(path[..Math.Max(0, path.Length - baseName.Length - 1)]);
            else if (!baseName.StartsWith(MetaPrefix, StringComparison.Ordinal)) // else aufs bookkeeping, which overlayfs has no use for
                target.Whiteout(path[..^baseName.Length] + baseName[WhiteoutPrefix.Length..], entry.Name);
            return 0;
        }
        if (entry is PaxTarEntry pax && (pax.ExtendedAttributes.ContainsKey("GNU.sparse.major") || pax.ExtendedAttributes.ContainsKey("GNU.sparse.size")))
            throw Corrupt(entry.Name, $"The layer's entry '{entry.Name}' is a GNU sparse file, which layers do not hold.");
        if (path.Length == 0 && type != TarEntryType.Directory)
            throw Unsafe(entry.Name, $"The layer's entry '{entry.Name}' would replace the layer's root directory with a file.");

        var meta = Metadata.Of(entry, target.Layer);
        switch (type)
        {
            case TarEntryType.Directory or TarEntryType.DirectoryList:
            case TarEntryType.V7RegularFile when entry.Name.EndsWith('/'): // directories in pre-POSIX archives
                target.Directory(path, meta);
                return 0;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                budget.TakeBytes(entry.Length, path);
                return target.File(path, meta, entry.DataStream, entry.Length, buffer);
            case TarEntryType.SymbolicLink:
                target.Symlink(path, entry.LinkName, meta);
                return 0;
            case TarEntryType.HardLink:
                target.HardLink(path, Clean(entry.LinkName));
                return 0;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                uint fileType = (uint)(type == TarEntryType.Fifo ? L.S_IFIFO : type == TarEntryType.BlockDevice ? L.S_IFBLK : L.S_IFCHR);
                var posix = (PosixTarEntry)entry;
                target.Node(path, fileType, (uint)posix.DeviceMajor, (uint)posix.DeviceMinor, meta);
                return 0;
            default:
                throw Corrupt(entry.Name, $"The layer's entry '{entry.Name}' is of type {type}, which a layer cannot hold.");
        }
    }

    /// <summary>An entry's name made relative and clean: no leading "/" or "./", no "." or empty
    /// components, ".." taken away lexically and never above the root. "" is the root.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static string Clean(string name)
    {
        int end = name.Length > 0 && name[^1] == '/' ? name.Length - 1 : name.Length;
        bool clean = end > 0 && name[0] != '/';
        for (int start = 0; clean && start < end;)
        {
            int slash = name.IndexOf('/', start, end - start);
            if (slash < 0)
                slash = end;
            var part = name.AsSpan(start, slash - start);
            clean = part.Length > 0 && part is not "." and not "..";
            start = slash + 1;
        }
        if (clean)
            return end == name.Length ? name : name[..end];

        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part == "..")
            {
                if (parts.Count > 0)
                    parts.RemoveAt(parts.Count - 1);
            }
            else if (part.Length > 0 && part != ".")
                parts.Add(part);
        }
        return string.Join('/', parts);
    }

    internal static UnicornException Unsafe(string entry, string message) =>
        new("UnsafeArchive", ErrorKind.InvalidArgument, message + " The archive tries to write outside its directory, or cannot be extracted safely: do not use it.", entry);

    internal static UnicornException Corrupt(string entry, string message) =>
        new("CorruptArchive", ErrorKind.InvalidArgument, message + " The archive is damaged or not a layer.", entry);

    /// <summary>What an entry says of its file besides the content.</summary>
    internal readonly record struct Metadata(uint Uid, uint Gid, uint Mode, DateTimeOffset Atime, DateTimeOffset Mtime, List<(string Name, byte[] Value)>? Xattrs)
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static Metadata Of(TarEntry entry, bool layer = true)
        {
            var atime = entry.ModificationTime;
            List<(string, byte[])>? xattrs = null;
            if (entry is GnuTarEntry gnu && gnu.AccessTime != default)
                atime = gnu.AccessTime;
            if (entry is PaxTarEntry pax)
            {
                foreach (var (key, value) in pax.ExtendedAttributes)
                {
                    if (key == "atime" && decimal.TryParse(value, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds)
                        && Math.Abs(seconds) < 1e11m)
                        atime = DateTimeOffset.UnixEpoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond));
                    else if (key.StartsWith(PaxXattrStream.XattrKey, StringComparison.Ordinal) && PaxXattrStream.DecodeXattr(value) is var (name, bytes) && Wanted(name, bytes, layer))
                        (xattrs ??= []).Add((name, bytes));
                }
            }
            return new((uint)entry.Uid, (uint)entry.Gid, (uint)entry.Mode & 0xFFF, atime, entry.ModificationTime, xattrs);
        }

        /// <summary>An archive may not steer overlayfs (redirects, metacopy, origins: they could
        /// expose other layers' files); only a layer's opaque mark, which a marker entry may set anyway.</summary>
        static bool Wanted(string name, byte[] value, bool layer) =>
            name.Length > 0 && (!name.StartsWith(OverlayXattrs, StringComparison.Ordinal) || (layer && name == OpaqueXattr && value.AsSpan().SequenceEqual("y"u8)));
    }
}

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

/// <summary>Hands a tar stream on to TarReader with its PAX extended headers rewritten so that
/// every extended attribute arrives exactly. TarReader decodes PAX values as UTF-8 (a file
/// capability's bytes are not UTF-8) and fails on a value holding a newline byte; so the
/// SCHILY.xattr (raw) and LIBARCHIVE.xattr (base64) records become XattrKey records, name and
/// value in base64, and all else passes unchanged. It also reads ahead in large blocks.</summary>
sealed class PaxXattrStream(Stream source) : ReadOnlyStream
{
    internal const string XattrKey = "UNICORN.xattr.";
    const string SchilyKey = "SCHILY.xattr.", LibarchiveKey = "LIBARCHIVE.xattr.";
    const int Block = TarBlocks.BlockSize, MaxHeaderData = 1 << 20; // xattr values are at most 64 KiB

    readonly byte[] _ahead = GC.AllocateUninitializedArray<byte>(1 << 20);
    int _aheadPos, _aheadEnd;
    byte[] _header = new byte[Block]; // a header block (and an extended header's data) for the reader; grows
    int _headerPos, _headerEnd;
    long _dataLeft;    // the current entry's data and padding, passed on as they are
    long? _paxSize;    // the size an extended header gave the entry after it
    bool _passThrough; // after the end-of-archive blocks, or a truncation (TarReader then tells what is wrong)

    /// <summary>An XattrKey record's value: the attribute's name and value, or null if malformed.</summary>
    internal static (string Name, byte[] Value)? DecodeXattr(string record)
    {
        int space = record.IndexOf(' ');
        try
        {
            return space < 0 ? null : (Encoding.UTF8.GetString(Convert.FromBase64String(record[..space])), Convert.FromBase64String(record[(space + 1)..]));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
            return 0;
        if (_headerPos == _headerEnd && _dataLeft == 0 && !_passThrough)
            NextHeader();
        if (_headerPos < _headerEnd)
        {
            int n = Math.Min(buffer.Length, _headerEnd - _headerPos);
            _header.AsSpan(_headerPos, n).CopyTo(buffer);
            _headerPos += n;
            return n;
        }
        if (_passThrough)
            return ReadSource(buffer);
        int read = ReadSource(buffer[..(int)Math.Min(buffer.Length, _dataLeft)]);
        if (read == 0)
            _passThrough = true; // truncated inside an entry's data: TarReader reports it
        _dataLeft -= read;
        return read;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void NextHeader()
    {
        _headerPos = 0;
        _headerEnd = ReadFully(_header.AsSpan(0, Block));
        if (_headerEnd < Block || TarBlocks.IsEnd(_header))
        {
            _passThrough = true;
            return;
        }
        // TarReader (in .NET 10) does not check checksums: a damaged header would be taken at its word.
        if (!TarBlocks.ChecksumMatches(_header))
            throw new InvalidDataException("A header's checksum does not match the header.");
        if (!TarBlocks.TryParseSize(_header, out long size))
            throw new InvalidDataException("A header's size is not a number.");
        byte type = TarBlocks.Type(_header);
        if (type is (byte)'x' or (byte)'g')
        {
            ExtendedHeader(size, local: type == 'x');
            return;
        }
        // As TarReader has it: links, devices, directories and fifos have no data; an extended header's size overrides the header's.
        long data = type is >= (byte)'1' and <= (byte)'6' ? 0 : _paxSize ?? size;
        _paxSize = null;
        _dataLeft = TarBlocks.Padded(data);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void ExtendedHeader(long size, bool local)
    {
        if (size > MaxHeaderData)
            throw new InvalidDataException($"An extended header of {size} bytes is larger than any a layer needs.");
        int padded = (int)TarBlocks.Padded(size);
        if (_header.Length < Block + padded)
            Array.Resize(ref _header, Block + padded);
        int got = ReadFully(_header.AsSpan(Block, padded));
        _headerEnd = Block + got;
        if (got < padded)
        {
            _passThrough = true; // truncated: TarReader reports it
            return;
        }

        // Most extended headers hold no attributes (a long name, a precise mtime) and pass as they are.
        ReadOnlySpan<byte> records = _header.AsSpan(Block, (int)size);
        bool attributes = false;
        long? paxSize = null;
        while (TarBlocks.TryNextRecord(ref records, out var key, out var value))
        {
            attributes |= key.StartsWith("SCHILY.xattr."u8) || key.StartsWith("LIBARCHIVE.xattr."u8) || key.StartsWith("UNICORN.xattr."u8);
            if (key.SequenceEqual("size"u8) && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long s))
                paxSize = s;
        }
        // Refused here, not left to TarReader, which parses records differently and might see one we did not.
        if (!records.IsEmpty)
            throw new InvalidDataException("An extended header's records are malformed.");
        if (local)
            _paxSize = paxSize;
        if (!attributes)
            return;

        var body = new MemoryStream();
        foreach (var (key, value) in Rewrite(TarBlocks.ParseRecords(_header.AsSpan(Block, (int)size))!))
            TarBlocks.AppendRecord(body, key, value);
        int length = (int)body.Length, total = Block + (int)TarBlocks.Padded(length);
        if (_header.Length < total)
            Array.Resize(ref _header, total);
        TarBlocks.SetSizeAndChecksum(_header, length);
        body.GetBuffer().AsSpan(0, length).CopyTo(_header.AsSpan(Block));
        _header.AsSpan(Block + length, total - Block - length).Clear();
        _headerEnd = total;
    }

    /// <summary>The records as TarReader can take them: attributes re-encoded (SCHILY's raw
    /// value over LIBARCHIVE's copy), and a repeated key given once, its last value (which is
    /// what PAX means; TarReader would refuse the repetition).</summary>
    static List<(string Key, byte[] Value)> Rewrite(List<(string Key, byte[] Value)> records)
    {
        var kept = new List<(string Key, byte[] Value)>();
        var keptAt = new Dictionary<string, int>();
        var xattrs = new List<(string Name, byte[] Value, bool Raw)>();
        var xattrAt = new Dictionary<string, int>();
        foreach (var (key, value) in records)
        {
            if (key.StartsWith(SchilyKey, StringComparison.Ordinal))
                Put(key[SchilyKey.Length..], value, raw: true);
            else if (key.StartsWith(LibarchiveKey, StringComparison.Ordinal))
            {
                // libarchive's copy: the name URL-encoded, the value in base64 (possibly unpadded).
                var text = Encoding.ASCII.GetString(value);
                var padded = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
                var bytes = new byte[padded.Length];
                if (Convert.TryFromBase64String(padded, bytes, out int n))
                    Put(Uri.UnescapeDataString(key[LibarchiveKey.Length..]), bytes[..n], raw: false);
            }
            else if (!key.StartsWith(XattrKey, StringComparison.Ordinal)) // ours only: an archive cannot slip one in
            {
                if (keptAt.TryGetValue(key, out int at))
                    kept[at] = (key, value);
                else
                {
                    keptAt[key] = kept.Count;
                    kept.Add((key, value));
                }
            }
        }
        for (int i = 0; i < xattrs.Count; i++)
            kept.Add((XattrKey + i.ToString(CultureInfo.InvariantCulture),
                Encoding.ASCII.GetBytes(Convert.ToBase64String(Encoding.UTF8.GetBytes(xattrs[i].Name)) + " " + Convert.ToBase64String(xattrs[i].Value))));
        return kept;

        void Put(string name, byte[] value, bool raw)
        {
            if (!xattrAt.TryGetValue(name, out int at))
            {
                xattrAt[name] = xattrs.Count;
                xattrs.Add((name, value, raw));
            }
            else if (raw || !xattrs[at].Raw)
                xattrs[at] = (name, value, raw);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    int ReadFully(Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = ReadSource(buffer[total..]);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    /// <summary>From the read-ahead, or straight from the source for a large read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    int ReadSource(Span<byte> buffer)
    {
        if (_aheadPos == _aheadEnd)
        {
            if (buffer.Length >= _ahead.Length / 4)
                return source.Read(buffer);
            _aheadPos = 0;
            _aheadEnd = source.Read(_ahead);
        }
        int n = Math.Min(buffer.Length, _aheadEnd - _aheadPos);
        _ahead.AsSpan(_aheadPos, n).CopyTo(buffer);
        _aheadPos += n;
        return n;
    }

}
