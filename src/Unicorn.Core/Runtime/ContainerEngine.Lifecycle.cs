using Unicorn.Native;

namespace Unicorn.Runtime;

// Signals, stop and wait: acting on a container that runs, whoever started it. Many containers
// are signalled at once and waited for together, on the calling thread: a pidfd for each init
// and each supervisor, all in one poll, so a fleet takes one timeout and no thread per container.
public sealed partial class ContainerEngine
{
    /// <summary>How long a supervisor that is not stopped gets to record its init's end before
    /// it is taken as not responding (it waits up to 2 s for the output pipes itself).</summary>
    static readonly TimeSpan SupervisorGrace = TimeSpan.FromSeconds(3);

    /// <summary>How long to wait for the end after SIGKILL.</summary>
    static readonly TimeSpan KillWait = TimeSpan.FromSeconds(10);

    StartRecord? ReadStart(string id) => Files.ReadJson(Path.Combine(Paths.ContainerDir(id), "started"), Json.Default.StartRecord);

    /// <summary>Sends a signal to a container's init through a pidfd checked against the init's
    /// start time, so a reused pid is never hit. False if the init is not alive.</summary>
    public bool Kill(string id, int signal) => ReadStart(id) is { } s && SignalProcess(s.Pid, s.PidStartTime, signal);

    /// <summary>SIGKILL, and no restart after it (a cancelled wait).</summary>
    internal void KillForGood(string id)
    {
        if (Load(id) is { RestartPolicy.Mode: not RestartMode.No } c)
            StopRestarts(c);
        Kill(id, Signals.SIGKILL);
    }

    internal static bool SignalProcess(int pid, ulong startTime, int signal)
    {
        int fd = Libc.PidfdOpen(pid);
        if (fd < 0)
            return false;
        try { return ProcFs.IsAlive(pid, startTime) && Libc.PidfdSignal(fd, signal); }
        finally { Libc.Close(fd); }
    }

    /// <summary>Refuses at once (NoTerminal) when this process's standard input (fd 0, the real
    /// descriptor, not .NET's view of it) is not a terminal: a command given a terminal of its
    /// own reads keys from it, and without one would wait forever. what: the caller's words for
    /// what needs it; instead: what to do without a terminal.</summary>
    public static void RequireTerminal(string what, string instead)
    {
        if (!Libc.IsATty(0))
            throw new UnicornException("NoTerminal", ErrorKind.InvalidOperation,
                $"The input device is not a terminal: {what} needs one on standard input, and this session's input is redirected. Run it from a terminal, or {instead}.", null);
    }

    /// <summary>Blocks until the container is no longer running (its supervisor has recorded its
    /// exit, or the kernel says its init has ended and the supervisor does not answer), the
    /// timeout passes, or cancel; returns it as it then is.</summary>
    public Container WaitForExit(string id, TimeSpan? timeout = null, CancellationToken cancel = default)
    {
        ContainerOutcome? last = null;
        WaitForExit([id], timeout, cancel, o => last = o);
        return last?.Error is { } e ? throw e : last?.Container ?? Load(id) ?? throw NotFound(id);
    }

    /// <summary>Waits for many containers together; done is called on this thread for each, as
    /// soon as it is no longer running, and at the timeout for the rest. After a cancel, the
    /// containers still running are not reported.</summary>
    public void WaitForExit(IReadOnlyList<string> ids, TimeSpan? timeout, CancellationToken cancel, Action<ContainerOutcome> done)
    {
        var deadline = timeout is { } t ? DateTime.UtcNow + t : DateTime.MaxValue;
        var watches = new List<Watch>();
        try
        {
            foreach (var id in ids)
            {
                var c = Load(id);
                if (c is null || !c.State.IsRunning())
                {
                    done(c is null ? new(id, null, null, NotFound(id)) : new(id, Observe(c), null, null));
                    continue;
                }
                var w = new Watch(id) { RestartEnds = true };
                if (ReadStart(id) is { } s)
                    w.Open(s);
                watches.Add(w);
            }
            WaitAll(watches, deadline, cancel, done);
            ReportRest(watches, cancel, done);
        }
        finally
        {
            foreach (var w in watches)
                w.Dispose();
        }
    }

