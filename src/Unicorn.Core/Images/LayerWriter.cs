using System.Formats.Tar;
using System.Globalization;
using System.IO.Enumeration;
using System.Runtime.CompilerServices;
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

    /// <summary>Writes the tree at dir as a tar layer to output. With overlayUpper (dir is an
    /// overlayfs upper directory), overlay whiteouts (character devices 0/0) become ".wh.name"
    /// entries and opaque directories (trusted.overlay.opaque = "y") get a ".wh..wh..opq" entry,
    /// as the OCI image spec has it, and no other trusted.overlay.* attribute is written;
    /// without it the tree is written as it is.</summary>
    public static void Write(string dir, Stream output, bool overlayUpper)
    {
        var root = Path.GetFullPath(dir);
        if (!Libc.TryLStat(root, out var rootStatus) || !rootStatus.IsDirectory)
            throw new UnicornException("PathNotFound", ErrorKind.ObjectNotFound, $"There is no directory '{root}' to write as a layer.", root);
        using var tar = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true);
        var tree = new TreeWriter(tar, output, overlayUpper);
        // The root itself has no entry (as in Docker's layers), but an opaque upper root hides everything below it.
        if (overlayUpper)
        {
            tree.Xattrs(root, out bool opaque);
            if (opaque)
                tree.Marker(LayerExtractor.OpaqueMarker, rootStatus);
        }
        tree.Children(root, "");
    }

    sealed class TreeWriter(TarWriter tar, Stream output, bool overlayUpper)
    {
        // The first name of each inode with more than one link; later names become hard links to it.
        readonly Dictionary<(ulong Device, ulong Inode), string> _linked = [];

        public void Children(string dir, string prefix)
        {
            var children = new List<(string Name, Libc.FileStatus Status, bool Whiteout)>();
            foreach (var name in Names(dir))
            {
                if (!Libc.TryLStat(Path.Combine(dir, name), out var st))
                    continue; // gone meanwhile
                bool whiteout = overlayUpper && st.Type == (uint)L.S_IFCHR && st.DeviceMajor == 0 && st.DeviceMinor == 0;
                children.Add((name, st, whiteout));
            }
            // Whiteouts first, as the spec recommends (before sibling directories), then by name: a stable order.
            children.Sort((a, b) => a.Whiteout != b.Whiteout ? (a.Whiteout ? -1 : 1) : string.CompareOrdinal(a.Name, b.Name));

            foreach (var (name, st, whiteout) in children)
            {
                string full = Path.Combine(dir, name), tarName = prefix + name;
                if (whiteout)
                {
                    Marker(prefix + LayerExtractor.WhiteoutPrefix + name, st);
                    continue;
                }
                uint type = st.Type;
                if (type == (uint)L.S_IFSOCK)
                    continue; // a socket lives only while its process does; tar has no type for one
                if (type != (uint)L.S_IFDIR && st.Links > 1)
                {
                    if (_linked.TryGetValue((st.Device, st.Inode), out var first))
                    {
                        Entry(TarEntryType.HardLink, tarName, st, [], linkName: first);
                        continue;
                    }
                    _linked[(st.Device, st.Inode)] = tarName;
                }
                var xattrs = Xattrs(full, out bool opaque);
                if (type == (uint)L.S_IFDIR)
                {
                    Entry(TarEntryType.Directory, tarName + "/", st, xattrs);
                    if (opaque)
                        Marker(tarName + "/" + LayerExtractor.OpaqueMarker, st);
                    Children(full, tarName + "/");
                }
                else if (type == (uint)L.S_IFREG)
                    RegularFile(full, tarName, st, xattrs);
                else if (type == (uint)L.S_IFLNK)
                    Entry(TarEntryType.SymbolicLink, tarName, st, xattrs, linkName: new FileInfo(full).LinkTarget ?? "");
                else if (type == (uint)L.S_IFIFO)
                    Entry(TarEntryType.Fifo, tarName, st, xattrs);
                else if (type == (uint)L.S_IFCHR)
                    Entry(TarEntryType.CharacterDevice, tarName, st, xattrs);
                else if (type == (uint)L.S_IFBLK)
                    Entry(TarEntryType.BlockDevice, tarName, st, xattrs);
            }
        }

        void RegularFile(string full, string tarName, Libc.FileStatus st, List<(string, byte[])> xattrs)
        {
            if (st.Size == 0)
            {
                Entry(TarEntryType.RegularFile, tarName, st, xattrs);
                return;
            }
            using var data = new FileStream(File.OpenHandle(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.SequentialScan), FileAccess.Read, bufferSize: 0);
            Entry(TarEntryType.RegularFile, tarName, st, xattrs, data: data);
        }

        /// <summary>An empty regular file that stands for a whiteout or an opaque directory.</summary>
        public void Marker(string tarName, Libc.FileStatus st) =>
            Entry(TarEntryType.RegularFile, tarName, st with { Mode = 0 }, []);

        /// <summary>The extended attributes of path, by name; the overlay's own are left out of an
        /// upper directory's layer (opaque tells of the one that is kept, as a marker).</summary>
        public List<(string, byte[])> Xattrs(string path, out bool opaque)
        {
            opaque = false;
            var result = new List<(string, byte[])>();
            var names = Libc.LListXattr(path);
            Array.Sort(names, StringComparer.Ordinal);
            foreach (var name in names)
            {
                var value = Libc.LGetXattr(path, name);
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

        static List<string> Names(string dir) =>
            new FileSystemEnumerable<string>(dir, (ref FileSystemEntry e) => e.FileName.ToString(),
                new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false }).ToList();
    }
}

