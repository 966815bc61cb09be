using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using Unicorn.Images;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Tests;

/// <summary>A layer directory inside a sentinel directory: whatever escapes the layer shows up
/// in the sentinel (or, for a path that climbs further, is checked for by name).</summary>
sealed class LayerSandbox : IDisposable
{
    public string Sentinel { get; } = Directory.CreateTempSubdirectory("unicorn-layer-").FullName;
    public string Dir { get; }

    public LayerSandbox(string name = "layer")
    {
        Dir = Path.Combine(Sentinel, name);
        Directory.CreateDirectory(Dir);
    }

    public string In(string relative) => Path.Combine(Dir, relative);

    /// <summary>Asserts the sentinel holds nothing but the layer (and what the test put there).</summary>
    public void AssertNothingOutside(params string[] alsoThere) =>
        Assert.Equal(new[] { Path.GetFileName(Dir) }.Concat(alsoThere).Order(StringComparer.Ordinal),
            Directory.EnumerateFileSystemEntries(Sentinel).Select(Path.GetFileName).Order(StringComparer.Ordinal));

    public void Dispose() => Directory.Delete(Sentinel, recursive: true);
}

static class Tars
{
    public static int Oct(string digits) => Convert.ToInt32(digits, 8);

    public static uint Mode(Tmds.Linux.mode_t type, string permissions) => (uint)type | (uint)Oct(permissions);

    public static readonly DateTimeOffset Time = DateTimeOffset.FromUnixTimeSeconds(1_000_000_000).AddTicks(5_000_000); // .5 s

    public static MemoryStream Build(params TarEntry[] entries)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
            foreach (var e in entries)
                w.WriteEntry(e);
        ms.Position = 0;
        return ms;
    }

    public static PaxTarEntry File(string name, string content = "", int mode = 420, int uid = 0, int gid = 0, DateTimeOffset? mtime = null, Dictionary<string, string>? pax = null)
    {
        var e = new PaxTarEntry(TarEntryType.RegularFile, name, pax ?? []);
        e.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content));
        (e.Mode, e.Uid, e.Gid, e.ModificationTime) = ((UnixFileMode)mode, uid, gid, mtime ?? Time);
        return e;
    }

    public static PaxTarEntry Dir(string name, int mode = 493, int uid = 0, int gid = 0, DateTimeOffset? mtime = null, Dictionary<string, string>? pax = null)
    {
        var e = new PaxTarEntry(TarEntryType.Directory, name, pax ?? []);
        (e.Mode, e.Uid, e.Gid, e.ModificationTime) = ((UnixFileMode)mode, uid, gid, mtime ?? Time);
        return e;
    }

    public static PaxTarEntry Link(TarEntryType type, string name, string target)
    {
        var e = new PaxTarEntry(type, name) { LinkName = target, ModificationTime = Time };
        return e;
    }

    public static PaxTarEntry Device(TarEntryType type, string name, int major, int minor, int mode = 420)
    {
        var e = new PaxTarEntry(type, name) { Mode = (UnixFileMode)mode, ModificationTime = Time };
        if (type != TarEntryType.Fifo)
            (e.DeviceMajor, e.DeviceMinor) = (major, minor);
        return e;
    }

    public static Libc.FileStatus Stat(string path)
    {
        Assert.True(Libc.TryLStat(path, out var st), $"{path} is missing");
        return st;
    }

    /// <summary>A file capability (vfs_cap_data v2: cap_setuid, cap_dac_override, cap_fowner
    /// permitted; dac_override, fowner inheritable) whose bytes hold 0x8a and a newline, which
    /// are not UTF-8 text.</summary>
    public static readonly byte[] Capability = [0x01, 0, 0, 0x02, 0x8a, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>Every file below dir, described by what a layer must keep of it.</summary>
    public static List<string> Describe(string dir)
    {
        var result = new List<string>();
        var firstOfInode = new Dictionary<ulong, string>();
        foreach (var full in Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal))
        {
            var rel = Path.GetRelativePath(dir, full);
            var st = Stat(full);
            var sb = new StringBuilder($"{rel} type={st.Type >> 12} mode={Convert.ToString(st.Mode & 0xFFF, 8)} owner={st.Uid}:{st.Gid} mtime={st.MtimeSeconds}.{st.MtimeNanoseconds:D9}");
            if (!st.IsDirectory && st.Links > 1 && !firstOfInode.TryAdd(st.Inode, rel))
                sb.Append($" hardlink-of={firstOfInode[st.Inode]}");
            if (st.Type == (uint)L.S_IFREG)
                sb.Append($" sha={Convert.ToHexString(SHA256.HashData(System.IO.File.ReadAllBytes(full)))}");
            if (st.Type == (uint)L.S_IFLNK)
                sb.Append($" -> {new FileInfo(full).LinkTarget}");
            if (st.Type is var t && (t == (uint)L.S_IFCHR || t == (uint)L.S_IFBLK))
                sb.Append($" dev={st.DeviceMajor},{st.DeviceMinor}");
            foreach (var name in Libc.LListXattr(full).Order(StringComparer.Ordinal))
                sb.Append($" {name}={Convert.ToHexString(Libc.LGetXattr(full, name)!)}");
            result.Add(sb.ToString());
        }
        return result;
    }
}

