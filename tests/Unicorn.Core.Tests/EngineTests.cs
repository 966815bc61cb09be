using Unicorn.Cgroups;
using Unicorn.Native;
using Unicorn.Runtime;

namespace Unicorn.Tests;

/// <summary>The engine on the real kernel (root): its own state and data roots, removed after.
/// The launcher comes from UNICORN_LAUNCHER (build.ps1 -Task Test sets it to the built one).</summary>
public sealed class EngineFixture : IDisposable
{
    public ContainerEngine Engine { get; }
    public string Root { get; } = Directory.CreateTempSubdirectory("unicorn-xunit-").FullName;

    public EngineFixture()
    {
        // A cgroup parent of the run's own (every container has a devices cgroup on v1), not the
        // real one's; removed at the end.
        Environment.SetEnvironmentVariable(CgroupManager.ParentVariable, Path.GetFileName(Root));
        Engine = new ContainerEngine(new UnicornPaths(Path.Combine(Root, "state"), Path.Combine(Root, "data")));
        Assert.True(File.Exists(Engine.LauncherBinary), $"No launcher at {Engine.LauncherBinary}: run through build.ps1 -Task Test, or set UNICORN_LAUNCHER.");
    }

    public void Dispose()
    {
        foreach (var c in Engine.List())
            Engine.Remove(c, force: true);
        foreach (var r in Engine.Rootfs.List())
            Engine.Rootfs.Remove(r.Id);
        Assert.DoesNotContain(ProcFs.MountPoints(), m => m.StartsWith(Root));
        foreach (var parent in Directory.GetDirectories("/sys/fs/cgroup", Path.GetFileName(Root), SearchOption.TopDirectoryOnly)
                     .Concat(Directory.GetDirectories("/sys/fs/cgroup").SelectMany(h => Directory.GetDirectories(h, Path.GetFileName(Root)))))
            RemoveCgroup(parent);
        Directory.Delete(Root, recursive: true);
    }

    /// <summary>rmdir: empty by now, or this fails the run; EBUSY for a moment while a process the
    /// last test killed (by pid, so not waited for) is still exiting.</summary>
    static void RemoveCgroup(string dir)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                Directory.Delete(dir);
                return;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }
        }
    }
}