    // After the waits: each container not yet reported is, as it is now (not after a cancel).
    void ReportRest(List<Watch> watches, CancellationToken cancel, Action<ContainerOutcome> done)
    {
        if (!cancel.IsCancellationRequested)
            foreach (var w in watches.Where(w => !w.Done))
                done(Outcome(w));
    }

    /// <summary>Sends signal (SIGTERM by default), waits up to timeout, then SIGKILL and waits
    /// for the end. A container that is not running is returned as it is.</summary>
    public Container Stop(string id, int signal, TimeSpan timeout, CancellationToken cancel = default)
    {
        ContainerOutcome? last = null;
        Stop([id], signal, timeout, cancel, o => last = o);
        return last?.Error is { } e ? throw e : last?.Container ?? Get(id);
    }

    /// <summary>Stops many containers at once: the signal to every init, one wait for all up to
    /// timeout, SIGKILL to those left, one more wait. done is called on this thread for each
    /// container as it ends (after a cancel, those still running are not reported). The init is
    /// signalled and watched directly (a pidfd checked against its start time), so a supervisor
    /// that is stopped or hung delays nothing; the outcome then says so in its Warning.</summary>
    public void Stop(IReadOnlyList<string> ids, int signal, TimeSpan timeout, CancellationToken cancel, Action<ContainerOutcome> done)
    {
        var watches = new List<Watch>();
        try
        {
            foreach (var id in ids)
            {
                var c = Load(id);
                var s = c is not null && c.State.IsActive() ? (c.RestartPolicy.Mode == RestartMode.No ? ReadStart(id) : StopRestarts(c)) : null;
                if (s is null) // gone, not running, or still starting (no init to signal yet)
                {
                    done(c is null ? new(id, null, null, NotFound(id)) : new(id, Observe(c), null, null));
                    continue;
                }
                var w = new Watch(id);
                w.Open(s);
                watches.Add(w);
                if (!w.InitEnded)
                    Libc.PidfdSignal(w.InitFd, signal);
            }
            WaitAll(watches, DateTime.UtcNow + timeout, cancel, done);
            if (cancel.IsCancellationRequested)
                return;
            foreach (var w in watches.Where(w => !w.Done && !w.InitEnded))
                Libc.PidfdSignal(w.InitFd, Signals.SIGKILL);
            WaitAll(watches, DateTime.UtcNow + KillWait, cancel, done);
            ReportRest(watches, cancel, done);
        }
        finally
        {
            foreach (var w in watches)
                w.Dispose();
        }
    }

    // One poll over every pidfd still of interest, in slices short enough to notice a cancel
    // and a supervisor's grace running out; each watch is reported once, when it is done.
    void WaitAll(List<Watch> watches, DateTime deadline, CancellationToken cancel, Action<ContainerOutcome> done)
    {
        var fds = new int[watches.Count * 2];
        var ready = new bool[fds.Length];
        while (true)
        {
            var now = DateTime.UtcNow;
            bool starting = false;
            for (int i = 0; i < watches.Count; i++)
            {
                var w = watches[i];
                if (!w.Done && Settle(w, now))
                {
                    w.Done = true;
                    done(Outcome(w));
                }
                starting |= !w.Done && w.Start is null;
                fds[2 * i] = w.Done || w.InitEnded ? -1 : w.InitFd;
                fds[2 * i + 1] = w.Done || w.SupervisorEnded ? -1 : w.SupervisorFd;
            }
            var left = deadline - DateTime.UtcNow;
            if (watches.All(w => w.Done) || cancel.IsCancellationRequested || left <= TimeSpan.Zero)
                return;
            int slice = (int)Math.Clamp(left.TotalMilliseconds, 1, starting ? 10 : 100);
            if (Libc.PollReadable(fds, ready, slice) == 0)
                continue;
            now = DateTime.UtcNow;
            for (int i = 0; i < watches.Count; i++)
            {
                if (ready[2 * i] && !watches[i].InitEnded)
                    (watches[i].InitEnded, watches[i].InitEndedAt) = (true, now);
                if (ready[2 * i + 1])
                    watches[i].SupervisorEnded = true;
            }
        }
    }

