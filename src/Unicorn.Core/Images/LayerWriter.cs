using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Images;

/// <summary>Writes a directory tree as an image layer: a tar in PAX format, reproducible (sorted
/// entries, no host names or times of its own), with ownership, modes, nanosecond mtimes, hard
/// links, devices and extended attributes.</summary>
public static class LayerWriter
{
    const string OverlayXattrs = "trusted.overlay.";
    // What an overlay mounted with redirect_dir or metacopy leaves in its upper directory: a
    // renamed directory's origin, a file whose data is still below. A layer cannot say either.
    static readonly string[] Unwritable = ["trusted.overlay.redirect", "trusted.overlay.metacopy"];

    /// <summary>Directories nested deeper than this are refused: each level holds a descriptor
    /// open while its children are written, and no real root filesystem comes near.</summary>
    public const int MaxDepth = 1024;

    /// <summary>Writes the tree at dir as a tar layer to output. With overlayUpper (dir is an
    /// overlayfs upper directory), overlay whiteouts (character devices 0/0) become ".wh.name"
    /// entries and opaque directories (trusted.overlay.opaque = "y") get a ".wh..wh..opq" entry,
    /// as the OCI image spec has it, and no other trusted.overlay.* attribute is written;
    /// without it the tree is written as it is.
    /// The tree may be changing meanwhile (a running container's rootfs, whose files are the
    /// container's to swap for symbolic links, FIFOs or devices at any moment): it is walked by
    /// directory descriptor, each name opened once relative to its parent's descriptor without
    /// following a symbolic link (O_PATH | O_NOFOLLOW), and what is written is what fstat says
    /// of that descriptor. Directories and regular files are then opened from it (never by name
    /// again); a symbolic link is read from it; a FIFO, device or socket is never opened.</summary>
    public static void Write(string dir, Stream output, bool overlayUpper)
    {
        var root = Path.GetFullPath(dir);
        int err = Libc.TryOpenDirectory(root, out int rootFd);
        if (err == Errno.ENOENT || err == Errno.ENOTDIR || Libc.IsLoop(err))
            throw new UnicornException("PathNotFound", ErrorKind.ObjectNotFound, $"There is no directory '{root}' to write as a layer.", root);
        if (err != 0)
            throw new NativeException(err, "open", root);
        try
        {
            var rootStatus = Libc.Fstat(rootFd, root);
            using var tar = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true);
            var tree = new TreeWriter(tar, output, overlayUpper);
            // The root itself has no entry (as in Docker's layers), but an opaque upper root hides everything below it.
            if (overlayUpper)
            {
                tree.Xattrs(rootFd, pathOnly: false, root, out bool opaque);
                if (opaque)
                    tree.Marker(LayerExtractor.OpaqueMarker, rootStatus);
            }
            tree.Children(rootFd, root, "", 0);
        }
        finally
        {
            Libc.Close(rootFd);
        }
    }

    /// <summary>Writes the file that pathFd (an O_PATH descriptor, which this closes) holds as
    /// the tar entry entryName, a directory with everything below it, by the same walk as
    /// <see cref="Write(string, Stream, bool)"/>; with contentOnly (a directory), only what is
    /// below it, as entryName/child ("" puts them at the top). What goes into the tar is what
    /// rules keep (a copy: Copy-UnicornItem).</summary>
    public static void WriteItem(int pathFd, string entryName, bool contentOnly, string shown, Stream output, CopyRules rules)
    {
        using var tar = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true);
        var tree = new TreeWriter(tar, output, overlayUpper: false, rules);
        if (!contentOnly)
        {
            int slash = entryName.LastIndexOf('/');
            tree.Child(pathFd, entryName[(slash + 1)..], shown, entryName[..(slash + 1)], 0);
            return;
        }
        try
        {
            int dirFd = Libc.OpenDirectoryOf(pathFd, shown);
            try { tree.Children(dirFd, shown, entryName.Length == 0 ? "" : entryName + "/", 0); }
            finally { Libc.Close(dirFd); }
        }
        finally
        {
            Libc.Close(pathFd);
        }
    }

    /// <summary>Writes the tree at dir as a tar layer (gzip-compressed with gzip) to the file
    /// path, replacing it only once the whole tar is written. The data goes first to an unnamed
    /// file in path's directory (O_TMPFILE), or where the file system has none to a new file of
    /// a random name (O_CREAT | O_EXCL | O_NOFOLLOW): never to a name someone could have made
    /// beforehand (a symbolic link, through a volume a container writes to).</summary>
    public static void WriteFile(string dir, string path, bool overlayUpper, bool gzip) => WriteFile(dir, path, overlayUpper, gzip, unnamed: true);

    /// <summary>As <see cref="WriteFile(string, string, bool, bool)"/>; without unnamed, straight
    /// to the named temporary file that is otherwise the fallback.</summary>
    internal static void WriteFile(string dir, string path, bool overlayUpper, bool gzip, bool unnamed)
    {
        var target = Path.GetFullPath(path);
        var parent = Path.GetDirectoryName(target)!;
        var name = Path.GetFileName(target);
        int dirFd = Libc.Open(parent, L.O_RDONLY | L.O_DIRECTORY);
        string? named = null; // the temporary name, once the file has one
        try
        {
            int fd = -1, err = unnamed ? Libc.TryOpenTemporaryFile(dirFd, 0b110_110_110, out fd) : Errno.EINVAL;
            unnamed = err == 0;
            if (!unnamed && Libc.IsTemporaryFileUnsupported(err))
                err = Libc.TryCreateExclusiveAt(dirFd, named = TemporaryName(name), 0b110_110_110, out fd);
            if (err != 0)
                throw new NativeException(err, "open", Path.Combine(parent, named ?? name));
            using (var file = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, 64 * 1024))
            {
                if (gzip)
                    using (var compressed = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true))
                        Write(dir, compressed, overlayUpper);
                else
                    Write(dir, file, overlayUpper);
                file.Flush();
                if (unnamed)
                    for (int attempt = 0; (err = Libc.TryLinkTemporaryFile(fd, dirFd, named = TemporaryName(name))) == Errno.EEXIST && attempt < 8; attempt++) { }
                if (err != 0)
                {
                    named = null;
                    throw new NativeException(err, "linkat", Path.Combine(parent, name));
                }
            }
            Libc.RenameAt(dirFd, named!, name, target);
            named = null;
        }
        finally
        {
            if (named is not null)
                try { Libc.UnlinkAt(dirFd, named); } catch (NativeException) { }
            Libc.Close(dirFd);
        }

        static string TemporaryName(string name) => $".{name}.{Convert.ToHexString(RandomNumberGenerator.GetBytes(12))}.tmp";
    }

    const uint SetIds = 0b110_000_000_000; // S_ISUID | S_ISGID

    sealed class TreeWriter(TarWriter tar, Stream output, bool overlayUpper, CopyRules? copy = null)
    {
        // A copy without Archive: the files become the copier's, so no setuid or setgid bit and no attribute goes with them.
        readonly bool _asCopier = copy is { Archive: false };
        // The first name of each inode with more than one link; later names become hard links to it.
        readonly Dictionary<(ulong Device, ulong Inode), string> _linked = [];

        /// <summary>Writes the entries of the directory open at dirFd (dirPath names it, for
        /// messages), depth directories below the root.</summary>
        public void Children(int dirFd, string dirPath, string prefix, int depth)
        {
            if (depth > MaxDepth)
                throw new UnicornException("TreeTooDeep", ErrorKind.LimitsExceeded,
                    $"'{dirPath}' is nested more than {MaxDepth} directories deep; no layer is written of so deep a tree. Flatten it (or remove it) and export again.", dirPath);
            var children = new List<(Libc.DirectoryEntry Entry, bool Whiteout)>();
            foreach (var entry in Libc.ReadDirectory(dirFd, dirPath))
            {
                // Only for the order: what is written is told again from the opened file.
                bool whiteout = overlayUpper && entry.Type is Libc.DirectoryEntry.DT_CHR or Libc.DirectoryEntry.DT_UNKNOWN
                    && Libc.TryStatAt(dirFd, entry.NameZ, out var st) && IsWhiteout(st);
                children.Add((entry, whiteout));
            }
            // Whiteouts first, as the spec recommends (before sibling directories), then by name: a stable order.
            children.Sort((a, b) => a.Whiteout != b.Whiteout ? (a.Whiteout ? -1 : 1) : string.CompareOrdinal(a.Entry.Name, b.Entry.Name));

            foreach (var (entry, _) in children)
            {
                int err = Libc.TryOpenPathAt(dirFd, entry.NameZ, out int fd);
                if (err == Errno.ENOENT)
                    continue; // gone meanwhile
                string full = dirPath + "/" + entry.Name;
                if (err != 0)
                    throw new NativeException(err, "openat O_PATH", full);
                Child(fd, entry.Name, full, prefix, depth);
            }
        }

        bool IsWhiteout(Libc.FileStatus st) => overlayUpper && st.Type == (uint)L.S_IFCHR && st.DeviceMajor == 0 && st.DeviceMinor == 0;

        /// <summary>Writes the file that pathFd (O_PATH) holds, and closes pathFd.</summary>
        public void Child(int pathFd, string name, string full, string prefix, int depth)
        {
            try
            {
                ChildOf(ref pathFd, Libc.Fstat(pathFd, full), name, full, prefix, depth);
            }
            finally
            {
                if (pathFd >= 0)
                    Libc.Close(pathFd);
            }
        }

        void ChildOf(ref int pathFd, Libc.FileStatus st, string name, string full, string prefix, int depth)
        {
            string tarName = prefix + name;
            if (IsWhiteout(st))
            {
                Marker(prefix + LayerExtractor.WhiteoutPrefix + name, st);
                return;
            }
            uint type = st.Type;
            if (type == (uint)L.S_IFSOCK)
                return; // a socket lives only while its process does; tar has no type for one
            if (copy is not null && (type == (uint)L.S_IFIFO || type == (uint)L.S_IFCHR || type == (uint)L.S_IFBLK))
            {
                copy.Skipped(full, type == (uint)L.S_IFIFO ? "a FIFO" : "a device");
                return;
            }
            if (type == (uint)L.S_IFDIR)
            {
                int dirFd = Libc.OpenDirectoryOf(pathFd, full);
                Libc.Close(pathFd); // one descriptor per level while the levels below are written
                pathFd = -1;
                try
                {
                    var xattrs = Xattrs(dirFd, pathOnly: false, full, out bool opaque);
                    Entry(TarEntryType.Directory, tarName + "/", st, xattrs);
                    if (opaque)
                        Marker(tarName + "/" + LayerExtractor.OpaqueMarker, st);
                    Children(dirFd, full, tarName + "/", depth + 1);
                }
                finally
                {
                    Libc.Close(dirFd);
                }
                return;
            }
            if (st.Links > 1)
            {
                if (_linked.TryGetValue((st.Device, st.Inode), out var first))
                {
                    Entry(TarEntryType.HardLink, tarName, st, [], linkName: first);
                    return;
                }
                _linked[(st.Device, st.Inode)] = tarName;
            }
            if (type == (uint)L.S_IFREG)
            {
                // Opened again from the O_PATH descriptor: this inode, known to be a regular file.
                int fd = Libc.Reopen(pathFd, L.O_RDONLY | L.O_NONBLOCK, full);
                using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
                var opened = Libc.Fstat(fd, full);
                var xattrs = Xattrs(fd, pathOnly: false, full, out _);
                if (opened.Size == 0)
                    Entry(TarEntryType.RegularFile, tarName, opened, xattrs);
                else
                    using (var data = new FixedLengthStream(handle, opened.Size))
                        Entry(TarEntryType.RegularFile, tarName, opened, xattrs, data: data);
                return;
            }
            var attributes = Xattrs(pathFd, pathOnly: true, full, out _);
            if (type == (uint)L.S_IFLNK)
                Entry(TarEntryType.SymbolicLink, tarName, st, attributes, linkName: Libc.ReadLink(pathFd, full));
            else if (type == (uint)L.S_IFIFO)
                Entry(TarEntryType.Fifo, tarName, st, attributes);
            else if (type == (uint)L.S_IFCHR)
                Entry(TarEntryType.CharacterDevice, tarName, st, attributes);
            else if (type == (uint)L.S_IFBLK)
                Entry(TarEntryType.BlockDevice, tarName, st, attributes);
        }

        /// <summary>An empty regular file that stands for a whiteout or an opaque directory.</summary>
        public void Marker(string tarName, Libc.FileStatus st) =>
            Entry(TarEntryType.RegularFile, tarName, st with { Mode = 0 }, []);

        /// <summary>The extended attributes of the file fd holds (an O_PATH descriptor if
        /// pathOnly), by name; the overlay's own are left out of an upper directory's layer
        /// (opaque tells of the one that is kept, as a marker).</summary>
        public List<(string, byte[])> Xattrs(int fd, bool pathOnly, string path, out bool opaque)
        {
            opaque = false;
            var result = new List<(string, byte[])>();
            if (_asCopier)
                return result;
            var names = Libc.ListXattrs(fd, pathOnly, path);
            Array.Sort(names, StringComparer.Ordinal);
            foreach (var name in names)
            {
                var value = Libc.GetXattr(fd, pathOnly, name, path);
                if (value is null)
                    continue;
                if (overlayUpper && Unwritable.Contains(name))
                    throw new UnicornException("UnsupportedOverlay", ErrorKind.InvalidOperation,
                        $"'{path}' has the overlay attribute {name}, which no layer can express. Use an overlay mounted with redirect_dir=off and metacopy=off.", path);
                if (overlayUpper && name.StartsWith(OverlayXattrs, StringComparison.Ordinal))
                    opaque |= name == LayerExtractor.OpaqueXattr && value.AsSpan().SequenceEqual("y"u8);
                else
                    result.Add((name, value));
            }
            return result;
        }

        /// <summary>Writes one entry: a ustar header through TarWriter, after a PAX header of our
        /// own where ustar cannot hold everything. (TarWriter's PAX headers could not carry binary
        /// attribute values, and name themselves after the writing process's id.)</summary>
        void Entry(TarEntryType type, string tarName, Libc.FileStatus st, List<(string Name, byte[] Value)> xattrs, string? linkName = null, Stream? data = null)
        {
            var pax = new List<(string Key, byte[] Value)>();
            long size = data?.Length ?? 0;
            if (_asCopier)
                st = st with { Uid = Libc.EffectiveUid, Gid = Libc.EffectiveGid, Mode = type == TarEntryType.Directory ? st.Mode : st.Mode & ~SetIds };
            string ustarName = TarBlocks.FitsUstar(tarName) ? tarName : Paxed("path", tarName);
            string? ustarLink = linkName is null || TarBlocks.FitsUstar(linkName) ? linkName : Paxed("linkpath", linkName);
            long seconds = st.MtimeSeconds;
            if (st.MtimeNanoseconds != 0 || seconds < 0 || seconds > TarBlocks.UstarMaxSize)
            {
                pax.Add(("mtime", Encoding.ASCII.GetBytes(TarBlocks.FormatTime(seconds, st.MtimeNanoseconds))));
                seconds = Math.Clamp(seconds, 0, TarBlocks.UstarMaxSize);
            }
            uint uid = st.Uid <= TarBlocks.UstarMaxId ? st.Uid : Numeric("uid", st.Uid);
            uint gid = st.Gid <= TarBlocks.UstarMaxId ? st.Gid : Numeric("gid", st.Gid);
            bool huge = size > TarBlocks.UstarMaxSize;
            if (huge)
                Numeric("size", size);
            foreach (var (name, value) in xattrs)
                pax.Add(("SCHILY.xattr." + name, value));
            if (pax.Count > 0)
                TarBlocks.WritePaxHeader(output, tarName, pax);

            // GNU headers hold a size past 8 GiB in base-256; the PAX size says the same to everyone else.
            PosixTarEntry entry = huge ? new GnuTarEntry(type, ustarName) : new UstarTarEntry(type, ustarName);
            entry.Mode = (UnixFileMode)(st.Mode & 0xFFF);
            entry.Uid = (int)uid;
            entry.Gid = (int)gid;
            entry.ModificationTime = DateTimeOffset.FromUnixTimeSeconds(seconds);
            if (ustarLink is not null)
                entry.LinkName = ustarLink;
            if (type is TarEntryType.CharacterDevice or TarEntryType.BlockDevice)
            {
                entry.DeviceMajor = (int)st.DeviceMajor;
                entry.DeviceMinor = (int)st.DeviceMinor;
            }
            if (data is not null)
                entry.DataStream = data;
            tar.WriteEntry(entry);

            string Paxed(string key, string value)
            {
                pax.Add((key, Encoding.UTF8.GetBytes(value)));
                return TarBlocks.UstarPlaceholder(value);
            }

            uint Numeric(string key, long value)
            {
                pax.Add((key, Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture))));
                return 0;
            }
        }

        /// <summary>A regular file's data as a tar entry holds it: exactly the size fstat said
        /// when it was opened, read with pread. Bytes written past it are left out, and a file
        /// cut short meanwhile is padded with zeros (as GNU tar does): the archive stays whole.</summary>
        sealed class FixedLengthStream(Microsoft.Win32.SafeHandles.SafeFileHandle file, long length) : Stream
        {
            long _position;
            public override bool CanRead => true;
            public override bool CanSeek => true;
            public override bool CanWrite => false;
            public override long Length => length;
            public override long Position { get => _position; set => _position = Math.Clamp(value, 0, length); }
            public override void Flush() { }
            public override long Seek(long offset, SeekOrigin origin) =>
                Position = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => _position + offset, _ => length + offset };
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

            public override int Read(Span<byte> buffer)
            {
                var wanted = buffer[..(int)Math.Min(buffer.Length, length - _position)];
                if (wanted.IsEmpty)
                    return 0;
                int n = RandomAccess.Read(file, wanted, _position);
                if (n == 0)
                {
                    wanted.Clear(); // shrank: zeros, to the size the header gave
                    n = wanted.Length;
                }
                _position += n;
                return n;
            }
        }
    }
}
