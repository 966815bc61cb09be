using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Runtime;

/// <summary>The engine's side of the native launcher (src/launcher/README.md has the
/// protocol): spawns it, gives the go-ahead, reads its reports. The OCI face's create, start
/// (<see cref="Go"/>) and exec are here too.</summary>
internal sealed class Launcher : IDisposable
{
    const int FdGo = 3, FdReport = 4, FdHold = 5, FdFirstPreserved = 3;

    /// <summary>The socket in a created container's state directory that its parked init
    /// listens on for the go-ahead (README: the create mode).</summary>
    public const string StartSocket = "start.sock";

    int _go;
    int _child; // an exec launcher stays our child until it reports the end; 0 once reaped
    readonly StreamReader _reports;

    Launcher(int go, int report, int child)
    {
        _go = go;
        _child = child;
        _reports = new StreamReader(new FileStream(new SafeFileHandle(report, ownsHandle: true), FileAccess.Read, 1), Encoding.UTF8);
    }

    /// <summary>The launcher binary: where UNICORN_LAUNCHER says, else in directory (the module's
    /// folder, which the cmdlets give: in pwsh AppContext.BaseDirectory is pwsh's own), else next
    /// to the application.</summary>
    public static string BinaryPath(string? directory) =>
        Environment.GetEnvironmentVariable("UNICORN_LAUNCHER") is { Length: > 0 } p ? p
        : Path.Combine(directory ?? AppContext.BaseDirectory, "unicorn-launcher");

    /// <summary>Starts the supervisor of the container whose spec is in stateDir. Attached, the
    /// container's output passes through to our stdout and stderr as well as to its log;
    /// interactive, our stdin goes to it too.</summary>
    public static Launcher Run(string binary, string stateDir, bool attach, bool interactive, int hold)
    {
        var (goRead, goWrite) = Libc.Pipe();
        try
        {
            goRead = Libc.DupAbove(goRead, 10);
            int? output(int fd) => attach ? fd : null;
            return Spawn(binary, ["run", stateDir], [(0, interactive ? 0 : null), (1, output(1)), (2, output(2)), (FdGo, goRead), (FdHold, hold)], goWrite, detaches: true);
        }
        catch
        {
            Libc.Close(goWrite);
            throw;
        }
        finally
        {
            Libc.Close(goRead);
        }
    }

    /// <summary>Runs the command in specFile inside the container whose init is pid (with that
    /// start time), its stdout and stderr on the given descriptors (ours when null, with our
    /// stdin: an interactive session), its stdin on stdin (/dev/null when null).</summary>
    public static Launcher Exec(string binary, int pid, ulong startTime, string specFile, int? stdout, int? stderr, int? stdin = null) =>
        Spawn(binary, ["exec", pid.ToString(), startTime.ToString(), specFile],
            [(0, stdout is null ? 0 : stdin), (1, stdout ?? 1), (2, stderr ?? 2)], go: -1, detaches: false);

    // The OCI face (runc's command line): the caller's stdio is the process's as it is, the
    // descriptors it preserves follow from 3 on, and the report pipe goes above them.

    /// <summary>Descriptors 3 .. 3+count-1 of ours, passed on in place (runc --preserve-fds).</summary>
    public static IReadOnlyList<int> PreservedInPlace(int count) => [.. Enumerable.Range(FdFirstPreserved, count)];

    /// <summary>Creates the container whose spec is in stateDir (launcher create mode): its init
    /// is set up and then waits, parked, for <see cref="Go"/>. Our stdin, stdout and stderr are
    /// the container's; preserved (ours) become its descriptors 3, 4, ... in that order, which its
    /// spec's preservefds must count. Read <see cref="ReadPid"/>, then <see cref="ExpectCreated"/>;
    /// the init is not our child once the launcher has ended: our subreaper reaps it.</summary>
    public static Launcher Create(string binary, string stateDir, IReadOnlyList<int> preserved) =>
        SpawnOci(binary, ["create", stateDir], preserved);

    /// <summary><see cref="Create(string, string, IReadOnlyList{int})"/> with our descriptors
    /// 3 .. 3+preserveFds-1 passed on in place.</summary>
    public static Launcher Create(string binary, string stateDir, int preserveFds) =>
        Create(binary, stateDir, PreservedInPlace(preserveFds));

