using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Unicorn.Runtime;

/// <summary>A process running inside a container: write its input (if asked for), read its
/// output, then wait for its exit.</summary>
public sealed class ExecProcess : IDisposable
{
    readonly Launcher _launcher;
    readonly string _specFile;

    internal ExecProcess(Launcher launcher, string specFile, int pid, ulong startTime, int stdout, int stderr, int stdin = -1)
    {
        (_launcher, _specFile, Pid, StartTime) = (launcher, specFile, pid, startTime);
        Stdout = Reader(stdout);
        Stderr = Reader(stderr);
        // Unbuffered: what is written reaches the process at once.
        Stdin = stdin >= 0 ? new FileStream(new SafeFileHandle(stdin, ownsHandle: true), FileAccess.Write, 0) : null;
    }

    static StreamReader Reader(int fd) => new(new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, 1), Encoding.UTF8);

    /// <summary>Its pid on the host.</summary>
    public int Pid { get; }
    ulong StartTime { get; }
    /// <summary>The process's stdin when <see cref="ExecOptions.Stdin"/> asked for it, else null.
    /// Closing it gives the process EOF.</summary>
    public Stream? Stdin { get; }
    public StreamReader Stdout { get; }
    public StreamReader Stderr { get; }

    /// <summary>Blocks until the process ends; its exit code, or 128+signal.</summary>
    public int WaitForExit() => _launcher.ReadExitCode();

    /// <summary>Signals the process (not the container).</summary>
    public bool Kill(int signal) => ContainerEngine.SignalProcess(Pid, StartTime, signal);

    public void Dispose()
    {
        Stdin?.Dispose();
        Stdout.Dispose();
        Stderr.Dispose();
        _launcher.Dispose();
        File.Delete(_specFile);
    }
}