[Trait("Category", "Root")] // mounts, owners, device nodes, cgroups or containers: needs root
public class LayerExtractionTests
{
    [Fact]
    public void ExtractsFilesDirectoriesLinksAndNodesWithTheirMetadata()
    {
        using var box = new LayerSandbox();
        var dirTime = DateTimeOffset.FromUnixTimeSeconds(1_200_000_000);
        var tar = Tars.Build(
            Tars.Dir("bin/", mode: Tars.Oct("750"), uid: 7, gid: 8, mtime: dirTime),
            Tars.File("bin/su", "setuid program", mode: Tars.Oct("4755"), uid: 1000, gid: 1001,
                pax: new() { ["SCHILY.xattr.user.comment"] = "kept", ["atime"] = "1100000000.25" }),
            Tars.File("bin/shared", "group sticky", mode: Tars.Oct("3775")),
            Tars.Link(TarEntryType.SymbolicLink, "bin/sh", "../usr/bin/busybox"),
            Tars.Link(TarEntryType.HardLink, "bin/su2", "bin/su"),
            Tars.Device(TarEntryType.Fifo, "run/pipe", 0, 0, mode: Tars.Oct("620")),
            Tars.Device(TarEntryType.CharacterDevice, "dev/null", 1, 3, mode: Tars.Oct("666")),
            Tars.Device(TarEntryType.BlockDevice, "dev/loop0", 7, 0, mode: Tars.Oct("660")));

        long written = LayerExtractor.Extract(tar, box.Dir);

        Assert.Equal("setuid program".Length + "group sticky".Length, written);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1_100_000_000.25), File.GetLastAccessTimeUtc(box.In("bin/su"))); // before a read moves it
        Assert.Equal("setuid program", File.ReadAllText(box.In("bin/su")));
        var su = Tars.Stat(box.In("bin/su"));
        Assert.Equal(Tars.Mode(L.S_IFREG, "4755"), su.Mode); // setuid survives the chown
        Assert.Equal((1000u, 1001u), (su.Uid, su.Gid));
        Assert.Equal((1_000_000_000L, 500_000_000L), (su.MtimeSeconds, su.MtimeNanoseconds));
        Assert.Equal("kept"u8.ToArray(), Libc.LGetXattr(box.In("bin/su"), "user.comment"));
        Assert.Equal(Tars.Oct("3775"), (int)(Tars.Stat(box.In("bin/shared")).Mode & 0xFFF));

        var bin = Tars.Stat(box.In("bin"));
        Assert.Equal(Tars.Mode(L.S_IFDIR, "750"), bin.Mode);
        Assert.Equal((7u, 8u), (bin.Uid, bin.Gid));
        Assert.Equal(1_200_000_000L, bin.MtimeSeconds); // set after its files were made

        Assert.Equal("../usr/bin/busybox", new FileInfo(box.In("bin/sh")).LinkTarget);
        Assert.Equal(su.Inode, Tars.Stat(box.In("bin/su2")).Inode);
        Assert.Equal(2UL, Tars.Stat(box.In("bin/su2")).Links);

        var pipe = Tars.Stat(box.In("run/pipe"));
        Assert.Equal(Tars.Mode(L.S_IFIFO, "620"), pipe.Mode);
        var nul = Tars.Stat(box.In("dev/null"));
        Assert.Equal((Tars.Mode(L.S_IFCHR, "666"), 1u, 3u), (nul.Mode, nul.DeviceMajor, nul.DeviceMinor));
        var loop = Tars.Stat(box.In("dev/loop0"));
        Assert.Equal(((uint)L.S_IFBLK, 7u, 0u), (loop.Type, loop.DeviceMajor, loop.DeviceMinor));
        Assert.Equal(Tars.Mode(L.S_IFDIR, "755"), Tars.Stat(box.In("run")).Mode); // made for its entry, as tar does
        box.AssertNothingOutside();
    }

    [Fact]
    public void TurnsWhiteoutsIntoOverlayWhiteoutsAndOpaqueMarkersIntoTheAttribute()
    {
        using var box = new LayerSandbox();
        var tar = Tars.Build(
            Tars.Dir("etc/"),
            Tars.File("etc/.wh.passwd"),
            Tars.Dir("var/"),
            Tars.File("var/.wh..wh..opq"),
            Tars.File("var/new", "kept: an opaque directory hides only the layers below"),
            Tars.File("opt/.wh..wh..opq"), // its directory has no entry of its own
            Tars.File(".wh..wh.plnk"),     // aufs bookkeeping
            Tars.File("usr/evil", pax: new() { ["SCHILY.xattr.trusted.overlay.redirect"] = "/etc", ["SCHILY.xattr.trusted.overlay.opaque"] = "y" }));

        LayerExtractor.Extract(tar, box.Dir);

        var whiteout = Tars.Stat(box.In("etc/passwd"));
        Assert.Equal(((uint)L.S_IFCHR, 0u, 0u), (whiteout.Type, whiteout.DeviceMajor, whiteout.DeviceMinor));
        Assert.False(Path.Exists(box.In("etc/.wh.passwd")));
        Assert.Equal("y"u8.ToArray(), Libc.LGetXattr(box.In("var"), LayerExtractor.OpaqueXattr));
        Assert.Equal("y"u8.ToArray(), Libc.LGetXattr(box.In("opt"), LayerExtractor.OpaqueXattr));
        Assert.True(File.Exists(box.In("var/new")));
        Assert.Null(Libc.LGetXattr(box.In("etc"), LayerExtractor.OpaqueXattr));
        Assert.False(Path.Exists(box.In(".wh..wh.plnk")));
        // An archive cannot steer overlayfs, but may mark a directory opaque (a file here, which overlayfs ignores).
        Assert.Equal(new[] { "trusted.overlay.opaque" }, Libc.LListXattr(box.In("usr/evil")));
        box.AssertNothingOutside();
    }

    [Fact]
    public void KeepsBinaryAttributeValuesExactly()
    {
        // TarWriter cannot write these values (not UTF-8, a newline): a PAX header of our own carries them, as Go's archive/tar writes them.
        using var box = new LayerSandbox();
        var tar = new MemoryStream();
        TarBlocks.WritePaxHeader(tar, "ping", [
            ("SCHILY.xattr.security.capability", Tars.Capability),
            ("LIBARCHIVE.xattr.user.from%20libarchive", "AQIDCgQ"u8.ToArray()), // base64 of 01 02 03 0a 04, unpadded
            ("SCHILY.xattr.user.both", [0xff, 0x0a]),
            ("LIBARCHIVE.xattr.user.both", "AAAA"u8.ToArray()), // the raw SCHILY value wins
        ]);
        using (var w = new TarWriter(tar, TarEntryFormat.Ustar, leaveOpen: true))
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "ping") { DataStream = new MemoryStream("elf"u8.ToArray()), Mode = (UnixFileMode)Tars.Oct("755") });
        tar.Position = 0;

        LayerExtractor.Extract(tar, box.Dir);

        Assert.Equal(Tars.Capability, Libc.LGetXattr(box.In("ping"), "security.capability"));
        Assert.Equal(new byte[] { 1, 2, 3, 10, 4 }, Libc.LGetXattr(box.In("ping"), "user.from libarchive"));
        Assert.Equal(new byte[] { 0xff, 0x0a }, Libc.LGetXattr(box.In("ping"), "user.both"));
    }

    [Fact]
    public void TakesTheLastOfRepeatedRecordsAndNoneOfOurOwn()
    {
        using var box = new LayerSandbox();
        var tar = new MemoryStream();
        TarBlocks.WritePaxHeader(tar, "f", [
            ("path", "first"u8.ToArray()),
            ("path", "second"u8.ToArray()),
            ("UNICORN.xattr.0", Encoding.ASCII.GetBytes(Convert.ToBase64String("user.smuggled"u8) + " " + Convert.ToBase64String("x"u8))),
            ("SCHILY.xattr.user.real", "1"u8.ToArray()),
        ]);
        using (var w = new TarWriter(tar, TarEntryFormat.Ustar, leaveOpen: true))
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "f"));
        tar.Position = 0;

        LayerExtractor.Extract(tar, box.Dir);

        Assert.Equal(new[] { "second" }, Directory.EnumerateFileSystemEntries(box.Dir).Select(Path.GetFileName));
        Assert.Equal(new[] { "user.real" }, Libc.LListXattr(box.In("second")));
    }

    [Fact]
    public void ReadsGnuLongNames()
    {
        using var box = new LayerSandbox();
        var name = string.Join('/', Enumerable.Repeat(new string('d', 60), 5)) + "/file";
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Gnu, leaveOpen: true))
        {
            w.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream("long"u8.ToArray()) });
            w.WriteEntry(new GnuTarEntry(TarEntryType.SymbolicLink, "link") { LinkName = name });
        }
        ms.Position = 0;
        LayerExtractor.Extract(ms, box.Dir);
        Assert.Equal("long", File.ReadAllText(box.In(name)));
        Assert.Equal(name, new FileInfo(box.In("link")).LinkTarget);
    }

    [Fact]
    public void LaterEntriesReplaceEarlierOnes()
    {
        using var box = new LayerSandbox();
        var tar = Tars.Build(
            Tars.File("a", "file first"),
            Tars.Dir("a/"),                    // a directory over a file
            Tars.File("a/child", "stays"),
            Tars.Dir("a/", mode: Tars.Oct("700")), // a directory over a directory: new metadata, same content
            Tars.Dir("b/"),
            Tars.File("b/x"),
            Tars.File("b", "a file over a directory"),
            Tars.File("c", "old"),
            Tars.Link(TarEntryType.SymbolicLink, "c", "elsewhere"),
            Tars.Link(TarEntryType.HardLink, "d", "c"),
            Tars.File("d", "new content, not written through the link"));

        LayerExtractor.Extract(tar, box.Dir);

        Assert.Equal("stays", File.ReadAllText(box.In("a/child")));
        Assert.Equal(Tars.Mode(L.S_IFDIR, "700"), Tars.Stat(box.In("a")).Mode);
        Assert.Equal("a file over a directory", File.ReadAllText(box.In("b")));
        Assert.Equal("elsewhere", new FileInfo(box.In("c")).LinkTarget);
        Assert.Equal("new content, not written through the link", File.ReadAllText(box.In("d")));
        Assert.Equal(1UL, Tars.Stat(box.In("d")).Links);
    }

    [Fact]
    public void AppliesTheRootEntryToTheDirectory()
    {
        using var box = new LayerSandbox();
        LayerExtractor.Extract(Tars.Build(Tars.Dir("./", mode: Tars.Oct("755"), mtime: Tars.Time), Tars.File("./etc/hostname", "x")), box.Dir);
        Assert.Equal(Tars.Mode(L.S_IFDIR, "755"), Tars.Stat(box.Dir).Mode);
        Assert.Equal(1_000_000_000L, Tars.Stat(box.Dir).MtimeSeconds);
        Assert.Equal("x", File.ReadAllText(box.In("etc/hostname")));
    }

    [Fact]
    public void WithoutOpenat2ExtractsPlainPathsAndRefusesSymlinkedOnes()
    {
        using var box = new LayerSandbox();
        LayerExtractor.Extract(Tars.Build(Tars.Dir("etc/"), Tars.File("etc/a/b/c", "deep"), Tars.Link(TarEntryType.SymbolicLink, "etc/link", "a")), box.Dir, resolveInKernel: false);
        Assert.Equal("deep", File.ReadAllText(box.In("etc/a/b/c")));

        using var other = new LayerSandbox();
        var e = Assert.Throws<UnicornException>(() => LayerExtractor.Extract(
            Tars.Build(Tars.Link(TarEntryType.SymbolicLink, "link", "/"), Tars.File("link/escaped", "x")), other.Dir, resolveInKernel: false));
        Assert.Equal("UnsafeArchive", e.ErrorId);
        other.AssertNothingOutside();
    }
}

