using System.Formats.Tar;
using System.Globalization;
using System.Runtime.CompilerServices;
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