/// <summary>The parts of the tar format that System.Formats.Tar leaves out: PAX extended headers
/// whose values are bytes (SCHILY.xattr values are raw, which TarReader and TarWriter take as
/// UTF-8 text without newlines), and the numbers and checksums of header blocks.</summary>
static class TarBlocks
{
    public const int BlockSize = 512;
    public const long UstarMaxSize = (1L << 33) - 1; // 11 octal digits
    public const uint UstarMaxId = (1u << 21) - 1;   // 7 octal digits
    const int NameLength = 100, SizeOffset = 124, SizeLength = 12, ChecksumOffset = 148, ChecksumLength = 8, TypeOffset = 156;

    public static long Padded(long size) => (size + BlockSize - 1) / BlockSize * BlockSize;

    /// <summary>Can a ustar name field hold name as it is (PAX then needs no path record)?</summary>
    public static bool FitsUstar(string name) => name.Length <= NameLength && Ascii.IsValid(name);

    /// <summary>What a ustar field shows of a name that a PAX record carries: its ASCII, cut short.</summary>
    public static string UstarPlaceholder(string name)
    {
        var ascii = string.Create(name.Length, name, (span, n) => { for (int i = 0; i < n.Length; i++) span[i] = n[i] < 128 ? n[i] : '_'; });
        return ascii.Length <= NameLength ? ascii : ascii[..NameLength];
    }

    /// <summary>A PAX time: seconds, and the fraction without trailing zeros.</summary>
    public static string FormatTime(long seconds, long nanoseconds)
    {
        if (nanoseconds == 0)
            return seconds.ToString(CultureInfo.InvariantCulture);
        // A negative time counts the fraction away from zero too: -1.5 is sec -2, nsec 500000000.
        bool negative = seconds < 0;
        if (negative)
            (seconds, nanoseconds) = (-(seconds + 1), 1_000_000_000 - nanoseconds);
        return $"{(negative ? "-" : "")}{seconds.ToString(CultureInfo.InvariantCulture)}.{nanoseconds.ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0')}";
    }

    /// <summary>Appends the record "length key=value\n", the length counting its own digits.</summary>
    public static void AppendRecord(Stream to, string key, ReadOnlySpan<byte> value)
    {
        int body = 1 + Encoding.UTF8.GetByteCount(key) + 1 + value.Length + 1;
        int length = body + 1;
        while (Digits(length) + body != length)
            length = Digits(length) + body;
        to.Write(Encoding.ASCII.GetBytes(length.ToString(CultureInfo.InvariantCulture) + " "));
        to.Write(Encoding.UTF8.GetBytes(key));
        to.WriteByte((byte)'=');
        to.Write(value);
        to.WriteByte((byte)'\n');

        static int Digits(int n) => n.ToString(CultureInfo.InvariantCulture).Length;
    }

    /// <summary>The records of a PAX header's data, values as bytes; null if they are malformed.</summary>
    public static List<(string Key, byte[] Value)>? ParseRecords(ReadOnlySpan<byte> data)
    {
        var records = new List<(string, byte[])>();
        while (TryNextRecord(ref data, out var key, out var value))
            records.Add((Encoding.UTF8.GetString(key), value.ToArray()));
        return data.IsEmpty ? records : null;
    }