[Trait("Category", "Root")] // mounts, owners, device nodes, cgroups or containers: needs root
public class HostileLayerTests
{
    static readonly string Unique = $"unicorn-escape-{Guid.NewGuid():N}";

    static void AssertNotAtRoot() => Assert.False(Path.Exists("/" + Unique), "a file was written at /");

    [Theory]
    [InlineData("../escape", "escape")]
    [InlineData("../../../../../../escape", "escape")]
    [InlineData("/abs/file", "abs/file")]
    [InlineData("./a/../../escape", "escape")]
    [InlineData("a/../../escape/", "escape")]
    [InlineData("a//b/./c", "a/b/c")]
    public void NamesAreCleanedInsideTheLayer(string name, string landsAt)
    {
        using var box = new LayerSandbox();
        LayerExtractor.Extract(Tars.Build(Tars.File(name, "contained")), box.Dir);
        Assert.Equal("contained", File.ReadAllText(box.In(landsAt)));
        box.AssertNothingOutside();
    }

    [Theory]
    [InlineData("/")]
    [InlineData("../../../..")]
    [InlineData("..")]
    public void SymlinksInAPathResolveInsideTheLayer(string target)
    {
        using var box = new LayerSandbox();
        LayerExtractor.Extract(Tars.Build(
            Tars.Link(TarEntryType.SymbolicLink, "link", target),
            Tars.File($"link/{Unique}", "contained"),
            Tars.File($"link/sub/{Unique}", "contained too")), box.Dir);

        Assert.Equal("contained", File.ReadAllText(box.In(Unique)));
        Assert.Equal("contained too", File.ReadAllText(box.In($"sub/{Unique}")));
        Assert.Equal(target, new FileInfo(box.In("link")).LinkTarget); // stored as it is
        box.AssertNothingOutside();
        AssertNotAtRoot();
    }

