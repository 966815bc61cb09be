using Unicorn.Native;

namespace Unicorn.Runtime;

// A container whose records are damaged (a crash or a full disk mid-write): what is left of it is
// found from what does not depend on them, and removed.
public sealed partial class ContainerEngine
{
    /// <summary>Removes what is left of a container whose config or start record cannot be read:
    /// its processes (its init by the start record if that is readable, and whatever its cgroup
    /// holds), its network, cgroup, the rootfs it owns, its names and its state and data.</summary>
    public void RemoveDamaged(string id, Action<string>? log = null)
    {
        StartRecord? start = null;
        try { start = ReadStart(id); }
        catch (CorruptStateException) { log?.Invoke($"The start record of {Ids.Short(id)} is damaged too; its processes are found from its supervisor."); }
        if (start is not null)
            Kill(start.Pid, start.PidStartTime, 10_000, log);
        string? root;
        try { root = Files.ReadJson(Paths.ContainerRecord(id), Json.Default.ContainerConfig)?.RootfsPath; }
        catch (CorruptStateException) { root = Rootfs.List().FirstOrDefault(r => r.ContainerId == id)?.Path; }
        KillUnrecorded(id, root, log);
        using (Files.Lock(Paths))
        {
            Networks.Release(id, log);
            CgroupOf(id)?.Remove(id); // kills what is left in it first
            foreach (var rootfs in Rootfs.List().Where(r => r.ContainerId == id))
            {
                log?.Invoke($"Removing rootfs {Ids.Short(rootfs.Id)}.");
                Rootfs.Remove(rootfs.Id, owner: id);
            }
            if (Directory.Exists(NamesDir))
                foreach (var link in Directory.EnumerateFileSystemEntries(NamesDir).Where(l => new FileInfo(l).LinkTarget == id))
                    File.Delete(link);
            Files.DeleteTree(Paths.ContainerDir(id));
            Files.DeleteTree(Paths.ContainerDataDir(id));
        }
    }

    /// <summary>Kills the container's processes that its start record does not name (a damaged
    /// record, none yet, or a supervisor killed before it wrote one), found from what the kernel
    /// keeps: every process whose root is the container's rootfs, and its supervisor, the
    /// launcher that holds its config.json open from the start's go-ahead to its own end (and
    /// that supervisor's child, its init, before it has entered the rootfs). Killing the init
    /// ends its pid namespace, and so every process of the container, cgroup or not; the
    /// supervisor then records the exit and ends, or is killed if it does not.</summary>
    void KillUnrecorded(string id, string? rootfs, Action<string>? log)
    {
        var found = ProcFs.ContainerProcesses(Paths.ContainerRecord(id), SupervisorName, rootfs);
        foreach (var p in found.Where(p => !p.IsSupervisor))
            Kill(p.Pid, p.StartTime, 10_000, log);
        foreach (var supervisor in found.Where(p => p.IsSupervisor))
            if (Libc.PidfdOpenChecked(supervisor.Pid, supervisor.StartTime) is var fd and >= 0)
                try
                {
                    if (!Libc.WaitReadable(fd, 2000)) // it records the exit, unless hung or stopped
                        Kill(supervisor.Pid, supervisor.StartTime, 2000, log);
                }
                finally { Libc.Close(fd); }
    }

    /// <summary>The supervisor's name in the kernel (comm), which it sets first thing.</summary>
    const string SupervisorName = "unicorn-sup";

    /// <summary>SIGKILL to the process pid that started at startTime, and a wait for its end.</summary>
    static void Kill(int pid, ulong startTime, int waitMs, Action<string>? log)
    {
        int fd = Libc.PidfdOpenChecked(pid, startTime);
        if (fd < 0)
            return;
        try
        {
            log?.Invoke($"Killing pid {pid}.");
            if (Libc.PidfdSignal(fd, Signals.SIGKILL))
                Libc.WaitReadable(fd, waitMs);
        }
        finally { Libc.Close(fd); }
    }
}
