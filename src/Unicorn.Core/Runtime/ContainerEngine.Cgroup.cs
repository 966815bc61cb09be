using Unicorn.Native;

namespace Unicorn;

// Limits on a running container, and what its cgroup says.
public sealed partial class ContainerEngine
{
    /// <summary>Changes a running container's limits live (all or none). A container started
    /// without limits gets its cgroup now, with every process of its pid namespace in it.</summary>
    public CgroupStats SetLimits(string nameOrId, CgroupLimits limits, Action<string>? log = null)
    {
        limits.Validate();
        var c = Get(nameOrId);
        if (c.State != ContainerState.Running || ReadStart(c.Id) is not { } start)
            throw NotRunning(c.Name);
        // Hierarchies its cgroup lacks so far (a limit it was not started with) get its processes.
        var made = Cgroups.Extend(c.Id, limits);
        if (made.Count > 0)
        {
            log?.Invoke($"Moving {c.Name}'s processes into {string.Join(", ", made)}.");
            foreach (var pid in ProcessesOf(start))
                Cgroups.Attach(c.Id, pid, made);
        }
        Cgroups.Apply(c.Id, limits);
        return Cgroups.Stats(c.Id, c.Name)!;
    }

    /// <summary>The container's cgroup, or an error saying it has none.</summary>
    public CgroupStats GetCgroup(string nameOrId)
    {
        var c = Get(nameOrId);
        return Cgroups.Stats(c.Id, c.Name) ?? throw new UnicornException("ContainerHasNoCgroup", ErrorKind.ObjectNotFound,
            $"The container {c.Name} was started without limits, so it has no cgroup. Set-UnicornCgroup gives a running container one.", c.Name);
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