    /// <summary>Runs the command in specFile inside the container whose init is pid (with that
    /// start time), as runc exec does: our stdio and the preserved descriptors are the process's,
    /// as for <see cref="Create(string, string, IReadOnlyList{int})"/>. With the spec's tty and
    /// consolesocket, the terminal goes to that socket and nothing is relayed. Read
    /// <see cref="ReadPid"/> and <see cref="ExpectStarted"/>, then <see cref="ReadExitCode"/>; with
    /// the spec's detach, <see cref="Drain"/> instead: the launcher ends at once, and the process
    /// is our subreaper's to reap.</summary>
    public static Launcher ExecOci(string binary, int pid, ulong startTime, string specFile, IReadOnlyList<int> preserved) =>
        SpawnOci(binary, ["exec", pid.ToString(CultureInfo.InvariantCulture), startTime.ToString(CultureInfo.InvariantCulture), specFile], preserved);

    /// <summary>The launcher in an OCI mode: its report descriptor, the last argument, just above the preserved ones.</summary>
    static Launcher SpawnOci(string binary, string[] args, IReadOnlyList<int> preserved)
    {
        int report = FdFirstPreserved + preserved.Count;
        List<(int, int?)> fds = [(0, 0), (1, 1), (2, 2), .. preserved.Select((fd, i) => (FdFirstPreserved + i, (int?)fd))];
        return Spawn(binary, [.. args, report.ToString(CultureInfo.InvariantCulture)], fds, go: -1, detaches: false, report);
    }

