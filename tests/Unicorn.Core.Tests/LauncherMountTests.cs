using Unicorn.Native;
using Unicorn.Runtime;

namespace Unicorn.Tests;

/// <summary>The launcher's mount records and what goes with them (devices, sysctls, umask, the
/// root's propagation, no-pivot), in its run mode, on the real kernel. Each test has its own
/// directory and busybox rootfs (no engine: no cgroup), and unmounts what it mounted on the host.</summary>
[Trait("Category", "Root")]
public sealed class LauncherMountTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("unicorn-mounts-").FullName;
    readonly string rootfs;
    readonly string binary = Launcher.BinaryPath(null);
    readonly List<string> hostMounts = []; // the test's own, unmounted in Dispose (last first)

    public LauncherMountTests()
    {
        rootfs = Path.Combine(dir, "rootfs");
        DefaultImage.Assemble(rootfs);
    }

    public void Dispose()
    {
        foreach (var m in Enumerable.Reverse(hostMounts))
            Libc.Unmount(m, detach: true);
        Assert.DoesNotContain(ProcFs.MountPoints(), m => m.StartsWith(dir, StringComparison.Ordinal));
        Directory.Delete(dir, recursive: true);
    }

    string HostDir(string name) => Directory.CreateDirectory(Path.Combine(dir, name)).FullName;

    void HostMount(string fsType, string target, string? data)
    {
        Libc.Mount(fsType, target, fsType, 0, data);
        hostMounts.Add(target);
    }

    /// <summary>A spec of /bin/sh -c script with the default mounts.</summary>
    SpecFile Spec(string script, string? root = null) =>
        SpecFile.Process(["/bin/sh", "-c", script], ["PATH=/bin:/usr/bin:/sbin"], "/").Rootfs(root ?? rootfs).Mounts(SpecFile.DefaultMounts);

    int runs;

    /// <summary>Runs the spec to its end: the exit code and the lines it wrote.</summary>
    (int Code, string[] Output) Run(SpecFile spec)
    {
        var state = HostDir($"state{runs++}");
        var log = Path.Combine(state, "log");
        File.WriteAllBytes(Path.Combine(state, "spec"), spec.Log(log).ToArray());
        int hold = Libc.Open(Path.Combine(state, "spec"), Tmds.Linux.LibC.O_RDONLY);
        Libc.LockShared(hold, "spec");
        Launcher launcher;
        try { launcher = Launcher.Run(binary, state, attach: false, interactive: false, hold); }
        finally { Libc.Close(hold); }
        using (launcher)
        {
            launcher.ReadPid("/bin/sh", "mounts");
            launcher.Go();
            launcher.ExpectStarted("/bin/sh", "mounts");
            var code = launcher.ReadExitCode();
            return (code, [.. File.ReadLines(log).Select(l => l.Split(' ', 4)[3])]);
        }
    }

    string SetupFailure(SpecFile spec) => Assert.Throws<UnicornException>(() => Run(spec)) is { ErrorId: "ContainerSetupFailed" } e
        ? e.Message : throw new Xunit.Sdk.XunitException("not a setup failure");

    [Fact]
    public void ReadOnlyRbindIsReadOnlyInItsSubmountsToo()
    {
        var source = HostDir("rbind");
        var sub = HostDir("rbind/sub");
        HostMount("tmpfs", sub, "size=1m");
        var (code, output) = Run(Spec("touch /data/a || echo top-ro; touch /data/sub/b || echo sub-ro; grep -c ' /data/sub .*ro,' /proc/self/mountinfo")
            .OciMount("bind", source, "/data", ["rbind", "ro"]));
        Assert.Equal(0, code);
        Assert.Equal(["top-ro", "sub-ro", "1"], output.Where(l => !l.StartsWith("touch:")));
        File.WriteAllText(Path.Combine(sub, "host-writes"), "the host's own mount stays writable");
    }

    [Fact]
    public void TmpfsTakesItsModeAndSize()
    {
        var (code, output) = Run(Spec("stat -c %a /scratch; grep ' /scratch ' /proc/self/mountinfo")
            .OciMount("tmpfs", "tmpfs", "/scratch", ["rw", "nosuid", "nodev", "mode=700", "size=1m"]));
        Assert.Equal(0, code);
        Assert.Equal("700", output[0]);
        Assert.Matches(@" /scratch rw,nosuid,nodev[, ].* - tmpfs tmpfs .*size=1024k", output[1]);
    }

    /// <summary>OCI's tmpcopyup (podman's --tmpfs): the tmpfs starts with a copy of the image's
    /// directory; nothing of the image's is followed, and the container's writes stay in the tmpfs.</summary>
    [Fact]
    public void TmpcopyupStartsTheTmpfsWithACopyOfTheImagesDirectory()
    {
        var x = Directory.CreateDirectory(Path.Combine(rootfs, "x")).FullName;
        File.SetUnixFileMode(x, (UnixFileMode)Convert.ToInt32("750", 8));
        var file = Path.Combine(x, "file");
        File.WriteAllText(file, "image\n");
        File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32("640", 8));
        File.SetLastWriteTimeUtc(file, new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        var deeper = Directory.CreateDirectory(Path.Combine(x, "sub", "deeper")).FullName;
        File.SetUnixFileMode(Path.Combine(x, "sub"), (UnixFileMode)Convert.ToInt32("711", 8));
        File.WriteAllText(Path.Combine(deeper, "nested"), "nested\n");
        var secret = Path.Combine(dir, "host-secret"); // where escape leads on the host, from rootfs/x
        File.WriteAllText(secret, "host\n");
        File.CreateSymbolicLink(Path.Combine(x, "passwd"), "/etc/passwd");
        File.CreateSymbolicLink(Path.Combine(x, "escape"), "../../host-secret");
        int fd = Libc.Open(x, Tmds.Linux.LibC.O_PATH | Tmds.Linux.LibC.O_DIRECTORY);
        try
        {
            Libc.ChownAt(fd, "file", 1000, 1001);
            Libc.ChownAt(fd, "passwd", 7, 8);
            Assert.Equal(0, Libc.TryMknodAt(fd, "fifo", Tars.Mode(Tmds.Linux.LibC.S_IFIFO, "644"), 0, 0));
            Assert.Equal(0, Libc.TryMknodAt(fd, "disk", Tars.Mode(Tmds.Linux.LibC.S_IFBLK, "666"), 7, 0));
        }
        finally { Libc.Close(fd); }

        var (code, output) = Run(Spec("""
            cd /x && stat -c '%n %F %a %u:%g' /x file fifo sub sub/deeper/nested passwd escape && stat -c %Y file
            readlink passwd; readlink escape; cat sub/deeper/nested; test -e disk || echo no-device
            echo container > file; echo new > new; echo written > escape; grep -c ' /x .* - tmpfs ' /proc/self/mountinfo
            """).OciMount("tmpfs", "tmpfs", "/x", ["rw", "nosuid", "nodev", "tmpcopyup"]));
        Assert.Equal(0, code);
        Assert.Equal([
            "/x directory 750 0:0", "file regular file 640 1000:1001", "fifo fifo 644 0:0", "sub directory 711 0:0",
            "sub/deeper/nested regular file 644 0:0", "passwd symbolic link 777 7:8", "escape symbolic link 777 0:0",
            "1577934245", "/etc/passwd", "../../host-secret", "nested", "no-device", "1"], output);
        Assert.Equal("image\n", File.ReadAllText(file)); // the image's directory as it was
        Assert.False(File.Exists(Path.Combine(x, "new")));
        Assert.Equal("host\n", File.ReadAllText(secret)); // the link led to the container's /host-secret
        Assert.Equal("written\n", File.ReadAllText(Path.Combine(rootfs, "host-secret")));
    }

    [Fact]
    public void TmpcopyupReadOnlyMissingTooDeepAndKernelFs()
    {
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(rootfs, "ro")).FullName, "marker"), "ro\n");
        var (code, output) = Run(Spec("cat /ro/marker; touch /ro/new 2>/dev/null || echo read-only; stat -c %a /missing")
            .OciMount("tmpfs", "tmpfs", "/ro", ["ro", "tmpcopyup"]).OciMount("tmpfs", "tmpfs", "/missing", ["tmpcopyup"]));
        Assert.Equal(0, code);
        Assert.Equal(["ro", "read-only", "1777"], output); // a directory the image lacks: the tmpfs's own mode
        Directory.CreateDirectory(Path.Combine(rootfs, "deep", string.Join('/', Enumerable.Repeat("d", 130))));
        Assert.Contains("more than 128 directories deep", SetupFailure(Spec("true").OciMount("tmpfs", "tmpfs", "/deep", ["tmpcopyup"])));
        Assert.Contains("a copy-up from proc or sysfs (refused)", SetupFailure(Spec("true").OciMount("tmpfs", "tmpfs", "/sys/kernel", ["tmpcopyup"])));
    }

    /// <summary>A device node of the image's is not copied: on /dev, the default one is made instead.</summary>
    [Fact]
    public void TmpcopyupOnDevLeavesTheImagesDevicesOut()
    {
        var dev = Path.Combine(rootfs, "dev");
        File.WriteAllText(Path.Combine(dev, "marker"), "image\n");
        int fd = Libc.Open(dev, Tmds.Linux.LibC.O_PATH | Tmds.Linux.LibC.O_DIRECTORY);
        try { Assert.Equal(0, Libc.TryMknodAt(fd, "null", Tars.Mode(Tmds.Linux.LibC.S_IFCHR, "666"), 1, 5)); } // /dev/zero's numbers
        finally { Libc.Close(fd); }
        var mounts = SpecFile.DefaultMounts.Select(m => m.Destination == "/dev" ? m with { Options = [.. m.Options!, "tmpcopyup"] } : m);
        var (code, output) = Run(SpecFile.Process(["/bin/sh", "-c", "cat /dev/marker; stat -c %t:%T /dev/null"], ["PATH=/bin"], "/").Rootfs(rootfs).Mounts(mounts));
        Assert.Equal(0, code);
        Assert.Equal(["image", "1:3"], output);
    }

    [Fact]
    public void BindOntoASymlinkOutOfTheRootStaysInside()
    {
        var source = HostDir("volume");
        File.WriteAllText(Path.Combine(source, "marker"), "volume\n");
        var outside = HostDir("outside"); // where the link points on the host: never mounted on
        File.CreateSymbolicLink(Path.Combine(rootfs, "link"), "/../../../.." + outside);
        var (code, output) = Run(Spec($"cat /link/marker; cat {outside}/marker").OciMount("bind", source, "/link", ["rbind"]));
        Assert.Equal(0, code);
        Assert.Equal(["volume", "volume"], output);
        Assert.True(Directory.Exists(rootfs + outside)); // made inside the root
        Assert.Empty(Directory.GetFileSystemEntries(outside));
    }

    [Fact]
    public void BindOntoProcIsRefused()
    {
        var source = HostDir("proc-volume");
        Assert.Contains("inside /proc or /sys", SetupFailure(Spec("true").OciMount("bind", source, "/proc/sys/kernel", ["rbind"])));
        Assert.Contains("inside /proc or /sys", SetupFailure(Spec("true").OciMount("bind", source, "/sys/kernel", ["bind"])));
    }

    [Fact]
    public void NewFilesystemOnSysFsCgroupIsAccepted()
    {
        var (code, output) = Run(Spec("grep ' /sys/fs/cgroup ' /proc/self/mountinfo")
            .OciMount("tmpfs", "cgroup-root", "/sys/fs/cgroup", ["nosuid", "nodev", "noexec", "mode=755"]));
        Assert.Equal(0, code);
        Assert.Matches(" /sys/fs/cgroup .* - tmpfs cgroup-root ", Assert.Single(output));
    }

    [Fact]
    public void DeviceRecordsAreMadeWithTheirOwnerAndMode()
    {
        var (code, output) = Run(Spec("stat -c '%F %t:%T %a %u:%g' /dev/mynull /dev/deep/fifo; echo x > /dev/mynull && echo written; stat -c %t:%T /dev/null")
            .Device("/dev/mynull", 'c', 1, 3, Convert.ToInt32("620", 8), 1000, 1001)
            .Device("/dev/deep/fifo", 'p', 0, 0, Convert.ToInt32("600", 8), 0, 0)
            .Device("/dev/null", 'c', 1, 5, Convert.ToInt32("666", 8), 0, 0)); // the spec's own /dev/null: no default made
        Assert.Equal(0, code);
        Assert.Equal(["character special file 1:3 620 1000:1001", "fifo 0:0 600 0:0", "written", "1:5"], output);
        Assert.Contains("only a path under /dev", SetupFailure(Spec("true").Device("/etc/evil", 'c', 1, 3, 438, 0, 0)));
        Assert.Contains("only a path under /dev", SetupFailure(Spec("true").Device("/dev/../etc/evil", 'c', 1, 3, 438, 0, 0)));
    }

    [Fact]
    public void SysctlIsTheContainersAndTheHostsStaysAsItWas()
    {
        var host = File.ReadAllText("/proc/sys/kernel/shmmax");
        var (code, output) = Run(Spec("cat /proc/sys/kernel/shmmax").Sysctl("kernel.shmmax", "123456789").ReadOnlyPath("/proc/sys"));
        Assert.Equal(0, code);
        Assert.Equal(["123456789"], output);
        Assert.Equal(host, File.ReadAllText("/proc/sys/kernel/shmmax"));
        Assert.Contains("not in a namespace of the container's own", SetupFailure(Spec("true").Sysctl("vm.swappiness", "10")));
    }

    [Fact]
    public void UmaskIsTheSpecsOrElse022()
    {
        Assert.Equal(["0077"], Run(Spec("umask").Umask(Convert.ToInt32("077", 8))).Output);
        Assert.Equal(["0022"], Run(Spec("umask")).Output);
    }

    [Fact]
    public void NoPivotRunsOnARamfsRoot()
    {
        var ram = HostDir("ramfs-root");
        HostMount("ramfs", ram, null);
        foreach (var d in new[] { "bin", "proc", "sys", "dev" })
            Directory.CreateDirectory(Path.Combine(ram, d));
        File.Copy(Path.Combine(rootfs, "bin/busybox"), Path.Combine(ram, "bin/busybox"));
        foreach (var tool in new[] { "sh", "cat", "grep" })
            File.CreateSymbolicLink(Path.Combine(ram, "bin", tool), "busybox");
        File.WriteAllText(Path.Combine(ram, "marker"), "ramfs\n");
        var (code, output) = Run(Spec("cat /marker; grep -c ' - sysfs ' /proc/self/mountinfo", ram).NoPivot());
        Assert.Equal(0, code);
        Assert.Equal(["ramfs", "1"], output); // its own /sys only: the host's proc and sysfs are gone
    }

    [Fact]
    public void SharedRootPropagationLeavesTheHostsMountsAlone()
    {
        var probe = HostDir("probe"); // a mount of the host's, which the old root's unmount must not reach
        HostMount("tmpfs", probe, "size=1m");
        var (code, output) = Run(Spec("grep -c '^[0-9]* [0-9]* [^ ]* [^ ]* / .*shared:' /proc/self/mountinfo").RootPropagation("rshared"));
        Assert.Equal(0, code);
        Assert.Equal(["1"], output);
        Assert.Contains(probe, ProcFs.MountPoints());
    }
}

