using Unicorn.Cgroups;
using Unicorn.Native;

namespace Unicorn.Runtime;

// Limits on a running container, and what its cgroup says.
public sealed partial class ContainerEngine
{
    // The parent a container's cgroup was made under, recorded with it: UNICORN_CGROUP_PARENT may
    // change later, and the cgroup must still be found, joined and removed.
    string CgroupRecord(string id) => Path.Combine(Paths.ContainerDir(id), "cgroup");

    /// <summary>The container's cgroup, or null if it has none.</summary>
    CgroupManager? CgroupOf(string id)
    {
        try { return Cgroups.WithParent(File.ReadAllText(CgroupRecord(id)).Trim()); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }

    /// <summary>Notes that the container has a cgroup under the current parent; call before making it.</summary>
    CgroupManager RecordCgroup(string id)
    {
        var record = CgroupRecord(id);
        var parent = System.Text.Encoding.UTF8.GetBytes(Cgroups.Parent);
        // Written once, at the start, into the container's new directory: a plain write (a
        // rename costs ext4 a flush on every start); later, to replace, atomically.
        if (File.Exists(record))
            Files.WriteAtomic(record, parent, durable: false);
        else
            File.WriteAllBytes(record, parent);
        return Cgroups;
    }

    /// <summary>Changes a running container's limits live (all or none). A container started
    /// without limits gets its cgroup now, with every process of its pid namespace in it.</summary>
    public CgroupStats SetLimits(string nameOrId, CgroupLimits limits, Action<string>? log = null)
    {
        limits.Validate();
        var c = Get(nameOrId);
        if (c.State != ContainerState.Running || ReadStart(c.Id) is not { } start)
            throw NotRunning(c.Name);
        var cgroup = CgroupOf(c.Id) ?? RecordCgroup(c.Id);
        // Hierarchies its cgroup lacks so far (a limit it was not started with) get its processes.
        var made = cgroup.Extend(c.Id, limits);
        if (made.Count > 0)
        {
            log?.Invoke($"Moving {c.Name}'s processes into {string.Join(", ", made)}.");
            // Again until no new process shows: one forked by a process not yet moved stays
            // where its parent was, and is found on the next pass.
            var moved = new HashSet<int>();
            for (int pass = 0; pass < 10; pass++)
            {
                var found = ProcessesOf(start).Where(moved.Add).ToList();
                if (found.Count == 0)
                    break;
                foreach (var pid in found)
                    cgroup.Attach(c.Id, pid, made);
            }
        }
        cgroup.Apply(c.Id, limits);
        return cgroup.Stats(c.Id, c.Name)!;
    }

    /// <summary>The container's cgroup, or an error saying it has none.</summary>
    public CgroupStats GetCgroup(string nameOrId)
    {
        var c = Get(nameOrId);
        return CgroupOf(c.Id)?.Stats(c.Id, c.Name) ?? throw new UnicornException("ContainerHasNoCgroup", ErrorKind.ObjectNotFound,
            $"The container {c.Name} was started without limits, so it has no cgroup. Set-UnicornCgroup gives a running container one.", c.Name);
    }

    /// <summary>The container's cgroup now, with the cpu it used since previous (an earlier
    /// reading of the same cgroup) as its CpuPercent.</summary>
    public CgroupStats GetCgroup(string nameOrId, CgroupStats previous)
    {
        var now = GetCgroup(nameOrId);
        now.CpuPercent = CgroupStats.CpuPercentBetween(previous, now);
        return now;
    }

    // Every host pid in the pid namespace of the container's init.
    static IEnumerable<int> ProcessesOf(StartRecord start)
    {
        var ns = ReadLink($"/proc/{start.Pid}/ns/pid");
        if (ns is null || !ProcFs.IsAlive(start.Pid, start.PidStartTime))
            yield break;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), out int pid) && ReadLink($"{dir}/ns/pid") == ns)
                yield return pid;
    }

    static string? ReadLink(string path)
    {
        try { return new FileInfo(path).LinkTarget; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