    [Fact]
    public void AChainOfSymlinksResolvesInsideTheLayer()
    {
        using var box = new LayerSandbox();
        LayerExtractor.Extract(Tars.Build(
            Tars.Dir("a/"),
            Tars.Dir("tmp/"),
            Tars.Link(TarEntryType.SymbolicLink, "a/l1", "../l2"),
            Tars.Link(TarEntryType.SymbolicLink, "l2", "/a/l3"),
            Tars.Link(TarEntryType.SymbolicLink, "a/l3", "../../../../tmp"),
            Tars.File($"a/l1/{Unique}", "contained")), box.Dir);

        Assert.Equal("contained", File.ReadAllText(box.In($"tmp/{Unique}")));
        Assert.False(File.Exists($"/tmp/{Unique}"));
        box.AssertNothingOutside();
    }

    [Fact]
    public void APathThroughADanglingSymlinkIsRefused()
    {
        using var box = new LayerSandbox();
        var e = Assert.Throws<UnicornException>(() => LayerExtractor.Extract(Tars.Build(
            Tars.Link(TarEntryType.SymbolicLink, "link", "../../" + Unique),
            Tars.File("link/x", "x")), box.Dir));
        Assert.Equal("CorruptArchive", e.ErrorId);
        box.AssertNothingOutside();
        AssertNotAtRoot();
    }

