using Unicorn.Native;

namespace Unicorn.Runtime;

// Reading containers: listing (and sweeping what crashes left), finding by name or id, and the
// state of each, from its records and from the kernel.
public sealed partial class ContainerEngine
{
    /// <summary>Every container, oldest first. One whose record is damaged is not listed: it
    /// goes to onError (CorruptState), and the others are listed all the same.</summary>
    public IEnumerable<Container> List(Action<UnicornException>? onError = null)
    {
        var found = new List<Container>();
        var leftovers = new List<string>();
        // (No containers directory yet does not mean no names: a start may have died in between.)
        foreach (var dir in Directory.Exists(Paths.Containers) ? Directory.EnumerateDirectories(Paths.Containers) : [])
        {
            try
            {
                if (Load(Path.GetFileName(dir)) is { } c)
                {
                    if (!Swept(c))
                        found.Add(c);
                }
                else
                    leftovers.Add(Path.GetFileName(dir));
            }
            catch (CorruptStateException e) { onError?.Invoke(e); }
        }
        var names = Directory.Exists(NamesDir)
            ? Directory.EnumerateFileSystemEntries(NamesDir).Where(l => new FileInfo(l).LinkTarget is not { } id || !found.Any(c => c.Id == id)).ToList()
            : [];
        if (leftovers.Count > 0 || names.Count > 0)
            RemoveLeftovers(leftovers, names);
        if (found.Any(c => NameTarget(c.Name) is null))
            using (Files.Lock(Paths))
                RestoreNames();
        return found.OrderBy(c => c.Created);
    }

    /// <summary>Directories without a record: a start that died before writing it (its name and
    /// its rootfs's claim count for nothing without it), or a removal that died midway. Seen under
    /// the engine lock, which a start holds from its directory to its record, they are leftovers.</summary>
    void RemoveLeftovers(IEnumerable<string> ids, IEnumerable<string> nameLinks)
    {
        using (Files.Lock(Paths))
        {
            foreach (var id in ids.Where(id => Directory.Exists(Paths.ContainerDir(id)) && !File.Exists(Paths.ContainerRecord(id))))
            {
                Files.DeleteTree(Paths.ContainerDir(id));
                Files.DeleteTree(Paths.ContainerDataDir(id));
            }
            // Names that lead to no record (a damaged one keeps its name until it is removed).
            foreach (var link in nameLinks.Where(l => new FileInfo(l).LinkTarget is not { } id || !Directory.Exists(Paths.ContainerDir(id))))
                File.Delete(link);
        }
    }

    /// <summary>A container by exact name, else by id or unique id prefix; null if none.</summary>
    public Container? Find(string nameOrId)
    {
        if (ContainerName.IsValid(nameOrId)
            && NameTarget(nameOrId) is { } named
            && Load(named) is { } byName)
            return Swept(byName) ? null : byName;
        if (!Directory.Exists(Paths.Containers))
            return null;
        var id = IdResolver.Resolve(Directory.EnumerateDirectories(Paths.Containers).Select(Path.GetFileName).OfType<string>(), nameOrId, "Container");
        return id is null || Load(id) is not { } c || Swept(c) ? null : c;
    }

    /// <summary>A -Rm container that has ended is removed by whoever sees it so first: the
    /// start that waited for it, a wait or a stop, or any listing (Get-UnicornContainer, a
    /// lookup by name or id). No daemon is needed, and a crash of any of them leaves it to
    /// the next. Returns c as it was seen.</summary>
    internal Container Observe(Container c)
    {
        Swept(c);
        return c;
    }

    /// <summary>Removes c if it is a -Rm container that has ended; true if it is gone.</summary>
    bool Swept(Container c)
    {
        if (!c.AutoRemove || c.State is not (ContainerState.Exited or ContainerState.Dead))
            return false;
        try { Remove(c, force: false); }
        catch (Exception e) when (e is UnicornException or IOException) { } // removed meanwhile by another, or left to the next
        return Load(c.Id) is null;
    }

    public Container Get(string nameOrId) => Find(nameOrId) ?? throw NotFound(nameOrId);

    public static UnicornException NotFound(string nameOrId) => new("ContainerNotFound", ErrorKind.ObjectNotFound,
        $"No container has the name or id '{nameOrId}'. Get-UnicornContainer lists them.", nameOrId);