    // Is the watch done: the init has ended, and its supervisor has too (it records the exit
    // first), or there is none, or it is stopped, or past its grace?
    bool Settle(Watch w, DateTime now)
    {
        if (w.Start is null)
        {
            if (ReadStart(w.Id) is { } s)
                w.Open(s); // started meanwhile
            else
                return Load(w.Id) is not { State: ContainerState.Created }; // removed, or failed to start
        }
        if (!w.InitEnded) // without a supervisor (Unknown), the init's end is the end
            return false;
        if (w.SupervisorEnded)
            return true;
        if (w.RestartEnds && Load(w.Id) is { State: ContainerState.Restarting })
            return true;
        if (now - w.InitEndedAt >= SupervisorGrace)
            return true;
        return ProcFs.Process(w.Start!.SupervisorPid, w.Start.SupervisorStartTime) is { } sup && ProcFs.IsStopped(sup.State);
    }

    ContainerOutcome Outcome(Watch w)
    {
        var c = Load(w.Id);
        return c is null ? new(w.Id, null, null, NotFound(w.Id)) : new(w.Id, Observe(c), SupervisorWarning(c, w.Start), null);
    }

    /// <summary>A stop is for good: the container is marked stopped (its supervisor restarts
    /// nothing once it is), under the lock that a restart holds from its own look at the mark
    /// until its start record is written, so the record read here names the init to signal, if
    /// one runs. A supervisor waiting out its back-off is woken (SIGTERM, which it takes as
    /// that) to end at once. Returns the start record, as Stop signals its init.</summary>
    StartRecord? StopRestarts(Container c)
    {
        var dir = Paths.ContainerDir(c.Id);
        using (Files.Lock(Path.Combine(dir, "restart.lock")))
        {
            Files.WriteAtomic(Path.Combine(dir, "stopped"), []);
            var s = ReadStart(c.Id);
            if (s is not null && !ProcFs.IsAlive(s.Pid, s.PidStartTime))
                SignalProcess(s.SupervisorPid, s.SupervisorStartTime, Signals.SIGTERM);
            return s;
        }
    }

    /// <summary>A warning when the container's init has ended and its supervisor, still there,
    /// has not recorded it: stopped (SIGSTOP) or hung. Null otherwise.</summary>
    static string? SupervisorWarning(Container c, StartRecord? s)
    {
        if (s is null || c.Finished is not null || c.State is ContainerState.Running && c.Pid is not null)
            return null;
        if (ProcFs.Process(s.Pid, s.PidStartTime) is { State: not ('Z' or 'X') }) // the init still runs
            return null;
        if (ProcFs.Process(s.SupervisorPid, s.SupervisorStartTime) is not { State: not ('Z' or 'X') } sup)
            return null;
        var how = ProcFs.IsStopped(sup.State) ? "is stopped (SIGSTOP or a debugger)" : $"is not responding (state {sup.State})";
        var code = c.ExitCode is int x ? $" with exit code {x} (read from the kernel)" : "";
        return $"The supervisor of {c.Name} (pid {s.SupervisorPid}) {how}: the container's init has ended{code}, but its end is not recorded, "
            + $"so {c.Name} shows as {c.State}. Resume the supervisor (kill -CONT {s.SupervisorPid}) to record it, "
            + "or remove the container with Remove-UnicornContainer -Force, which ends the supervisor too.";
    }