    [Fact]
    public void ASymlinkLoopIsRefused()
    {
        using var box = new LayerSandbox();
        var e = Assert.Throws<UnicornException>(() => LayerExtractor.Extract(Tars.Build(
            Tars.Link(TarEntryType.SymbolicLink, "loop1", "loop2"),
            Tars.Link(TarEntryType.SymbolicLink, "loop2", "/loop1"),
            Tars.File("loop1/x", "x")), box.Dir));
        Assert.Equal("UnsafeArchive", e.ErrorId);
        box.AssertNothingOutside();
    }

    [Fact]
    public void AFinalSymlinkIsReplacedNotFollowed()
    {
        using var box = new LayerSandbox();
        var outside = Path.Combine(box.Sentinel, "target");
        File.WriteAllText(outside, "untouched");
        LayerExtractor.Extract(Tars.Build(
            Tars.Link(TarEntryType.SymbolicLink, "link", outside),
            Tars.File("link", "replaces the link"),
            Tars.Link(TarEntryType.SymbolicLink, "dirlink", box.Sentinel),
            Tars.Dir("dirlink/", mode: Tars.Oct("751"))), box.Dir);

        Assert.Equal("untouched", File.ReadAllText(outside));
        Assert.Equal("replaces the link", File.ReadAllText(box.In("link")));
        Assert.True(Tars.Stat(box.In("dirlink")).IsDirectory);
        Assert.NotEqual((uint)Tars.Oct("751"), Tars.Stat(box.Sentinel).Mode & 0xFFF);
        box.AssertNothingOutside("target");
    }

