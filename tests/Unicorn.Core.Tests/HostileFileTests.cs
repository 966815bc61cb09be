using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Text;
using Unicorn.Images;
using Unicorn.Native;
using Unicorn.Runtime;
using L = Tmds.Linux.LibC;

namespace Unicorn.Tests;

/// <summary>The host reading files a container controls: a tree that changes while it is
/// written as a layer, a user database that leads out of the rootfs or blocks (the seccomp
/// filters are in SeccompTests).</summary>
[Trait("Category", "Root")] // mounts, owners, device nodes, cgroups or containers: needs root
public class HostileFileTests
{
    [DllImport("libc", SetLastError = true)]
    static extern int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);
    const uint RENAME_EXCHANGE = 2;

    static void Fifo(string path) => Assert.Equal(0, Libc.TryMknodAt(L.AT_FDCWD, path, Tars.Mode(L.S_IFIFO, "600"), 0, 0));

    /// <summary>Exchanges each pair of paths over and over, until cancelled: at any moment each
    /// name is one or the other. Returns how many exchanges were made (one that fails, as one did
    /// once on a loaded CI machine, is only a turn without a swap; a caller checks that there were
    /// swaps at all).</summary>
    internal static Task<long> Swap(CancellationToken stop, params (string A, string B)[] pairs) => Task.Factory.StartNew(() =>
    {
        long swaps = 0;
        while (!stop.IsCancellationRequested)
            foreach (var (a, b) in pairs)
                if (renameat2(L.AT_FDCWD, a, L.AT_FDCWD, b, RENAME_EXCHANGE) == 0)
                    swaps++;
        return swaps;
    }, TaskCreationOptions.LongRunning);

    static byte[] WriteLayer(string dir, bool overlayUpper = false)
    {
        var ms = new MemoryStream();
        LayerWriter.Write(dir, ms, overlayUpper);
        return ms.ToArray();
    }

    static Dictionary<string, TarEntryType> Entries(byte[] tar)
    {
        var entries = new Dictionary<string, TarEntryType>();
        using var reader = new TarReader(new MemoryStream(tar));
        while (reader.GetNextEntry() is { } e)
            entries[e.Name.TrimEnd('/')] = e.EntryType;
        return entries;
    }

    [Fact]
    public async Task ExportNeverReadsAHostFileThatTheTreeSwapsInMeanwhile()
    {
        using var box = new LayerSandbox("rootfs");
        var marker = "HOST-SECRET-" + Guid.NewGuid().ToString("n");
        var host = Path.Combine(box.Sentinel, "host");
        Directory.CreateDirectory(host);
        File.WriteAllText(Path.Combine(host, "secret"), marker);
        File.WriteAllText(box.In("file"), "decoy");
        File.CreateSymbolicLink(box.In("link"), Path.Combine(host, "secret"));
        Directory.CreateDirectory(box.In("dir"));
        File.WriteAllText(box.In("dir/secret"), "decoy");
        File.CreateSymbolicLink(box.In("dirlink"), host);

        using var stop = new CancellationTokenSource();
        var swapper = Swap(stop.Token, (box.In("file"), box.In("link")), (box.In("dir"), box.In("dirlink")));
        var tars = new List<byte[]>();
        var errors = new List<string>();
        try
        {
            for (int i = 0; i < 300; i++)
                foreach (var overlayUpper in new[] { false, true })
                    try { tars.Add(WriteLayer(box.Dir, overlayUpper)); }
                    catch (Exception e) { errors.Add(e.Message); }
        }
        finally
        {
            stop.Cancel();
            await swapper;
        }
        // (Reading by name after an lstat, 600 layers held the host's file 3 times, and 9 failed.)
        Assert.Equal(0, tars.Count(tar => tar.AsSpan().IndexOf(Encoding.ASCII.GetBytes(marker)) >= 0));
        Assert.Empty(errors);
        foreach (var tar in tars)
        {
            var entries = Entries(tar); // whole: every header and every file's data where the header says
            Assert.Equal(["dir", "dirlink", "file", "link"], entries.Keys.Where(k => !k.Contains('/')).Order(StringComparer.Ordinal));
            foreach (var name in new[] { "file", "link" })
                Assert.Contains(entries[name], new[] { TarEntryType.SymbolicLink, TarEntryType.RegularFile });
            foreach (var name in new[] { "dir", "dirlink" })
                Assert.Contains(entries[name], new[] { TarEntryType.SymbolicLink, TarEntryType.Directory });
        }
    }

    [Fact]
    public async Task ExportRecordsFifosWithoutOpeningThem()
    {
        using var box = new LayerSandbox("rootfs");
        Fifo(box.In("still"));
        Fifo(box.In("fifo"));
        File.WriteAllText(box.In("file"), "decoy");
        using var stop = new CancellationTokenSource();
        var swapper = Swap(stop.Token, (box.In("file"), box.In("fifo")));
        try
        {
            var export = Task.Run(() =>
            {
                for (int i = 0; i < 300; i++)
                {
                    var entries = Entries(WriteLayer(box.Dir));
                    Assert.Equal(TarEntryType.Fifo, entries["still"]);
                    foreach (var name in new[] { "file", "fifo" }) // (each read at its own moment: both may be either)
                        Assert.Contains(entries[name], new[] { TarEntryType.Fifo, TarEntryType.RegularFile });
                }
            });
            if (await Task.WhenAny(export, Task.Delay(TimeSpan.FromSeconds(60))) != export)
            {
                // Let a reader blocked in open() go, so that the failure does not hang the run.
                stop.Cancel();
                foreach (var name in new[] { "file", "fifo", "still" })
                    if (Libc.TryOpenAt(L.AT_FDCWD, box.In(name), L.O_RDWR | L.O_NONBLOCK, 0, out int fd) == 0)
                        Libc.Close(fd);
                Assert.Fail("Writing the layer blocked on a FIFO.");
            }
            await export;
        }
        finally
        {
            stop.Cancel();
            await swapper;
        }
    }

    [Fact]
    public void ExportRefusesATreeDeeperThanTheLimit()
    {
        using var box = new LayerSandbox("rootfs");
        var deep = Path.Combine(box.Dir, string.Join('/', Enumerable.Repeat("d", LayerWriter.MaxDepth)));
        Directory.CreateDirectory(deep);
        Assert.Equal(LayerWriter.MaxDepth, Entries(WriteLayer(box.Dir)).Count);
        Directory.CreateDirectory(Path.Combine(deep, "d"));
        Assert.Equal("TreeTooDeep", Assert.Throws<UnicornException>(() => WriteLayer(box.Dir)).ErrorId);
    }

    [Theory]
    [InlineData(true)]  // O_TMPFILE
    [InlineData(false)] // where the file system has none: a new file of a random name
    public void ExportFileMakesNoPredictableTemporaryFile(bool unnamed)
    {
        using var box = new LayerSandbox("rootfs");
        File.WriteAllText(box.In("file"), "content");
        var outDir = Path.Combine(box.Sentinel, "out");
        Directory.CreateDirectory(outDir);
        var victim = Path.Combine(box.Sentinel, "victim");
        File.WriteAllText(victim, "untouched");
        // Where the old code put its temporary file, and the target itself: both links, left alone or replaced.
        File.CreateSymbolicLink(Path.Combine(outDir, "layer.tar.tmp"), victim);
        File.CreateSymbolicLink(Path.Combine(outDir, "layer.tar"), victim);

        LayerWriter.WriteFile(box.Dir, Path.Combine(outDir, "layer.tar"), overlayUpper: false, gzip: false, unnamed);

        Assert.Equal("untouched", File.ReadAllText(victim));
        Assert.Null(new FileInfo(Path.Combine(outDir, "layer.tar")).LinkTarget);
        Assert.Equal(TarEntryType.RegularFile, Entries(File.ReadAllBytes(Path.Combine(outDir, "layer.tar")))["file"]);
        Assert.Equal(["layer.tar", "layer.tar.tmp"], Directory.EnumerateFileSystemEntries(outDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // A failure leaves nothing behind, and the file as it was.
        Assert.Throws<UnicornException>(() => LayerWriter.WriteFile(Path.Combine(box.Sentinel, "missing"), Path.Combine(outDir, "layer.tar"), false, gzip: true, unnamed));
        Assert.Equal(["layer.tar", "layer.tar.tmp"], Directory.EnumerateFileSystemEntries(outDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(TarEntryType.RegularFile, Entries(File.ReadAllBytes(Path.Combine(outDir, "layer.tar")))["file"]);
    }

    // ---- The user database ----

    /// <summary>A rootfs with an /etc, and a host directory beside it whose passwd and group
    /// name a user and a group that the rootfs does not have.</summary>
    sealed class UserRootfs : IDisposable
    {
        public LayerSandbox Box { get; } = new("rootfs");
        public string Host { get; }
        public string Etc => Box.In("etc");

        public UserRootfs()
        {
            Directory.CreateDirectory(Etc);
            File.WriteAllText(Box.In("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
            File.WriteAllText(Box.In("etc/group"), "root:x:0:\n");
            Host = Path.Combine(Box.Sentinel, "host");
            Directory.CreateDirectory(Host);
            File.WriteAllText(Path.Combine(Host, "passwd"), "root:x:0:0:root:/root:/bin/sh\nintruder:x:4242:4242::/:/bin/sh\n");
            File.WriteAllText(Path.Combine(Host, "group"), "root:x:0:\nintruders:x:4242:intruder\n");
        }

        public void Dispose() => Box.Dispose();
    }

    [Theory]
    [InlineData("absolute link to a host file")]
    [InlineData("relative link past the root")]
    [InlineData("etc linked to a host directory")]
    public void UserLookupStaysInsideTheRootfs(string how)
    {
        using var root = new UserRootfs();
        switch (how)
        {
            case "absolute link to a host file":
                File.Delete(Path.Combine(root.Etc, "passwd"));
                File.Delete(Path.Combine(root.Etc, "group"));
                File.CreateSymbolicLink(Path.Combine(root.Etc, "passwd"), Path.Combine(root.Host, "passwd"));
                File.CreateSymbolicLink(Path.Combine(root.Etc, "group"), Path.Combine(root.Host, "group"));
                break;
            case "relative link past the root":
                File.Delete(Path.Combine(root.Etc, "passwd"));
                File.CreateSymbolicLink(Path.Combine(root.Etc, "passwd"), string.Concat(Enumerable.Repeat("../", 20)) + root.Host.TrimStart('/') + "/passwd");
                break;
            default:
                Directory.Delete(root.Etc, recursive: true);
                Directory.CreateSymbolicLink(root.Etc, root.Host);
                break;
        }
        Assert.Equal("UserNotFound", Assert.Throws<UnicornException>(() => UserSpec.Resolve("intruder", root.Box.Dir)).ErrorId);
        Assert.Equal("GroupNotFound", Assert.Throws<UnicornException>(() => UserSpec.Resolve("0:intruders", root.Box.Dir)).ErrorId);
        var numeric = UserSpec.Resolve("4242", root.Box.Dir);
        Assert.Equal((4242u, 0u), (numeric.Uid, numeric.Gid)); // a uid the rootfs does not know: group 0
    }

    [Fact]
    public void UserLookupFollowsALinkThatStaysInside()
    {
        using var root = new UserRootfs();
        File.WriteAllText(Path.Combine(root.Etc, "passwd.real"), "root:x:0:0::/:/bin/sh\r\n# comment\r\ninsider:x:4343:4344::/:/bin/sh\r\n");
        File.Delete(Path.Combine(root.Etc, "passwd"));
        File.CreateSymbolicLink(Path.Combine(root.Etc, "passwd"), "/../../etc/passwd.real"); // ".." at the root stays there
        var user = UserSpec.Resolve("insider", root.Box.Dir);
        Assert.Equal((4343u, 4344u), (user.Uid, user.Gid));
    }

    [Theory]
    [InlineData("fifo", "UserDatabaseUnusable")]
    [InlineData("device", "UserDatabaseUnusable")]
    [InlineData("directory", "UserDatabaseUnusable")]
    [InlineData("socket", "UserDatabaseUnusable")]
    [InlineData("huge", "UserDatabaseTooLarge")]
    public async Task UserLookupRefusesWhatIsNotASmallRegularFile(string kind, string errorId)
    {
        using var root = new UserRootfs();
        var passwd = Path.Combine(root.Etc, "passwd");
        File.Delete(passwd);
        switch (kind)
        {
            case "fifo": Fifo(passwd); break;
            case "device": Assert.Equal(0, Libc.TryMknodAt(L.AT_FDCWD, passwd, Tars.Mode(L.S_IFCHR, "666"), 1, 3)); break;
            case "directory": Directory.CreateDirectory(passwd); break;
            case "socket": Assert.Equal(0, Libc.TryMknodAt(L.AT_FDCWD, passwd, Tars.Mode(L.S_IFSOCK, "666"), 0, 0)); break;
            default:
                using (var f = File.Create(passwd))
                {
                    f.Write("root:x:0:0::/:/bin/sh\n"u8);
                    f.SetLength(UserSpec.MaxDatabaseSize + 1);
                }
                break;
        }
        var resolve = Task.Run(() => UserSpec.Resolve("root", root.Box.Dir));
        if (await Task.WhenAny(resolve, Task.Delay(TimeSpan.FromSeconds(5))) != resolve)
        {
            if (Libc.TryOpenAt(L.AT_FDCWD, passwd, L.O_RDWR | L.O_NONBLOCK, 0, out int fd) == 0)
                Libc.Close(fd); // let the reader go
            Assert.Fail($"Reading a {kind} /etc/passwd blocked.");
        }
        var e = await Assert.ThrowsAnyAsync<UnicornException>(() => resolve);
        Assert.Equal(errorId, e.ErrorId);
        Assert.Contains("/etc/passwd", e.Message);
    }

    [Fact]
    public void UserLookupWithoutAUserDatabaseTakesNumbers()
    {
        using var root = new UserRootfs();
        Directory.Delete(root.Etc, recursive: true);
        Assert.Equal((1000u, 0u), (UserSpec.Resolve("1000", root.Box.Dir).Uid, UserSpec.Resolve("1000", root.Box.Dir).Gid));
        Assert.Equal("UserNotFound", Assert.Throws<UnicornException>(() => UserSpec.Resolve("root", root.Box.Dir)).ErrorId);
    }
}
