using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Unicorn.Native;
using Unicorn.Runtime;
using L = Tmds.Linux.LibC;

namespace Unicorn.Tests;

/// <summary>A busybox rootfs and state directories of the tests' own; the test process is a
/// child subreaper meanwhile, as conmon and containerd's shim are: the inits and detached
/// processes the launcher leaves are ours to reap.</summary>
public sealed class LauncherOciFixture : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("unicorn-oci-").FullName;
    public string Rootfs => Path.Combine(Root, "rootfs");
    public string Binary { get; } = Launcher.BinaryPath(null);

    public LauncherOciFixture()
    {
        Assert.True(File.Exists(Binary), $"No launcher at {Binary}: run through build.ps1 -Task Test, or set UNICORN_LAUNCHER.");
        DefaultImage.Assemble(Rootfs);
        Assert.Equal(0, Oci.prctl(Oci.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
    }

    public void Dispose()
    {
        Oci.prctl(Oci.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        // The containers' mounts were in their own mount namespaces: none is left on the host.
        Assert.DoesNotContain(ProcFs.MountPoints(), m => m.StartsWith(Root, StringComparison.Ordinal));
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>Alone: a subreaper would adopt the orphans of tests running beside these.</summary>
[CollectionDefinition(nameof(LauncherOciTests), DisableParallelization = true)]
public sealed class LauncherOciCollection : ICollectionFixture<LauncherOciFixture>;

/// <summary>The launcher's OCI process model (README: create, start, exec): create parks the
/// set-up init on start.sock, Go lets it run the command; exec's detach, console socket and
/// preserved descriptors.</summary>
[Trait("Category", "Root")]
[Collection(nameof(LauncherOciTests))]
public class LauncherOciTests(LauncherOciFixture fixture) : IDisposable
{
    readonly List<int> _started = []; // pids that are ours to kill and reap at the end
    readonly string _id = Guid.NewGuid().ToString("n")[..12];

    string StateDir()
    {
        var dir = Path.Combine(fixture.Root, "state", _id);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A file the container writes at its root (the rootfs directory, seen from the host).</summary>
    string Out(string name) => Path.Combine(fixture.Rootfs, $"{name}-{_id}");

    SpecFile Spec(params string[] command) =>
        SpecFile.Process(command, ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "/").Rootfs(fixture.Rootfs).Mounts(SpecFile.DefaultMounts); // the launcher mounts only what the spec names

    /// <summary>create: the init's pid, parked once this returns.</summary>
    (int Pid, ulong StartTime) Create(string state, SpecFile spec, params int[] preserved)
    {
        File.WriteAllBytes(Path.Combine(state, "spec"), spec.ToArray());
        using var launcher = Launcher.Create(fixture.Binary, state, preserved);
        var (pid, start, launcherPid) = launcher.ReadPid("cmd", _id);
        _started.Add(pid);
        Assert.NotEqual(pid, launcherPid);
        launcher.ExpectCreated("cmd", _id);
        return (pid, start);
    }

    /// <summary>Reaps a process of ours (the subreaper's): its exit code, or 128+signal.</summary>
    int Reap(int pid)
    {
        Assert.Equal(pid, Oci.waitpid(pid, out int status, 0));
        _started.Remove(pid);
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
    }

    public void Dispose()
    {
        foreach (var pid in _started)
        {
            L.kill(pid, L.SIGKILL);
            Oci.waitpid(pid, out _, 0);
        }
        if (Directory.Exists(Path.Combine(fixture.Root, "state", _id)))
            Directory.Delete(Path.Combine(fixture.Root, "state", _id), recursive: true);
        foreach (var f in Directory.GetFiles(fixture.Rootfs, $"*-{_id}"))
            File.Delete(f);
    }

    [Fact]
    public void CreateParksTheInitAndGoRunsTheCommand()
    {
        var state = StateDir();
        var (pid, start) = Create(state, Spec("/bin/sh", "-c", $"touch /ran-{_id}").OomScoreAdj(500));

        // Set up and waiting: alive, asleep in accept(), the command not run.
        Assert.Equal('S', ProcFs.Process(pid, start)?.State);
        Assert.Equal("500", File.ReadAllText($"/proc/{pid}/oom_score_adj").Trim());
        var socket = Path.Combine(state, Launcher.StartSocket);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));
        Thread.Sleep(200);
        Assert.False(File.Exists(Out("ran")));

        Launcher.Go(state, "/bin/sh", _id);
        Assert.False(File.Exists(socket));
        Assert.Equal(0, Reap(pid));
        Assert.True(File.Exists(Out("ran")));

        // Started already: no init waits.
        var e = Assert.Throws<UnicornException>(() => Launcher.Go(state, "/bin/sh", _id));
        Assert.Equal("ContainerNotCreated", e.ErrorId);
    }

    [Theory]
    [InlineData("/no/such/program")]
    [InlineData("nosuchprogram")] // looked up in the command's PATH inside the root
    public void AMissingCommandFailsAtCreate(string command)
    {
        var state = StateDir();
        File.WriteAllBytes(Path.Combine(state, "spec"), Spec(command).ToArray());
        using var launcher = Launcher.Create(fixture.Binary, state, []);
        var (pid, _, _) = launcher.ReadPid(command, _id);
        var e = Assert.Throws<UnicornException>(() => launcher.ExpectCreated(command, _id));
        Assert.Equal("ExecutableNotFound", e.ErrorId);
        Assert.Null(ProcFs.StartTime(pid)); // killed and reaped by the launcher
        Assert.False(File.Exists(Path.Combine(state, Launcher.StartSocket)));
        Assert.Equal("ContainerNotCreated", Assert.Throws<UnicornException>(() => Launcher.Go(state, command, _id)).ErrorId);
    }

    [Fact]
    public void AnExecErrorAtGoIsReported()
    {
        // Found at create (a file with an x bit), but its interpreter is not: execve itself fails, at start.
        File.WriteAllText(Out("script"), "#!/no/such/interpreter\n");
        File.SetUnixFileMode(Out("script"), (UnixFileMode)0b111_101_101);
        var state = StateDir();
        var (pid, _) = Create(state, Spec($"/script-{_id}"));
        var e = Assert.Throws<UnicornException>(() => Launcher.Go(state, "/script", _id));
        Assert.Equal("ExecutableNotFound", e.ErrorId);
        Assert.Equal(127, Reap(pid));
        Assert.Equal("ContainerNotCreated", Assert.Throws<UnicornException>(() => Launcher.Go(state, "/script", _id)).ErrorId);
    }

    [Fact]
    public void ASignalEndsACreatedContainer()
    {
        // Pid 1 of its namespace ignores what it has no handler for; the parked init has one.
        var state = StateDir();
        var (pid, _) = Create(state, Spec("/bin/true"));
        L.kill(pid, L.SIGTERM);
        Assert.Equal(128 + L.SIGTERM, Reap(pid));
    }

    [Fact]
    public void ACreateWithoutAMountNamespaceOfItsOwnIsRefused()
    {
        var state = StateDir();
        File.WriteAllBytes(Path.Combine(state, "spec"), Spec("/bin/true").Namespace("pid", null).ToArray());
        using var launcher = Launcher.Create(fixture.Binary, state, []);
        var e = Assert.Throws<UnicornException>(() => launcher.ReadPid("/bin/true", _id));
        Assert.Equal("ContainerSetupFailed", e.ErrorId);
        Assert.Contains("mount namespace", e.Message);
    }

    [Fact]
    public void APreservedDescriptorIsTheContainersThree()
    {
        var (read, write) = Libc.Pipe();
        try
        {
            Libc.WriteAll(write, "handed over\n"u8);
            Libc.Close(write);
            write = -1;
            var state = StateDir();
            var (pid, _) = Create(state, Spec("/bin/sh", "-c", $"cat <&3 >/got-{_id}; ls /proc/self/fd >/fds-{_id}").PreserveFds(1), read);
            Launcher.Go(state, "/bin/sh", _id);
            Assert.Equal(0, Reap(pid));
            Assert.Equal("handed over\n", File.ReadAllText(Out("got")));
            // Stdio, the preserved 3, and ls's own directory: nothing of the launcher's.
            Assert.Equal(["0", "1", "2", "3", "4"], File.ReadAllLines(Out("fds")));
        }
        finally
        {
            Libc.Close(read);
            if (write >= 0)
                Libc.Close(write);
        }
    }

    [Fact]
    public void ATerminalGoesToTheConsoleSocket()
    {
        var state = StateDir();
        var path = Path.Combine(state, "console.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var spec = Spec("/bin/sh", "-c", "stty size; tty; echo done").Tty().ConsoleSocket(path).ConsoleSize(33, 101);
        var (pid, _) = Create(state, spec);

        // The launcher connected before it cloned; the init sent the master while it set up.
        using var connection = listener.Accept();
        int master = Oci.ReceiveFd((int)connection.Handle);
        try
        {
            Launcher.Go(state, "/bin/sh", _id);
            var output = Oci.ReadToEnd(master, TimeSpan.FromSeconds(10));
            Assert.Equal(0, Reap(pid));
            Assert.Contains("33 101", output);
            Assert.Contains("/dev/pts/0", output); // its own devpts's, its controlling terminal
            Assert.Contains("done", output);
        }
        finally
        {
            Libc.Close(master);
        }
    }

    [Fact]
    public void ADetachedExecReturnsWhileItRunsInTheContainersNamespaces()
    {
        // The host's UTS namespace shared, the others new (a cgroup one too).
        var state = StateDir();
        var spec = Spec("/bin/sleep", "60");
        foreach (var ns in new[] { "mnt", "pid", "ipc", "net", "cgroup" })
            spec.Namespace(ns, null);
        var (init, start) = Create(state, spec);
        Launcher.Go(state, "/bin/sleep", _id);

        var execSpec = Path.Combine(state, "exec.spec");
        File.WriteAllBytes(execSpec, SpecFile.Process(["/bin/sh", "-c", $"sleep 2; touch /exec-{_id}"], ["PATH=/bin"], "/").Detach().ToArray());
        var clock = Stopwatch.StartNew();
        int pid;
        using (var launcher = Launcher.ExecOci(fixture.Binary, init, start, execSpec, []))
        {
            pid = launcher.ReadPid("/bin/sh", _id).Pid;
            _started.Add(pid);
            launcher.ExpectStarted("/bin/sh", _id);
            launcher.Drain(); // it ends at once: no exit to wait for
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.5), $"exec --detach took {clock.Elapsed}");
        Assert.False(File.Exists(Out("exec")));

        foreach (var ns in new[] { "mnt", "pid", "ipc", "net", "cgroup", "uts" })
            Assert.Equal(Oci.Namespace(init, ns), Oci.Namespace(pid, ns));
        Assert.Equal(Oci.Namespace(Environment.ProcessId, "uts"), Oci.Namespace(pid, "uts"));
        Assert.NotEqual(Oci.Namespace(Environment.ProcessId, "cgroup"), Oci.Namespace(init, "cgroup"));

        Assert.Equal(0, Reap(pid)); // reparented to us, the subreaper
        Assert.True(File.Exists(Out("exec")));
        L.kill(init, L.SIGKILL);
        Assert.Equal(128 + L.SIGKILL, Reap(init));
    }

    [Fact]
    public void AnExecWaitsAndReportsTheExitCode()
    {
        var state = StateDir();
        var (init, start) = Create(state, Spec("/bin/sleep", "60"));
        Launcher.Go(state, "/bin/sleep", _id);
        var execSpec = Path.Combine(state, "exec.spec");
        File.WriteAllBytes(execSpec, SpecFile.Process(["/bin/sh", "-c", "exit 5"], ["PATH=/bin"], "/").ToArray());
        using (var launcher = Launcher.ExecOci(fixture.Binary, init, start, execSpec, []))
        {
            launcher.ReadPid("/bin/sh", _id);
            launcher.ExpectStarted("/bin/sh", _id);
            Assert.Equal(5, launcher.ReadExitCode());
        }
        L.kill(init, L.SIGKILL);
        Assert.Equal(128 + L.SIGKILL, Reap(init));
    }
}

/// <summary>The calls the tests make that the engine has no use for.</summary>
static class Oci
{
    public const int PR_SET_CHILD_SUBREAPER = 36;

    [DllImport("libc", SetLastError = true)]
    public static extern int prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [DllImport("libc", SetLastError = true)]
    public static extern int waitpid(int pid, out int status, int options);

    [DllImport("libc", SetLastError = true)]
    static extern nint recvmsg(int fd, ref MsgHdr msg, int flags);

    [DllImport("libc", SetLastError = true)]
    static extern nint read(int fd, byte[] buf, nint count);

    [DllImport("libc", SetLastError = true)]
    static extern int poll(ref PollFd fds, ulong nfds, int timeout);

    [StructLayout(LayoutKind.Sequential)]
    struct MsgHdr { public nint Name; public uint NameLen; public nint Iov; public nuint IovLen; public nint Control; public nuint ControlLen; public int Flags; }

    [StructLayout(LayoutKind.Sequential)]
    struct IoVec { public nint Base; public nuint Len; }

    [StructLayout(LayoutKind.Sequential)]
    struct PollFd { public int Fd; public short Events; public short REvents; }

    /// <summary>The descriptor that came with one byte over the unix socket (SCM_RIGHTS).</summary>
    public static int ReceiveFd(int socket)
    {
        const int cmsgHeader = 16, cmsgSpace = 24, SCM_RIGHTS = 1;
        nint data = Marshal.AllocHGlobal(64), control = Marshal.AllocHGlobal(cmsgSpace), iov = Marshal.AllocHGlobal(Marshal.SizeOf<IoVec>());
        try
        {
            Marshal.StructureToPtr(new IoVec { Base = data, Len = 64 }, iov, false);
            var msg = new MsgHdr { Iov = iov, IovLen = 1, Control = control, ControlLen = cmsgSpace };
            Assert.True(recvmsg(socket, ref msg, L.MSG_CMSG_CLOEXEC) > 0, $"recvmsg: {Marshal.GetLastPInvokeError()}");
            Assert.Equal(L.SOL_SOCKET, Marshal.ReadInt32(control, 8));
            Assert.Equal(SCM_RIGHTS, Marshal.ReadInt32(control, 12));
            return Marshal.ReadInt32(control, cmsgHeader);
        }
        finally
        {
            Marshal.FreeHGlobal(data);
            Marshal.FreeHGlobal(control);
            Marshal.FreeHGlobal(iov);
        }
    }

    /// <summary>What a pty's master gives until EIO (no process has the slave any more).</summary>
    public static string ReadToEnd(int master, TimeSpan timeout)
    {
        var output = new System.Text.StringBuilder();
        var buffer = new byte[4096];
        var until = DateTime.UtcNow + timeout;
        for (;;)
        {
            var p = new PollFd { Fd = master, Events = (short)L.POLLIN };
            int left = (int)(until - DateTime.UtcNow).TotalMilliseconds;
            Assert.True(left > 0 && poll(ref p, 1, left) > 0, $"no end of the terminal's output; so far: {output}");
            nint n = read(master, buffer, buffer.Length);
            if (n <= 0)
                return output.ToString();
            output.Append(System.Text.Encoding.UTF8.GetString(buffer, 0, (int)n));
        }
    }

    /// <summary>The namespace a process is in (the link's text, "uts:[4026531838]").</summary>
    public static string Namespace(int pid, string type) => new FileInfo($"/proc/{pid}/ns/{type}").LinkTarget!;
}
