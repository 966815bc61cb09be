using Unicorn.Native;

namespace Unicorn.Tests;

public class ProcFsTests
{
    [Fact]
    public void KnowsThisProcessAndItsStartTime()
    {
        var start = ProcFs.StartTime(Environment.ProcessId);
        Assert.NotNull(start);
        Assert.True(ProcFs.IsAlive(Environment.ProcessId, start.Value));
        Assert.False(ProcFs.IsAlive(Environment.ProcessId, start.Value + 1)); // a reused pid has another start time
    }

    [Fact]
    public void ListsMountPoints() => Assert.Contains("/", ProcFs.MountPoints());

    [Fact]
    public void TellsAMountPointByItsDevice()
    {
        Assert.True(Libc.IsMountPoint("/proc"));
        Assert.False(Libc.IsMountPoint("/etc"));
        Assert.False(Libc.IsMountPoint("/no/such/dir"));
    }
}

public class FilesTests
{
    [Fact]
    public void WritesAtomicallyAndLeavesNoTemporaryFile()
    {
        var dir = Directory.CreateTempSubdirectory("unicorn-files-").FullName;
        try
        {
            var path = Path.Combine(dir, "state");
            Files.WriteAtomic(path, "one"u8);
            Files.WriteAtomic(path, "two"u8);
            Assert.Equal("two", File.ReadAllText(path));
            Assert.Single(Directory.GetFiles(dir));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void DeleteTreeRemovesSymlinksButNotTheirTargets()
    {
        var dir = Directory.CreateTempSubdirectory("unicorn-files-").FullName;
        var outside = Directory.CreateTempSubdirectory("unicorn-outside-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(outside, "keep"), "x");
            Directory.CreateSymbolicLink(Path.Combine(dir, "link"), outside);
            Files.DeleteTree(dir);
            Assert.False(Directory.Exists(dir));
            Assert.True(File.Exists(Path.Combine(outside, "keep")));
        }
        finally { Directory.Delete(outside, true); }
    }

    [Fact]
    public async Task LockIsExclusiveAcrossOpenFiles()
    {
        var paths = new UnicornPaths(Directory.CreateTempSubdirectory("unicorn-lock-").FullName, "/nonexistent");
        try
        {
            var order = new List<string>();
            var first = Files.Lock(paths);
            var other = Task.Run(() => { using (Files.Lock(paths)) lock (order) order.Add("second"); });
            Thread.Sleep(100);
            lock (order) order.Add("first");
            first.Dispose();
            await other.WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal(["first", "second"], order);
        }
        finally { Directory.Delete(paths.StateRoot, true); }
    }
}

/// <summary>The launcher's seals (CVE-2019-5736): what a container reaching /proc/N/exe gets.</summary>
[Trait("Category", "Root")]
public class SealTests
{
    [Fact]
    public void TheOverlayViewIsTheFileAndNoOneCanWriteThroughIt()
    {
        var dir = Directory.CreateTempSubdirectory("unicorn-seal-").FullName;
        try
        {
            var file = Path.Combine(dir, "launcher");
            File.WriteAllText(file, "the binary");
            int fd = Libc.SealedView(file, "/dev") ?? throw new Xunit.Sdk.XunitException("no overlay view was made");
            try
            {
                var through = $"/proc/self/fd/{fd}";
                Assert.Equal("the binary", File.ReadAllText(through));
                var e = Assert.Throws<IOException>(() => File.OpenWrite(through).Dispose());
                Assert.Equal(30 /* EROFS */, e.HResult & 0xffff);
                Assert.Equal("the binary", File.ReadAllText(file));
            }
            finally { Libc.Close(fd); }
            // Layers that overlap cannot be stacked: the caller copies instead.
            Assert.Null(Libc.SealedView(file, dir));
            Assert.Null(Libc.SealedView(file, Path.GetDirectoryName(dir)!));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void TheCopyIsTheFileAndSealed()
    {
        int fd = Libc.SealedCopy("/bin/true", "unicorn-seal-test");
        try
        {
            Assert.Equal(File.ReadAllBytes("/bin/true"), File.ReadAllBytes($"/proc/self/fd/{fd}"));
            Assert.Throws<UnauthorizedAccessException>(() => // EPERM: sealed
            {
                using var w = File.OpenWrite($"/proc/self/fd/{fd}");
                w.WriteByte(0);
                w.Flush();
            });
        }
        finally { Libc.Close(fd); }
    }
}