    [Theory]
    [InlineData("/etc/passwd")]
    [InlineData("../outside")]
    [InlineData("../../../../etc/passwd")]
    [InlineData("link/etc/passwd")]
    public void AHardLinkOutsideTheLayerIsRefused(string target)
    {
        using var box = new LayerSandbox();
        var outside = Path.Combine(box.Sentinel, "outside");
        File.WriteAllText(outside, "secret");
        ulong passwdLinks = Tars.Stat("/etc/passwd").Links;

        var e = Assert.Throws<UnicornException>(() => LayerExtractor.Extract(Tars.Build(
            Tars.Link(TarEntryType.SymbolicLink, "link", "/"),
            Tars.Link(TarEntryType.HardLink, "stolen", target)), box.Dir));

        Assert.Equal("CorruptArchive", e.ErrorId);
        Assert.False(Path.Exists(box.In("stolen")));
        Assert.Equal(1UL, Tars.Stat(outside).Links);
        Assert.Equal(passwdLinks, Tars.Stat("/etc/passwd").Links);
        box.AssertNothingOutside("outside");
    }

    [Fact]
    public void AHardLinkToADirectoryIsRefused()
    {
        using var box = new LayerSandbox();
        var e = Assert.Throws<UnicornException>(() => LayerExtractor.Extract(Tars.Build(Tars.Dir("d/"), Tars.Link(TarEntryType.HardLink, "h", "d")), box.Dir));
        Assert.Equal("UnsafeArchive", e.ErrorId);
    }

    [Theory]
    [InlineData(".wh..")]
    [InlineData("a/.wh...")]
    [InlineData(".wh.")]
    public void AWhiteoutOfNoFileIsRefused(string name)
    {
        using var box = new LayerSandbox();
        var e = Assert.Throws<UnicornException>(() => LayerExtractor.Extract(Tars.Build(Tars.File(name)), box.Dir));
        Assert.Equal("UnsafeArchive", e.ErrorId);
        box.AssertNothingOutside();
    }

    [Fact]
    public void AFileCannotReplaceTheRoot()
    {
        using var box = new LayerSandbox();
        var e = Assert.Throws<UnicornException>(() => LayerExtractor.Extract(Tars.Build(Tars.File("../", "x")), box.Dir));
        Assert.Equal("UnsafeArchive", e.ErrorId);
        Assert.True(Directory.Exists(box.Dir));
    }

    [Theory]
    [InlineData(1636)]  // inside the second entry's PAX header (each entry: PAX header, its data, header, data)
    [InlineData(2200)]  // inside the second entry's PAX data
    [InlineData(60000)] // inside the third entry's data
    public void ATruncatedArchiveIsCorrupt(int cut)
    {
        using var box = new LayerSandbox();
        var whole = Tars.Build(Tars.Dir("d/"), Tars.File("d/small", "x"), Tars.File("d/big", new string('b', 100_000))).ToArray();
        var e = Assert.Throws<UnicornException>(() => LayerExtractor.Extract(new MemoryStream(whole[..cut]), box.Dir));
        Assert.Equal("CorruptArchive", e.ErrorId);
        box.AssertNothingOutside();
    }

    [Fact]
    public void ABadChecksumIsCorrupt()
    {
        using var box = new LayerSandbox();
        var bytes = Tars.Build(Tars.File("a", "x")).ToArray();
        bytes[1030] ^= 0x20; // in the entry's name, after its PAX header's two blocks
        var e = Assert.Throws<UnicornException>(() => LayerExtractor.Extract(new MemoryStream(bytes), box.Dir));
        Assert.Equal("CorruptArchive", e.ErrorId);
    }

    [Fact]
    public void NotATarIsCorrupt()
    {
        using var box = new LayerSandbox();
        var e = Assert.Throws<UnicornException>(() => LayerExtractor.Extract(new MemoryStream(Encoding.ASCII.GetBytes(new string('z', 2000))), box.Dir));
        Assert.Equal("CorruptArchive", e.ErrorId);
    }
}