    /// <summary>Ends a supervisor left behind by a container being removed: alive, with the init
    /// gone and no exit recorded (stopped or hung). Killed through a pidfd checked against its start time.</summary>
    void EndStrandedSupervisor(string id, Action<string>? log)
    {
        if (ReadStart(id) is not { } s || ReadExit(Paths.ContainerDir(id)).Code is not null
            || ProcFs.IsAlive(s.Pid, s.PidStartTime) || !ProcFs.IsAlive(s.SupervisorPid, s.SupervisorStartTime))
            return;
        log?.Invoke($"Killing the supervisor (pid {s.SupervisorPid}), which has not recorded the container's end.");
        Kill(s.SupervisorPid, s.SupervisorStartTime, 2000, null);
    }

    /// <summary>One container being waited for: pidfds of its init and its supervisor (-1 and
    /// ended when the process was already gone).</summary>
    sealed class Watch(string id) : IDisposable
    {
        public string Id { get; } = id;
        public StartRecord? Start;
        public int InitFd = -1, SupervisorFd = -1;
        public bool InitEnded, SupervisorEnded, Done;
        /// <summary>A wait (not a stop): a container that is restarting has ended its run.</summary>
        public bool RestartEnds;
        public DateTime InitEndedAt;

        public void Open(StartRecord s)
        {
            Start = s;
            InitFd = Libc.PidfdOpenChecked(s.Pid, s.PidStartTime);
            SupervisorFd = Libc.PidfdOpenChecked(s.SupervisorPid, s.SupervisorStartTime);
            (InitEnded, InitEndedAt) = (InitFd < 0, DateTime.UtcNow);
            SupervisorEnded = SupervisorFd < 0;
        }

        public void Dispose()
        {
            if (InitFd >= 0)
                Libc.Close(InitFd);
            if (SupervisorFd >= 0)
                Libc.Close(SupervisorFd);
            InitFd = SupervisorFd = -1;
        }
    }

    /// <summary>Removes a container and all that was made for it: its rootfs (if it owns one),
    /// its name, its state. A running one only with force, which kills it first.</summary>
    public void Remove(Container c, bool force, Action<string>? log = null)
    {
        if (c.State.IsActive())
        {
            if (!force)
                throw new UnicornException("ContainerRunning", ErrorKind.InvalidOperation,
                    $"The container {c.Name} is {(c.State switch { ContainerState.Created => "starting", ContainerState.Unknown => "running without its supervisor", ContainerState.Restarting => "restarting", _ => "running" })}. Stop it first (Stop-UnicornContainer), or use -Force to kill it.", c.Name);
            log?.Invoke(c.Pid is null ? $"Killing {c.Name}, whose processes no start record names." : $"Killing {c.Name} (pid {c.Pid}).");
            Stop(c.Id, Signals.SIGKILL, TimeSpan.Zero); // does not wait on a stopped or hung supervisor
            if (c.Pid is null && c.State is ContainerState.Created or ContainerState.Unknown) // no start record (yet) names its processes
                KillUnrecorded(c.Id, c.Rootfs, log);
        }
        EndStrandedSupervisor(c.Id, log);

        using (Files.Lock(Paths))
        {
            Networks.Release(c.Id, log);
            if (CgroupOf(c.Id) is { } cgroup)
            {
                log?.Invoke($"Removing the cgroup of {c.Name}.");
                cgroup.Remove(c.Id);
            }
            if (c.RootfsId is { } rootfsId)
            {
                log?.Invoke($"Removing rootfs {Ids.Short(rootfsId)}.");
                Rootfs.Remove(rootfsId, owner: c.Id);
            }
            // The record before the name: a crash in between leaves a name that points at no record,
            // which a new claim takes over, never a record whose name another container can claim.
            Files.DeleteTree(Paths.ContainerDir(c.Id));
            if (NameTarget(c.Name) == c.Id)
                File.Delete(Path.Combine(NamesDir, c.Name));
            Files.DeleteTree(Paths.ContainerDataDir(c.Id));
        }
    }
}
