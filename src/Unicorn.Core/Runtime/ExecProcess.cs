using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Unicorn.Runtime;

/// <summary>A process running inside a container: read its output, then wait for its exit.</summary>
public sealed class ExecProcess : IDisposable
{
    readonly Launcher _launcher;
    readonly string _specFile;

    internal ExecProcess(Launcher launcher, string specFile, int pid, ulong startTime, int stdout, int stderr)
    {
        (_launcher, _specFile, Pid, StartTime) = (launcher, specFile, pid, startTime);
        Stdout = Reader(stdout);
        Stderr = Reader(stderr);
    }

    static StreamReader Reader(int fd) => new(new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, 1), Encoding.UTF8);

    /// <summary>Its pid on the host.</summary>
    public int Pid { get; }
    ulong StartTime { get; }
    public StreamReader Stdout { get; }
    public StreamReader Stderr { get; }

    /// <summary>Blocks until the process ends; its exit code, or 128+signal.</summary>
    public int WaitForExit() => _launcher.ReadExitCode();

    /// <summary>Signals the process (not the container).</summary>
    public bool Kill(int signal) => ContainerEngine.SignalProcess(Pid, StartTime, signal);

    public void Dispose()
    {
        Stdout.Dispose();
        Stderr.Dispose();
        _launcher.Dispose();
        File.Delete(_specFile);
    }
}