[Trait("Category", "Root")] // mounts, owners, device nodes, cgroups or containers: needs root
public class LayerWriterTests
{
    /// <summary>A tree with one of everything a layer keeps, with times at 100 ns (what TarReader keeps).</summary>
    static void MakeTree(string root)
    {
        var t = DateTimeOffset.FromUnixTimeSeconds(1_600_000_000).AddTicks(1_234_567);
        Directory.CreateDirectory(Path.Combine(root, "usr/bin"));
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        File.WriteAllText(Path.Combine(root, "usr/bin/su"), "setuid");
        File.WriteAllBytes(Path.Combine(root, "usr/bin/ping"), RandomNumberGenerator.GetBytes(70_000));
        File.WriteAllText(Path.Combine(root, "usr/bin/" + new string('n', 150)), "a long name");
        File.WriteAllText(Path.Combine(root, "usr/bin/ünïcödé"), "not ascii");
        Assert.Equal(0, Libc.TryLinkAt(L.AT_FDCWD, Path.Combine(root, "usr/bin/su"), L.AT_FDCWD, Path.Combine(root, "usr/bin/su-hardlink")));
        File.CreateSymbolicLink(Path.Combine(root, "usr/bin/sh"), "busybox");
        File.CreateSymbolicLink(Path.Combine(root, "abs"), "/" + new string('t', 120));
        Assert.Equal(0, Libc.TryMknodAt(L.AT_FDCWD, Path.Combine(root, "fifo"), Tars.Mode(L.S_IFIFO, "600"), 0, 0));
        Assert.Equal(0, Libc.TryMknodAt(L.AT_FDCWD, Path.Combine(root, "null"), Tars.Mode(L.S_IFCHR, "666"), 1, 3));
        Assert.Equal(0, Libc.TryMknodAt(L.AT_FDCWD, Path.Combine(root, "sda"), Tars.Mode(L.S_IFBLK, "660"), 8, 0));

        Libc.ChownAt(L.AT_FDCWD, Path.Combine(root, "usr/bin/su"), 1000, 3_000_000); // a gid past ustar's 7 octal digits
        Libc.ChmodAt(L.AT_FDCWD, Path.Combine(root, "usr/bin/su"), (uint)Tars.Oct("4755"));
        Libc.ChownAt(L.AT_FDCWD, Path.Combine(root, "usr/bin/sh"), 5, 6);
        Libc.ChownAt(L.AT_FDCWD, Path.Combine(root, "usr"), 7, 7);
        Libc.ChmodAt(L.AT_FDCWD, Path.Combine(root, "empty"), (uint)Tars.Oct("1777"));
        Libc.LSetXattr(Path.Combine(root, "usr/bin/ping"), "security.capability", Tars.Capability);
        Libc.LSetXattr(Path.Combine(root, "usr/bin/ping"), "user.note", "text"u8);
        Libc.LSetXattr(Path.Combine(root, "empty"), "user.empty", []);

        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Append(root))
            Libc.SetTimesAt(L.AT_FDCWD, path, t, t = t.AddSeconds(1));
    }

    static byte[] Write(string dir, bool overlayUpper)
    {
        var ms = new MemoryStream();
        LayerWriter.Write(dir, ms, overlayUpper);
        return ms.ToArray();
    }

    [Fact]
    public void RoundTripsATree()
    {
        using var source = new LayerSandbox();
        using var copy = new LayerSandbox();
        MakeTree(source.Dir);

        var tar = Write(source.Dir, overlayUpper: false);
        LayerExtractor.Extract(new MemoryStream(tar), copy.Dir);

        Assert.Equal(Tars.Describe(source.Dir), Tars.Describe(copy.Dir));
        Assert.Equal(tar, Write(source.Dir, overlayUpper: false)); // reproducible
        Assert.Equal(tar, Write(copy.Dir, overlayUpper: false));
    }

    [Fact]
    public void WritesSortedRelativeNames()
    {
        using var source = new LayerSandbox();
        MakeTree(source.Dir);
        // TarReader alone would stop at the capability's newline byte, as it would in any layer Go's archive/tar wrote.
        using var reader = new TarReader(new PaxXattrStream(new MemoryStream(Write(source.Dir, overlayUpper: false))));
        var names = new List<string>();
        while (reader.GetNextEntry() is { } e)
            names.Add(e.Name);
        Assert.Equal(new[] { "abs", "empty/", "fifo", "null", "sda", "usr/", "usr/bin/", "usr/bin/" + new string('n', 150), "usr/bin/ping", "usr/bin/sh",
            "usr/bin/su", "usr/bin/su-hardlink", "usr/bin/ünïcödé" }, names);
    }

    [Fact]
    public void ConvertsAnOverlayUpperDirectory()
    {
        using var upper = new LayerSandbox();
        Directory.CreateDirectory(upper.In("etc"));
        Directory.CreateDirectory(upper.In("var/cache"));
        File.WriteAllText(upper.In("etc/hosts"), "changed");
        File.WriteAllText(upper.In("var/cache/new"), "new");
        Assert.Equal(0, Libc.TryMknodAt(L.AT_FDCWD, upper.In("etc/passwd"), (uint)L.S_IFCHR, 0, 0)); // deleted
        Assert.Equal(0, Libc.TryMknodAt(L.AT_FDCWD, upper.In("gone"), (uint)L.S_IFCHR, 0, 0));
        // overlayfs may share one whiteout inode among many names: none may become a hard link
        Assert.Equal(0, Libc.TryLinkAt(L.AT_FDCWD, upper.In("gone"), L.AT_FDCWD, upper.In("etc/shadow")));
        Libc.LSetXattr(upper.In("var/cache"), "trusted.overlay.opaque", "y"u8);
        Libc.LSetXattr(upper.In("var/cache"), "trusted.overlay.origin", [0, 1, 2]);
        Libc.LSetXattr(upper.In("etc/hosts"), "user.kept", "1"u8);

        var tar = Write(upper.Dir, overlayUpper: true);

        var entries = new Dictionary<string, TarEntryType>();
        using (var reader = new TarReader(new MemoryStream(tar)))
            while (reader.GetNextEntry() is { } e)
                entries.Add(e.Name, e.EntryType);
        Assert.Equal(new Dictionary<string, TarEntryType>
        {
            [".wh.gone"] = TarEntryType.RegularFile,
            ["etc/"] = TarEntryType.Directory,
            ["etc/.wh.passwd"] = TarEntryType.RegularFile,
            ["etc/.wh.shadow"] = TarEntryType.RegularFile,
            ["etc/hosts"] = TarEntryType.RegularFile,
            ["var/"] = TarEntryType.Directory,
            ["var/cache/"] = TarEntryType.Directory,
            ["var/cache/.wh..wh..opq"] = TarEntryType.RegularFile,
            ["var/cache/new"] = TarEntryType.RegularFile,
        }, entries);
        Assert.Equal(-1, tar.AsSpan().IndexOf("trusted.overlay"u8));

        // Extracted, it is the upper directory again.
        using var lower = new LayerSandbox();
        LayerExtractor.Extract(new MemoryStream(tar), lower.Dir);
        Assert.Equal(((uint)L.S_IFCHR, 0u, 0u), (Tars.Stat(lower.In("etc/passwd")).Type, Tars.Stat(lower.In("etc/passwd")).DeviceMajor, Tars.Stat(lower.In("etc/passwd")).DeviceMinor));
        Assert.Equal((uint)L.S_IFCHR, Tars.Stat(lower.In("gone")).Type);
        Assert.Equal("y"u8.ToArray(), Libc.LGetXattr(lower.In("var/cache"), "trusted.overlay.opaque"));
        Assert.Null(Libc.LGetXattr(lower.In("var/cache"), "trusted.overlay.origin"));
        Assert.Equal("1"u8.ToArray(), Libc.LGetXattr(lower.In("etc/hosts"), "user.kept"));

        // A layer cannot say that a directory was renamed (redirect_dir) or that a file's data is below (metacopy).
        Libc.LSetXattr(upper.In("var/cache"), "trusted.overlay.redirect", "/var/old"u8);
        Assert.Equal("UnsupportedOverlay", Assert.Throws<UnicornException>(() => Write(upper.Dir, overlayUpper: true)).ErrorId);

        // Without overlayUpper the tree is written as it is: the whiteouts are devices.
        using var reader2 = new TarReader(new MemoryStream(Write(upper.Dir, overlayUpper: false)));
        var plain = new Dictionary<string, TarEntryType>();
        while (reader2.GetNextEntry() is { } e)
            plain.Add(e.Name, e.EntryType);
        Assert.Equal(TarEntryType.CharacterDevice, plain["etc/passwd"]);
        Assert.False(plain.ContainsKey("var/cache/.wh..wh..opq"));
    }
}