    /// <summary>Takes the next record off data; false at its end, or (data left) at a malformed record.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryNextRecord(ref ReadOnlySpan<byte> data, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        key = value = default;
        int space = data.IndexOf((byte)' ');
        if (space <= 0 || !int.TryParse(data[..space], NumberStyles.None, CultureInfo.InvariantCulture, out int length)
            || length <= space + 1 || length > data.Length || data[length - 1] != (byte)'\n')
            return false;
        var record = data[(space + 1)..(length - 1)];
        int equals = record.IndexOf((byte)'=');
        if (equals <= 0)
            return false;
        key = record[..equals];
        value = record[(equals + 1)..];
        data = data[length..];
        return true;
    }

    /// <summary>Writes a PAX extended header ('x') with records for the entry named entryName.
    /// Its own name is fixed (as Go's archive/tar writes it), so that equal trees give equal tars.</summary>
    public static void WritePaxHeader(Stream output, string entryName, List<(string Key, byte[] Value)> records)
    {
        var data = new MemoryStream();
        foreach (var (key, value) in records)
            AppendRecord(data, key, value);
        var trimmed = entryName.TrimEnd('/');
        int slash = trimmed.LastIndexOf('/');
        var name = UstarPlaceholder(slash < 0 ? "PaxHeaders.0/" + trimmed : $"{trimmed[..slash]}/PaxHeaders.0/{trimmed[(slash + 1)..]}");

        var block = new byte[BlockSize];
        Encoding.ASCII.GetBytes(name, block);
        "0000644\0"u8.CopyTo(block.AsSpan(100));
        "0000000\0"u8.CopyTo(block.AsSpan(108));
        "0000000\0"u8.CopyTo(block.AsSpan(116));
        "00000000000\0"u8.CopyTo(block.AsSpan(136));
        block[TypeOffset] = (byte)'x';
        "ustar\0"u8.CopyTo(block.AsSpan(257));
        "00"u8.CopyTo(block.AsSpan(263));
        SetSizeAndChecksum(block, data.Length);
        output.Write(block);
        output.Write(data.GetBuffer().AsSpan(0, (int)data.Length));
        output.Write(new byte[Padded(data.Length) - data.Length]);
    }

    public static byte Type(ReadOnlySpan<byte> block) => block[TypeOffset];

    public static bool TryParseSize(ReadOnlySpan<byte> block, out long size) => TryParseNumber(block.Slice(SizeOffset, SizeLength), out size);

    /// <summary>The end of an archive, as TarReader tells it: a header without a checksum.</summary>
    public static bool IsEnd(ReadOnlySpan<byte> block) => !block.Slice(ChecksumOffset, ChecksumLength).ContainsAnyExcept((byte)0);

    /// <summary>Does the header's checksum match it? (Summed as unsigned bytes, or signed as some old tars did.)</summary>
    public static bool ChecksumMatches(ReadOnlySpan<byte> block) =>
        TryParseNumber(block.Slice(ChecksumOffset, ChecksumLength), out long stored) && (stored == Checksum(block) || stored == Checksum(block, signed: true));

    public static void SetSizeAndChecksum(Span<byte> block, long size)
    {
        Encoding.ASCII.GetBytes(Convert.ToString(size, 8).PadLeft(SizeLength - 1, '0') + "\0", block.Slice(SizeOffset, SizeLength));
        Encoding.ASCII.GetBytes(Convert.ToString(Checksum(block), 8).PadLeft(6, '0') + "\0 ", block.Slice(ChecksumOffset, ChecksumLength));
    }

    /// <summary>The sum of a header's bytes, its checksum field counted as spaces.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static long Checksum(ReadOnlySpan<byte> block, bool signed = false)
    {
        long sum = ' ' * ChecksumLength;
        foreach (var b in block[..BlockSize])
            sum += signed ? (sbyte)b : b;
        foreach (var b in block.Slice(ChecksumOffset, ChecksumLength))
            sum -= signed ? (sbyte)b : b;
        return sum;
    }

    /// <summary>A numeric header field: octal text, or base-256 when its first bit is set (GNU).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static bool TryParseNumber(ReadOnlySpan<byte> field, out long value)
    {
        value = 0;
        if ((field[0] & 0x80) != 0)
        {
            if (field[0] != 0x80 || field[1..^8].ContainsAnyExcept((byte)0))
                return false; // negative, or past a long
            foreach (var b in field[^8..])
                value = (value << 8) | b;
            return value >= 0;
        }
        var text = field.Trim((byte)' ').TrimEnd((byte)0).TrimEnd((byte)' ');
        foreach (var b in text)
        {
            if (b < '0' || b > '7' || value > long.MaxValue >> 3)
                return false;
            value = (value << 3) | (uint)(b - '0');
        }
        return true;
    }
}