    /// <summary>Reads a container's state: recorded exit first, then whether its init (and its
    /// supervisor) are alive in the kernel. Null if it is gone.</summary>
    public Container? Load(string id)
    {
        var dir = Paths.ContainerDir(id);
        ContainerConfig? config;
        StartRecord? started;
        try
        {
            config = Files.ReadJson(Path.Combine(dir, "config.json"), Json.Default.ContainerConfig);
            if (config is null)
                return null;
            started = Files.ReadJson(Path.Combine(dir, "started"), Json.Default.StartRecord);
        }
        catch (CorruptStateException e)
        {
            throw new CorruptStateException(e.Path, e.Reason,
                $"Remove-UnicornContainer -Id {id} -Force removes what is left of the container {Ids.Short(id)}.", e) { ContainerId = id };
        }
        var supervisor = started is null ? null : ProcFs.Process(started.SupervisorPid, started.SupervisorStartTime);
        var init = started is null ? null : ProcFs.Process(started.Pid, started.PidStartTime);
        bool supervised = supervisor is { State: not ('Z' or 'X') };
        bool initAlive = init is { State: not ('Z' or 'X') };
        // Read after the liveness checks: a supervisor found gone has written its exit by now.
        var (exitCode, finished) = ReadExit(dir);
        // An exit older than the start record is the last run's, of a container started again
        // whose new supervisor has not deleted it yet (or was killed before it could).
        if (started is not null && finished is { } ended && started.Started > ended)
            (exitCode, finished) = (null, null);
        var restarting = ReadRestarting(dir);
        var state = (started, exitCode) switch
        {
            (_, not null) => ContainerState.Exited,
            // Starting while its record is held (by the start, then by the supervisor); a start
            // that died before its command ran (pwsh killed, say) left it unheld: nothing runs.
            (null, _) => Files.IsHeld(Paths.ContainerRecord(id)) ? ContainerState.Created
                // Unless its supervisor was killed after the init's exec, before the record: the
                // command runs, known only to the kernel (as processes whose root is the rootfs).
                : ProcFs.ContainerProcesses(Paths.ContainerRecord(id), SupervisorName, config.RootfsPath).Count > 0 ? ContainerState.Unknown
                : ContainerState.Dead,
            // Ended, and its supervisor has recorded that it will start it again (restart policy).
            _ when supervised && !initAlive && restarting?.Count > started.RestartCount => ContainerState.Restarting,
            // A live supervisor: the init runs, or has just ended and is about to be recorded
            // (unless the supervisor is stopped, and will record nothing until resumed).
            _ when supervised && (initAlive || !ProcFs.IsStopped(supervisor!.Value.State)) => ContainerState.Running,
            _ when initAlive => ContainerState.Unknown,
            // Ended, as the kernel says: a zombie its stopped supervisor has not reaped. (With
            // no supervisor, whoever inherited the zombie reaps it at once: Dead, as it then is.)
            _ when supervised && init?.ExitCode is not null => ContainerState.Exited,
            _ => ContainerState.Dead,
        };
        exitCode ??= state == ContainerState.Exited ? init?.ExitCode : null;
        if (state == ContainerState.Restarting) // the run that ended, as Docker shows it
            (exitCode, finished) = (restarting!.Value.Code, restarting.Value.Finished);
        var attachments = Networks.Attachments(config.Id);
        return new Container
        {
            Id = config.Id,
            Name = config.Name,
            State = state,
            Pid = initAlive ? started!.Pid : null,
            ExitCode = exitCode,
            // The cgroup remembers its OOM kills until the container is removed.
            OOMKilled = state == ContainerState.Exited && CgroupOf(config.Id)?.OomKills(config.Id) > 0,
            Command = config.Command,
            Hostname = config.Hostname,
            Rootfs = config.RootfsPath,
            RootfsId = config.RootfsId,
            Image = config.Image,
            IPAddress = attachments.Select(a => a.IPAddress).FirstOrDefault(a => a is not null),
            Ports = [.. attachments.SelectMany(a => a.PublishedPorts)],
            WorkingDirectory = config.WorkingDirectory,
            Volumes = config.Volumes,
            Environment = config.Environment,
            AutoRemove = config.AutoRemove,
            RestartPolicy = config.Restart ?? RestartPolicy.No,
            RestartCount = Math.Max(started?.RestartCount ?? 0, restarting?.Count ?? 0),
            Created = config.Created,
            Started = started?.Started,
            Finished = finished,
        };
    }

    static (int? Code, DateTime? Finished) ReadExit(string dir)
    {
        string text;
        try { text = File.ReadAllText(Path.Combine(dir, "exit")); }
        catch (IOException) { return (null, null); }
        var f = text.Trim().Split(' ');
        return f.Length == 2 && int.TryParse(f[0], out int code) && long.TryParse(f[1], out long ms)
            ? (code, DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime)
            : (null, null);
    }

    /// <summary>The supervisor's record of a restart it is about to make (restart policy):
    /// "&lt;restart number&gt; &lt;exit code of the run that ended&gt; &lt;unix ms&gt;".</summary>
    static (int Count, int Code, DateTime Finished)? ReadRestarting(string dir)
    {
        string text;
        try { text = File.ReadAllText(Path.Combine(dir, "restarting")); }
        catch (IOException) { return null; }
        var f = text.Trim().Split(' ');
        return f.Length == 3 && int.TryParse(f[0], out int count) && int.TryParse(f[1], out int code) && long.TryParse(f[2], out long ms)
            ? (count, code, DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime)
            : null;
    }
}