/// <summary>OCI's mount options as the launcher's records (no kernel needed).</summary>
public class OciMountTests
{
    static string[] Record(SpecFile spec) => System.Text.Encoding.UTF8.GetString(spec.ToArray()).Split('\0')[..^1];

    [Fact]
    public void SplitsFlagsFromDataAndDropsTheDefaults() =>
        Assert.Equal(["mount", "tmpfs", "tmpfs", "/run", "nosuid,nodev,ro,rprivate", "mode=755,size=64k,newinstance"],
            Record(new SpecFile().OciMount("tmpfs", "tmpfs", "/run", ["rw", "nosuid", "nodev", "exec", "ro", "mode=755", "size=64k", "defaults", "rprivate", "newinstance"])));

    [Fact]
    public void TmpcopyupIsAFlag() =>
        Assert.Equal(["mount", "tmpfs", "tmpfs", "/x", "nosuid,tmpcopyup", "size=1m"], Record(new SpecFile().OciMount("tmpfs", "tmpfs", "/x", ["rw", "nosuid", "tmpcopyup", "size=1m"])));

    [Fact]
    public void TypeBindIsABindWithoutTheWord() =>
        Assert.Equal(["mount", "bind", "/src", "/dst", "bind,ro", ""], Record(new SpecFile().OciMount("bind", "/src", "/dst", ["ro"])));

    [Theory]
    [InlineData("remount")]
    [InlineData("copy-symlink")]
    [InlineData("rro")]
    public void RefusesWhatItCannotHonour(string option)
    {
        var e = Assert.Throws<UnicornException>(() => new SpecFile().OciMount("tmpfs", "tmpfs", "/dst", [option]));
        Assert.Equal("OciUnsupported", e.ErrorId);
        Assert.Contains("/dst", e.Message);
        Assert.Contains(option, e.Message);
    }
}