[Trait("Category", "Root")] // mounts, owners, device nodes, cgroups or containers: needs root
public class EngineTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    readonly ContainerEngine engine = fixture.Engine;

    // Only the mounts under this fixture's roots: other work on the host may mount meanwhile.
    IEnumerable<string> Ours() => ProcFs.MountPoints().Where(m => m.StartsWith(fixture.Root, StringComparison.Ordinal));

    Container Run(StartOptions options, CancellationToken cancel = default)
    {
        using var started = engine.Start(options);
        return started.WaitForExit(cancel);
    }

    [Fact]
    public void MountsAnOverlayAndRemovesIt()
    {
        var r = engine.Rootfs.Create(null);
        Assert.True(r.Mounted);
        Assert.Contains(r.Path, ProcFs.MountPoints());
        Assert.True(File.Exists(Path.Combine(r.Path, "bin/busybox")) || File.Exists(Path.Combine(r.Path, "bin/sh")));
        Assert.Equal(r.Id, engine.Rootfs.Get(r.Id[..8]).Id);

        engine.Rootfs.Remove(r.Id);
        Assert.DoesNotContain(r.Path, ProcFs.MountPoints());
        Assert.False(Directory.Exists(Path.GetDirectoryName(r.Path)));
        Assert.Null(engine.Rootfs.Find(r.Id));
    }

    [Fact]
    public void RunsACommandAndRecordsItsExit()
    {
        var c = Run(new StartOptions { Command = ["/bin/sh", "-c", "exit 7"], Name = "seven" });
        Assert.Equal(ContainerState.Exited, c.State);
        Assert.Equal(7, c.ExitCode);
        Assert.Null(c.Pid);
        Assert.Equal("seven", engine.Get("seven").Name);
        Assert.NotNull(c.RootfsId);

        engine.Remove(c, force: false);
        Assert.Null(engine.Find("seven"));
        Assert.Null(engine.Rootfs.Find(c.RootfsId!)); // it owned its rootfs
    }

    [Fact]
    public void CancellingTheWaitKillsTheContainer()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var c = Run(new StartOptions { Command = ["/bin/sleep", "1000"] }, cancel.Token);
        Assert.Equal(137, c.ExitCode);
        engine.Remove(c, force: false);
    }

    [Fact]
    public void AFailedStartLeavesNothing()
    {
        var mounts = Ours().ToList();
        var e = Assert.Throws<UnicornException>(() => engine.Start(new StartOptions { Command = ["/no/such/program"] }));
        Assert.Equal("ExecutableNotFound", e.ErrorId);
        Assert.Equal(mounts, Ours());
        Assert.Empty(engine.List());
        Assert.Empty(engine.Rootfs.List());
    }

    [Fact]
    public void CreatesAParkedInitThatRunsNothingUntilStarted()
    {
        var mounts = Ours().ToList();
        var marker = Path.Combine(fixture.Root, $"ran-{Guid.NewGuid():n}");
        Directory.CreateDirectory(marker);
        var options = new StartOptions { Command = ["/bin/sh", "-c", "touch /out/ran"], Volumes = [$"{marker}:/out"] };
        using (var parked = engine.Create(options))
        {
            Assert.Equal(ContainerState.Created, engine.Get(parked.Id).State);
            Assert.True(ProcFs.StartTime(parked.Pid) is not null); // the init exists, in its namespaces
            Thread.Sleep(200);
            Assert.False(File.Exists(Path.Combine(marker, "ran"))); // and waits
            var c = parked.Start().WaitForExit();
            Assert.Equal(0, c.ExitCode);
            Assert.True(File.Exists(Path.Combine(marker, "ran")));
            engine.Remove(c, force: false);
        }
        // Created and never started: disposing it undoes everything, the init killed.
        (int Pid, ulong StartTime) init;
        using (var parked = engine.Create(new StartOptions { Command = ["/bin/sh", "-c", "touch /out/never"], Volumes = [$"{marker}:/out"] }))
            init = (parked.Pid, ProcFs.StartTime(parked.Pid)!.Value);
        Assert.False(ProcFs.IsAlive(init.Pid, init.StartTime));
        Assert.False(File.Exists(Path.Combine(marker, "never")));
        Assert.Empty(engine.List());
        Assert.Empty(engine.Rootfs.List());
        Assert.Equal(mounts, Ours());
    }

    [Fact]
    public void RunsOnARootfsAssembledFromHostToolsWhenThereIsNoBusybox()
    {
        var dir = Path.Combine(fixture.Root, "host-tools");
        DefaultImage.Assemble(dir, busyboxPaths: [], log: null);
        Assert.False(File.Exists(Path.Combine(dir, "bin/busybox")));
        var c = Run(new StartOptions { RootfsPath = dir, Command = ["/bin/sh", "-c", "ls / > /dev/null && cat /etc/passwd > /dev/null && exit 5"] });
        Assert.Equal(5, c.ExitCode);
        engine.Remove(c, force: false);
        Assert.True(Directory.Exists(dir)); // a -RootfsPath directory is never removed
    }
}