    /// <summary>Starts a created container (runc start): connects to the parked init's
    /// <see cref="StartSocket"/> in stateDir and sends the go-ahead; returns once the init has
    /// executed command. Throws the error the launcher's run mode would for an exec that failed
    /// (ExecutableNotFound, ...), or ContainerNotCreated when no init waits there (started
    /// already, or ended). The socket is deleted once the init has taken the go-ahead.</summary>
    public static void Go(string stateDir, string command, string container)
    {
        var path = Path.Combine(stateDir, StartSocket);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            throw new UnicornException("ContainerNotCreated", ErrorKind.InvalidOperation,
                $"The container {container} is not in the created state: no init waits to be started (it was started already, or it has ended). Its state tells which.", container);
        }
        socket.Send("g"u8);
        // "<errno> <stage> <message>" if the exec failed; EOF alone (close-on-exec) if it worked.
        var error = new MemoryStream();
        var buffer = new byte[4096];
        for (int n; (n = socket.Receive(buffer)) > 0;)
            error.Write(buffer, 0, n);
        File.Delete(path); // taken: the init listens no more
        if (error.Length > 0)
            throw Failure($"error {Encoding.UTF8.GetString(error.ToArray())}", command, container);
    }

    /// <summary>What the kernel runs: the binary through a read-only overlayfs mounted nowhere,
    /// or where that cannot be made, a sealed in-memory copy (runc's two seals since
    /// CVE-2019-5736); once per process, and again if the file changes. A container that reaches
    /// a launcher through /proc/N/exe finds a file no one can write, never one it could change for
    /// the next container. The overlay copies nothing (the copy of the 1 MB binary took 0.6 ms of
    /// each `unicorn create`).</summary>
    static int SealedBinary(string binary)
    {
        var file = new FileInfo(binary);
        if (!file.Exists)
            throw new UnicornException("LauncherNotFound", ErrorKind.NotInstalled,
                $"The launcher '{binary}' is missing. Rebuild the module (./build.ps1) or set UNICORN_LAUNCHER to its path.", binary);
        var key = (binary, file.Length, file.LastWriteTimeUtc);
        lock (Sealed)
        {
            if (Sealed.TryGetValue(key, out int fd))
                return fd;
            // Above the descriptors the launcher is usually given (0 to 5), which the spawn overwrites.
            // The overlay's second layer: /dev, never the launcher's directory nor above it.
            fd = Libc.DupAbove(Libc.SealedView(binary, "/dev") ?? Libc.SealedCopy(binary, "unicorn-launcher"), 10);
            Sealed[key] = fd; // kept open for the process's life: one copy per version of the file
            return fd;
        }
    }

    static readonly Dictionary<(string, long, DateTime), int> Sealed = [];

    /// <summary>Spawns the launcher with fds (the child's descriptor, and ours to put there) and
    /// the report pipe's write end at reportFd.</summary>
    static Launcher Spawn(string binary, string[] args, List<(int Child, int? Ours)> fds, int go, bool detaches, int reportFd = FdReport)
    {
        // Every descriptor the spawn reads from (and the binary it runs) above every one it writes:
        // a dup2 onto a low number must not overwrite one still to be read. Copies are ours to close.
        int floor = Math.Max(10, Math.Max(reportFd, fds.Max(f => f.Child)) + 1);
        var copies = new List<int>();
        int Above(int fd)
        {
            if (fd >= floor)
                return fd;
            int copy = L.fcntl(fd, L.F_DUPFD_CLOEXEC, floor);
            if (copy < 0)
                throw new NativeException(L.errno, "fcntl F_DUPFD_CLOEXEC", $"fd {fd}");
            copies.Add(copy);
            return copy;
        }

        var (reportRead, reportWrite) = Libc.Pipe();
        try
        {
            var sealedBinary = $"/proc/self/fd/{Above(SealedBinary(binary))}";
            reportWrite = Libc.DupAbove(reportWrite, floor);
            // In place (0 onto 0) is left as it is: the spawn only clears its close-on-exec.
            List<(int, int?)> actions = [.. fds.Select(f => f.Ours is int o && o != f.Child ? (f.Child, Above(o)) : f), (reportFd, reportWrite)];
            int pid = Libc.Spawn(sealedBinary, [binary, .. args], actions);
            if (detaches)
                Libc.WaitPid(pid); // it forks the supervisor and exits at once
            return new Launcher(go, reportRead, detaches ? 0 : pid);
        }
        catch
        {
            Libc.Close(reportRead);
            throw;
        }
        finally
        {
            Libc.Close(reportWrite);
            copies.ForEach(Libc.Close);
        }
    }

    // The reports (README: "Reports"), read here only.

    /// <summary>The next report line, or null once the launcher has closed its end (and, for
    /// an exec launcher, has been reaped).</summary>
    string? ReadReport()
    {
        var line = _reports.ReadLine();
        if (line is null && Interlocked.Exchange(ref _child, 0) is var pid && pid > 0)
            Libc.WaitPid(pid);
        return line;
    }

    /// <summary>The first report, "pid &lt;pid&gt; &lt;start time&gt; &lt;supervisor&gt;": the
    /// process cloned (waiting for the go-ahead in run mode). Throws the launch's failure
    /// instead, the launcher gone, when it reports an error or nothing.</summary>
    public (int Pid, ulong StartTime, int Supervisor) ReadPid(string command, string container)
    {
        var line = ReadReport();
        if (line?.Split(' ') is ["pid", var pid, var start, var sup]
            && int.TryParse(pid, out int p) && ulong.TryParse(start, out ulong t) && int.TryParse(sup, out int s))
            return (p, t, s);
        Abort(); // nothing may go ahead of a launch that did not report its process
        throw Failure(line, command, container);
    }

    /// <summary>The second report, "started": the command was executed. Throws the launch's
    /// failure instead, once the launcher is gone.</summary>
    public void ExpectStarted(string command, string container)
    {
        var line = ReadReport();
        if (line == "started")
            return;
        Drain(); // the supervisor has exited once this returns
        throw Failure(line, command, container);
    }

    /// <summary>The second report of create mode, "created": the init is set up and parked,
    /// waiting for <see cref="Go"/>. Throws the launch's failure instead (the init killed and
    /// reaped: nothing runs). Either way the launcher has ended once this returns; but relaying
    /// (the spec's tty without a consolesocket), created, it stays the init's parent and relays its
    /// terminal to our stdin and stdout until <see cref="ReadExitCode"/> has its end.</summary>
    public void ExpectCreated(string command, string container, bool relaying = false)
    {
        var line = ReadReport();
        if (relaying && line == "created")
            return;
        Drain();
        if (line != "created")
            throw Failure(line, command, container);
    }

    /// <summary>Reads reports to the end ("exit &lt;code&gt;"): the command's exit code, or
    /// 128+signal; 255 when the launcher ended without one. The launcher is gone then.</summary>
    public int ReadExitCode()
    {
        int code = 255;
        while (ReadReport() is { } line)
            if (line.StartsWith("exit ", StringComparison.Ordinal) && int.TryParse(line.AsSpan(5), out var c))
                code = c;
        return code;
    }

    /// <summary>Reads reports to the end: the launcher is gone once this returns.</summary>
    public void Drain()
    {
        while (ReadReport() is not null) { }
    }

    /// <summary>The error for a report other than the one expected: "error &lt;errno&gt;
    /// &lt;stage&gt; &lt;message&gt;", or anything else (nothing at all).</summary>
    static UnicornException Failure(string? report, string command, string container)
    {
        var f = report?.Split(' ', 4);
        if (f is not ["error", var errnoText, var stage, var message] || !int.TryParse(errnoText, out int errno))
            return new UnicornException("LauncherFailed", ErrorKind.NotSpecified, $"The container's launcher failed: {report ?? "it exited without a word"}.", container);
        if (stage == "gone")
            return ContainerEngine.NotRunning(container);
        if (stage != "exec" && errno == Errno.EAGAIN)
            return new UnicornException("ContainerPidsLimitReached", ErrorKind.ResourceUnavailable,
                $"No new process can start in the container {container}: it is at its pids limit ({message}). Raise it with Set-UnicornCgroup -PidsLimit.", container);
        if (stage != "exec")
            return new UnicornException("ContainerSetupFailed", ErrorKind.NotSpecified, $"Setting up the container failed: {message}.", container);
        return errno switch
        {
            Errno.ENOENT => new UnicornException("ExecutableNotFound", ErrorKind.ObjectNotFound,
                $"'{command}' was not found in the container's root filesystem{(command.Contains('/') ? "" : " (searched PATH)")}. {NotFoundHint(command)}", command),
            Errno.EACCES or Errno.EPERM => new UnicornException("ExecutableNotExecutable", ErrorKind.PermissionDenied,
                $"'{command}' cannot be executed in the container: it is not an executable file (or a directory in its path is not searchable).", command),
            Errno.ENOEXEC => new UnicornException("ExecutableFormatError", ErrorKind.InvalidArgument,
                $"'{command}' is not a program this machine can run (exec format error): a script needs a '#!' line, a binary the right architecture.", command),
            _ => new UnicornException("ExecFailed", ErrorKind.NotSpecified, $"Running '{command}' in the container failed: {message}.", command),
        };
    }

    /// <summary>What to do about a command not found. One string with spaces ('echo hi') names
    /// one program: the array form was meant, or a shell line.</summary>
    static string NotFoundHint(string command)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < 2)
            return "Check the command, or the image it should come from.";
        return $"One string is one program's name: give the program and its arguments apart, as an array (-Command {string.Join(", ", words.Select(Quote))}), or run it as a shell line (-Command /bin/sh, -c, {Quote(command)}).";
        static string Quote(string word) => $"'{word.Replace("'", "''")}'";
    }

    /// <summary>Sends signal to the launcher while it is our child (an exec launcher passes it on
    /// to its process).</summary>
    public void Signal(int signal)
    {
        if (Volatile.Read(ref _child) is var pid and > 0 && Libc.PidfdOpen(pid) is var fd and >= 0)
        {
            Libc.PidfdSignal(fd, signal);
            Libc.Close(fd);
        }
    }

    /// <summary>Lets the container's init go on to exec its command.</summary>
    public void Go()
    {
        Libc.WriteAll(_go, "g"u8);
        CloseGo();
    }

    /// <summary>Stops a launch before the command runs, and waits until the supervisor is gone,
    /// so that nothing writes into the state directory once this returns.</summary>
    public void Abort()
    {
        CloseGo();
        Drain();
    }

    void CloseGo()
    {
        if (Interlocked.Exchange(ref _go, -1) is var fd && fd >= 0)
            Libc.Close(fd);
    }

    public void Dispose()
    {
        CloseGo();
        _reports.Dispose();
        if (Interlocked.Exchange(ref _child, 0) is var pid && pid > 0)
            Libc.WaitPid(pid);
    }
}
