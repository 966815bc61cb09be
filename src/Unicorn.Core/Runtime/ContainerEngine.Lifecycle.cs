using Unicorn.Native;

namespace Unicorn;

// Signals, stop and wait: acting on a container that runs, whoever started it.
public sealed partial class ContainerEngine
{
    StartRecord? ReadStart(string id) => Files.ReadJson(Path.Combine(Paths.ContainerDir(id), "started"), Json.Default.StartRecord);

    /// <summary>Sends a signal to a container's init through a pidfd checked against the init's
    /// start time, so a reused pid is never hit. False if the init is not alive.</summary>
    public bool Kill(string id, int signal) => ReadStart(id) is { } s && SignalProcess(s.Pid, s.PidStartTime, signal);

    internal static bool SignalProcess(int pid, ulong startTime, int signal)
    {
        int fd = Libc.PidfdOpen(pid);
        if (fd < 0)
            return false;
        try { return ProcFs.IsAlive(pid, startTime) && Libc.PidfdSignal(fd, signal); }
        finally { Libc.Close(fd); }
    }

    /// <summary>Blocks until the container is no longer running (its supervisor has recorded its
    /// exit), the timeout passes, or cancel; returns it as it then is.</summary>
    public Container WaitForExit(string id, TimeSpan? timeout = null, CancellationToken cancel = default)
    {
        var deadline = timeout is { } t ? DateTime.UtcNow + t : DateTime.MaxValue;
        while (true)
        {
            var c = Load(id) ?? throw NotFound(id);
            var left = deadline - DateTime.UtcNow;
            if (c.State is not (ContainerState.Running or ContainerState.Created or ContainerState.Unknown) || left <= TimeSpan.Zero || cancel.IsCancellationRequested)
                return c;
            int slice = (int)Math.Clamp(left.TotalMilliseconds, 1, 100); // wake to notice a cancel
            if (c.State == ContainerState.Running && ReadStart(id) is { } s && WaitForProcess(s.SupervisorPid, s.SupervisorStartTime, slice))
                continue;
            Thread.Sleep(Math.Min(slice, 10)); // starting, or no supervisor left to watch
        }
    }

    // True once the process has ended (or was not ours to begin with).
    static bool WaitForProcess(int pid, ulong startTime, int timeoutMs)
    {
        int fd = Libc.PidfdOpen(pid);
        if (fd < 0)
            return true;
        try { return !ProcFs.IsAlive(pid, startTime) || Libc.WaitReadable(fd, timeoutMs); }
        finally { Libc.Close(fd); }
    }

    /// <summary>Sends signal (SIGTERM by default), waits up to timeout, then SIGKILL and waits
    /// for the end. A container that is not running is returned as it is.</summary>
    public Container Stop(string id, int signal, TimeSpan timeout, CancellationToken cancel = default)
    {
        if (!Kill(id, signal))
            return Get(id);
        var c = WaitForExit(id, timeout, cancel);
        if (c.State is ContainerState.Running or ContainerState.Unknown && !cancel.IsCancellationRequested)
        {
            Kill(id, Signals.SIGKILL);
            c = WaitForExit(id, TimeSpan.FromSeconds(10));
        }
        return c;
    }
}