[Trait("Category", "Root")] // mounts, owners, device nodes, cgroups or containers: needs root
public class CloneIntoCgroupTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    /// <summary>A cgroup of the test's own in the unified hierarchy, under a parent of its own;
    /// null when no cgroup2 is mounted.</summary>
    static (string Unified, string Parent, string Cgroup)? NewV2Cgroup()
    {
        var unified = File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' '))
            .FirstOrDefault(f => f.Contains("cgroup2"))?[4];
        if (unified is null)
            return null;
        var parent = Path.Combine(unified, "unicorn-xunit-" + Ids.Short(Ids.New()));
        return (unified, parent, Directory.CreateDirectory(Path.Combine(parent, "c1")).FullName);
    }

    // The v2 path of a start with limits: the init is born in its cgroup (CLONE_INTO_CGROUP), never
    // migrated. This host's unified hierarchy has no controllers to limit with, but a cgroup there
    // shows where the init was born all the same.
    // The record the launcher holds for the supervisor's life (fd 5): here, the spec; ours closed
    // once spawned, as the engine does.
    static int Held(string state)
    {
        int fd = Unicorn.Native.Libc.Open(Path.Combine(state, "spec"), Tmds.Linux.LibC.O_RDONLY);
        Unicorn.Native.Libc.LockShared(fd, "spec");
        return fd;
    }

    Launcher RunHeld(string state)
    {
        int hold = Held(state);
        try { return Launcher.Run(fixture.Engine.LauncherBinary, state, attach: false, interactive: false, hold); }
        finally { Unicorn.Native.Libc.Close(hold); }
    }

    [Fact]
    public void BearsTheInitInsideACgroupV2Directory()
    {
        if (NewV2Cgroup() is not var (unified, parent, cgroup))
            return; // no cgroup v2 mounted: nothing to be born in
        var rootfs = fixture.Engine.Rootfs.Create(null);
        var state = Directory.CreateDirectory(Path.Combine(fixture.Root, "clone-into")).FullName;
        try
        {
            var log = Path.Combine(state, "log");
            File.WriteAllBytes(Path.Combine(state, "spec"), SpecFile.Process(["/bin/cat", "/proc/self/cgroup"], ["PATH=/bin"], "/")
                .Rootfs(rootfs.Path).Mounts(SpecFile.DefaultMounts).Log(log).CgroupV2(cgroup).ToArray());
            using (var launcher = RunHeld(state))
            {
                launcher.ReadPid("/bin/cat", "clone-into");
                launcher.Go();
                launcher.ExpectStarted("/bin/cat", "clone-into");
                Assert.Equal(0, launcher.ReadExitCode());
            }
            Assert.Contains(File.ReadLines(log), l => l.EndsWith($"0::{cgroup[unified.Length..]}"));
        }
        finally
        {
            Directory.Delete(cgroup);
            Directory.Delete(parent);
            fixture.Engine.Rootfs.Remove(rootfs.Id);
        }
    }

    // exec's process too is born in the container's v2 cgroup (the launcher forks it with
    // CLONE_INTO_CGROUP, the directory opened before it joins the container's mount namespace).
    [Fact]
    public void BearsAnExecdProcessInsideACgroupV2Directory()
    {
        if (NewV2Cgroup() is not var (unified, parent, cgroup))
            return; // no cgroup v2 mounted: nothing to be born in
        var rootfs = fixture.Engine.Rootfs.Create(null);
        var state = Directory.CreateDirectory(Path.Combine(fixture.Root, "exec-into")).FullName;
        int init = 0;
        try
        {
            File.WriteAllBytes(Path.Combine(state, "spec"), SpecFile.Process(["/bin/sleep", "60"], ["PATH=/bin"], "/")
                .Rootfs(rootfs.Path).Mounts(SpecFile.DefaultMounts).Log(Path.Combine(state, "log")).ToArray());
            using var container = RunHeld(state);
            var pid = container.ReadPid("/bin/sleep", "exec-into");
            init = pid.Pid;
            container.Go();
            container.ExpectStarted("/bin/sleep", "exec-into");

            var spec = Path.Combine(state, "exec.spec");
            File.WriteAllBytes(spec, SpecFile.Process(["/bin/cat", "/proc/self/cgroup"], ["PATH=/bin"], "/")
                .CgroupV2(cgroup).ToArray());
            var output = Path.Combine(state, "out");
            using (var file = File.OpenHandle(output, FileMode.Create, FileAccess.Write))
            using (var exec = Launcher.Exec(fixture.Engine.LauncherBinary, init, pid.StartTime, spec, (int)file.DangerousGetHandle(), (int)file.DangerousGetHandle()))
            {
                exec.ReadPid("/bin/cat", "exec-into");
                exec.ExpectStarted("/bin/cat", "exec-into");
                Assert.Equal(0, exec.ReadExitCode());
            }
            Assert.Contains(File.ReadLines(output), l => l.EndsWith($"0::{cgroup[unified.Length..]}"));
        }
        finally
        {
            if (init > 0)
                System.Diagnostics.Process.GetProcessById(init).Kill();
            while (Directory.Exists(cgroup))
                try { Directory.Delete(cgroup); } catch (IOException) { Thread.Sleep(10); } // EBUSY while cat exits
            Directory.Delete(parent);
            fixture.Engine.Rootfs.Remove(rootfs.Id);
        }
    }
}
