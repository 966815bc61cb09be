using Unicorn.Native;

namespace Unicorn.Runtime;

// Starting again a container that has ended (docker start): the same id, name, config, rootfs
// (with what its runs wrote in it) and log; a new init, cgroup and network connection.
public sealed partial class ContainerEngine
{
    /// <summary>Starts again a container that has ended (Exited or Dead) as it was created:
    /// its rootfs with what its runs changed (mounted again if it is not, after a reboot), its
    /// log appended to, its cgroup made anew with its limits, connected again to the bridge it
    /// was started with (a new address, or its static one) and to those connected since (new
    /// addresses), its restart policy in force again
    /// and its RestartCount back to 0 (as Docker's). Throws ContainerRunning if it has not ended.
    /// A start that fails leaves it as it was; one whose engine dies midway leaves it Exited (or,
    /// once its new supervisor has taken over, as that run goes).</summary>
    public Started StartAgain(string nameOrId, bool attach, Action<string>? log = null)
    {
        var id = Get(nameOrId).Id;
        var dir = Paths.ContainerDir(id);
        var undo = new Rollback(log);
        int held = -1;
        // One start at a time: a second one waits here, then finds the container running.
        using var starting = Files.Lock(Path.Combine(dir, "start.lock"));
        try
        {
            ContainerConfig config;
            using (Files.Lock(Paths))
            {
                var c = Load(id) ?? throw NotFound(nameOrId);
                if (c.State.IsActive())
                    throw new UnicornException("ContainerRunning", ErrorKind.InvalidOperation,
                        $"The container {c.Name} is {c.State.ToString().ToLowerInvariant()}: only one that has ended can be started again. Restart-UnicornContainer stops it first.", c.Name);
                config = Files.ReadJson(Paths.ContainerRecord(id), Json.Default.ContainerConfig) ?? throw NotFound(nameOrId);
                if (config.Interactive)
                    RequireTerminal($"the container {c.Name}, started with -Interactive,", "remove it and start a new one without -Interactive");
                AwaitSupervisor(id, c.Name);
                // Its records stay until the new supervisor replaces them once the command runs
                // (src/launcher/README.md): until then it is Exited, whatever becomes of us; from
                // its start record on, the old exit record counts for nothing (Load).
                var (exit, started) = (Path.Combine(dir, "exit"), Path.Combine(dir, "started"));
                var before = (Exit: ReadBytes(exit), Started: ReadBytes(started));
                undo.Push(() =>
                {
                    // The last run's records, should the new supervisor have replaced them before
                    // the start failed (it has ended by now): the exit first, then the start record.
                    if (before.Exit is { } e && !File.Exists(exit))
                        Files.WriteAtomic(exit, e, durable: false);
                    if (before.Started is { } s)
                        Files.WriteAtomic(started, s, durable: false);
                    else
                        File.Delete(started);
                });
                held = Libc.DupAbove(Files.Hold(Paths.ContainerRecord(id)), 10);
                // The last run's restarts and its stop were its own.
                File.Delete(Path.Combine(dir, "restarting"));
                File.Delete(Path.Combine(dir, "stopped"));
                if (config.RootfsId is { } rootfsId)
                    Rootfs.Claim(rootfsId, id); // mounted again if it is not
                else if (!Directory.Exists(config.RootfsPath))
                    throw RootfsPathNotFound(config.RootfsPath);
            }
            log?.Invoke($"Starting {config.Name} ({Ids.Short(id)}) again.");
            // The bridge it was started with, and those Connect-UnicornBridge added since (as
            // Docker keeps them), with their ports and aliases: connected again below.
            var networks = (config.Network is { } n ? [n] : new List<Network.BridgeOptions>())
                .Concat(Networks.Attachments(id).Where(a => a.Bridge != config.Network?.Bridge)
                    .Select(a => new Network.BridgeOptions { Bridge = a.Bridge, Ports = a.Ports, Aliases = [.. a.Aliases] }))
                .ToList();
            // What the last run left: its addresses (its veths went with its network namespace),
            // its cgroup (with that run's OOM kills).
            Networks.Release(id, log);
            CgroupOf(id)?.Remove(id);
            Directory.CreateDirectory(Paths.ContainerDataDir(id));
            using var parked = Park(config, ref held, attach || config.Interactive, networks, undo, log);
            return parked.Start();
        }
        catch
        {
            if (held >= 0)
                Libc.Close(held);
            undo.Dispose(); // (again, if the parked container has undone it: a no-op)
            throw;
        }
    }

    /// <summary>Lets the last run's supervisor end if it is still finishing (after its exit
    /// record): nothing of it may write into the next run's records.</summary>
    void AwaitSupervisor(string id, string name)
    {
        if (ReadStart(id) is not { } s || Libc.PidfdOpenChecked(s.SupervisorPid, s.SupervisorStartTime) is not (var fd and >= 0))
            return;
        try
        {
            if (!Libc.WaitReadable(fd, 2000))
                throw new UnicornException("ContainerBusy", ErrorKind.ResourceBusy,
                    $"The supervisor of {name}'s last run (pid {s.SupervisorPid}) has not ended. Try again; if it is stopped (kill -CONT {s.SupervisorPid}) or hung, remove the container with Remove-UnicornContainer -Force.", name);
        }
        finally { Libc.Close(fd); }
    }

    static byte[]? ReadBytes(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }
}
