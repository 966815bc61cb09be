using Unicorn.Native;

namespace Unicorn;

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
        catch (CorruptStateException) { log?.Invoke($"The start record of {Ids.Short(id)} is damaged too; its cgroup's processes are killed."); }
        if (start is not null && Libc.PidfdOpenChecked(start.Pid, start.PidStartTime) is var init and >= 0)
        {
            log?.Invoke($"Killing {Ids.Short(id)} (pid {start.Pid}).");
            try
            {
                if (Libc.PidfdSignal(init, Signals.SIGKILL))
                    Libc.WaitReadable(init, 10_000);
            }
            finally { Libc.Close(init); }
        }
        using (Files.Lock(Paths))
        {
            Network.Release(id, log);
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
}

/// <summary>What a container left under the data root after its state went (a reboot emptied the
/// state root): its log, which no other cmdlet can reach any more.</summary>
public sealed record Leftover(string ContainerId, string Path, long Size)
{
    public string Kind => "ContainerLog";
}

public sealed partial class ContainerEngine
{
    /// <summary>The data directories of containers that have no record (state) any more.</summary>
    public IEnumerable<Leftover> Leftovers()
    {
        var root = Path.GetDirectoryName(Paths.ContainerDataDir("x"))!;
        if (!Directory.Exists(root))
            yield break;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            var id = Path.GetFileName(dir);
            if (!File.Exists(Paths.ContainerRecord(id)))
                yield return new Leftover(id, dir, new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length));
        }
    }

    /// <summary>Deletes a leftover, unless its container has come back meanwhile (checked under the lock).</summary>
    public void Remove(Leftover leftover)
    {
        using (Files.Lock(Paths))
            if (!File.Exists(Paths.ContainerRecord(leftover.ContainerId)))
                Files.DeleteTree(Paths.ContainerDataDir(leftover.ContainerId));
    }
}
