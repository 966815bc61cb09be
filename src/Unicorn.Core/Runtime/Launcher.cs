using System.Text;
using Microsoft.Win32.SafeHandles;
using Unicorn.Native;

namespace Unicorn;

/// <summary>The engine's side of the native launcher (src/launcher/README.md has the
/// protocol): spawns it, gives the go-ahead, reads its reports.</summary>
internal sealed class Launcher : IDisposable
{
    const int FdGo = 3, FdReport = 4, FdHold = 5;

    int _go;
    int _child; // an exec launcher stays our child until it reports the end; 0 once reaped
    readonly StreamReader _reports;

    Launcher(int go, int report, int child)
    {
        _go = go;
        _child = child;
        _reports = new StreamReader(new FileStream(new SafeFileHandle(report, ownsHandle: true), FileAccess.Read, 1), Encoding.UTF8);
    }

    /// <summary>The launcher binary: next to this assembly in the module folder, or where
    /// UNICORN_LAUNCHER says.</summary>
    public static string BinaryPath =>
        Environment.GetEnvironmentVariable("UNICORN_LAUNCHER") is { Length: > 0 } p ? p
        : Path.Combine(Path.GetDirectoryName(typeof(Launcher).Assembly.Location)!, "unicorn-launcher");

    /// <summary>Starts the supervisor of the container whose spec is in stateDir. Attached, the
    /// container's output passes through to our stdout and stderr as well as to its log;
    /// interactive, our stdin goes to it too.</summary>
    public static Launcher Run(string stateDir, bool attach, bool interactive, int hold)
    {
        var (goRead, goWrite) = Libc.Pipe();
        try
        {
            goRead = Libc.DupAbove(goRead, 10);
            int? output(int fd) => attach ? fd : null;
            return Spawn(["run", stateDir], [(0, interactive ? 0 : null), (1, output(1)), (2, output(2)), (FdGo, goRead), (FdHold, hold)], goWrite, detaches: true);
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
    /// stdin: an interactive session).</summary>
    public static Launcher Exec(int pid, ulong startTime, string specFile, int? stdout, int? stderr) =>
        Spawn(["exec", pid.ToString(), startTime.ToString(), specFile],
            [(0, stdout is null ? 0 : null), (1, stdout ?? 1), (2, stderr ?? 2)], go: -1, detaches: false);

    /// <summary>What the kernel runs: a sealed in-memory copy of the binary, made once per
    /// process (and again if the file changes), as runc does since CVE-2019-5736. A container
    /// that reaches a launcher through /proc/N/exe finds a file no one can write, never the
    /// binary on disk that the next container would run.</summary>
    static string SealedBinary(string binary)
    {
        var file = new FileInfo(binary);
        if (!file.Exists)
            throw new UnicornException("LauncherNotFound", ErrorKind.NotInstalled,
                $"The launcher '{binary}' is missing. Rebuild the module (./build.ps1) or set UNICORN_LAUNCHER to its path.", binary);
        var key = (binary, file.Length, file.LastWriteTimeUtc);
        lock (Sealed)
        {
            if (Sealed.TryGetValue(key, out int fd))
                return $"/proc/self/fd/{fd}";
            // Above the descriptors the launcher is given (0 to 5), which the spawn overwrites.
            fd = Libc.DupAbove(Libc.SealedCopy(binary, "unicorn-launcher"), 10);
            Sealed[key] = fd; // kept open for the process's life: one copy per version of the file
            return $"/proc/self/fd/{fd}";
        }
    }

    static readonly Dictionary<(string, long, DateTime), int> Sealed = [];

    static Launcher Spawn(string[] args, List<(int, int?)> fds, int go, bool detaches)
    {
        var binary = BinaryPath;
        var sealedBinary = SealedBinary(binary);

        var (reportRead, reportWrite) = Libc.Pipe();
        try
        {
            reportWrite = Libc.DupAbove(reportWrite, 10);
            fds.Add((FdReport, reportWrite));
            int pid = Libc.Spawn(sealedBinary, [binary, .. args], fds);
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
        }
    }

    /// <summary>The next report line, or null once the launcher has closed its end (and, for
    /// an exec launcher, has been reaped).</summary>
    public string? ReadReport()
    {
        var line = _reports.ReadLine();
        if (line is null && Interlocked.Exchange(ref _child, 0) is var pid && pid > 0)
            Libc.WaitPid(pid);
        return line;
    }

    /// <summary>Reads reports to the end: the launcher is gone once this returns.</summary>
    public void Drain()
    {
        while (ReadReport() is not null) { }
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
