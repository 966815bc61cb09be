using System.Globalization;
using Unicorn.Runtime;

namespace Unicorn.Cgroups;

/// <summary>A container's cgroup: one directory per hierarchy (v1: one per controller; v2: one
/// for all), always under Unicorn's own parent, never anywhere else. Limits are written to the
/// files of the version each controller is on.</summary>
public sealed class CgroupManager(CgroupLayout layout, string parent)
{
    public const string ParentVariable = "UNICORN_CGROUP_PARENT";

    public CgroupLayout Layout { get; } = layout;

    /// <summary>The parent directory's name in each hierarchy.</summary>
    public string Parent { get; } = parent;

    /// <summary>The same hierarchies under another parent (a container's, as recorded).</summary>
    public CgroupManager WithParent(string other) => other == Parent ? this : new(Layout, other);

    /// <summary>Read once per process: hierarchies are mounted at boot, and every start would
    /// otherwise read the mount table again.</summary>
    static readonly Lazy<CgroupLayout> Detected = new(CgroupLayout.Detect);

    public static CgroupManager FromEnvironment() => new(Detected.Value, DefaultParent());

    /// <summary>Unicorn's parent: UNICORN_CGROUP_PARENT, or "unicorn".</summary>
    public static string DefaultParent()
    {
        var name = Environment.GetEnvironmentVariable(ParentVariable) is { Length: > 0 } p ? p : "unicorn";
        // One level, right under each hierarchy's root: a path could reach cgroups not Unicorn's.
        if (name is "." or ".." || name.IndexOfAny(['/', '\0']) >= 0)
            throw new UnicornException("InvalidCgroupParent", ErrorKind.InvalidArgument,
                $"{ParentVariable} is '{name}': it must be one directory name, such as 'unicorn', without '/'.", name);
        return name;
    }

    /// <summary>The container's directory for a controller.</summary>
    public string Dir(CgroupLayout.Controller c, string id) => Path.Combine(c.Mount, Parent, id);

    /// <summary>The distinct directories of the container's cgroup (v2 shares one).</summary>
    public IEnumerable<string> Dirs(string id) => Layout.Controllers.Select(c => Dir(c, id)).Distinct();

    public bool Exists(string id) => Dirs(id).Any(Directory.Exists);

    /// <summary>The controllers a set of limits needs; with none, all (a cgroup asked for as such).</summary>
    public IEnumerable<CgroupLayout.Controller> Needed(CgroupLimits l, bool everyController = false)
    {
        if (everyController)
            return Layout.Controllers;
        var names = new List<string>();
        if (l.Memory is not null || l.MemorySwap is not null) names.Add("memory");
        if (l.Cpus is not null || l.CpuShares is not null || l.CpuWeight is not null) names.AddRange(["cpu", "cpuacct"]);
        if (l.CpusetCpus is not null) names.Add("cpuset");
        if (l.PidsLimit is not null) names.Add("pids");
        if (l.IoWeight is not null) names.Add("io");
        return l.IsEmpty ? Layout.Controllers : names.Select(n => Layout[n]).OfType<CgroupLayout.Controller>();
    }

    /// <summary>Makes the container's cgroup in the hierarchies its limits need (each one made
    /// costs a start time: a v1 memory cgroup alone is most of a millisecond), with the limits,
    /// ready for its init to be attached. Undone entirely if anything fails.</summary>
    /// <summary>everyController: in every hierarchy whatever the limits, as runc makes an OCI
    /// container's (its freezer for pause, its devices rules, each hierarchy in its cgroup mount).</summary>
    public void Create(string id, CgroupLimits limits, bool everyController = false)
    {
        limits.Validate();
        try
        {
            Extend(id, limits, everyController);
            Apply(id, limits);
        }
        catch
        {
            Remove(id);
            throw;
        }
    }

    /// <summary>Makes the directories the limits need that the container's cgroup lacks;
    /// returns those it made (a running container's processes must then be moved in). Checks
    /// first, on Unicorn's parent, that every file the limits become exists, so that nothing is
    /// made or moved for limits that could not be written.</summary>
    public List<string> Extend(string id, CgroupLimits limits, bool everyController = false)
    {
        var made = new List<string>();
        var needed = Needed(limits, everyController).ToList();
        PrepareParents(needed);
        foreach (var (dir, file, _) in Plan("", limits)) // "": the parent's own files
            if (!File.Exists(Path.Combine(dir, file)))
                throw Missing(dir, file);
        foreach (var c in needed)
        {
            var dir = Dir(c, id);
            if (Directory.Exists(dir))
                continue;
            Directory.CreateDirectory(dir);
            if (c is { Name: "cpuset", Version: 1 }) // v1 cpusets start empty: no task could join
                CopyCpuset(Path.Combine(c.Mount, Parent), dir);
            made.Add(dir);
        }
        return made.Distinct().ToList();
    }

    // The parent in each hierarchy (Unicorn's own, or an OCI config's a/b/...), made a level at
    // a time: a v1 cpuset copies its parent's cpus and mems; on v2 each level delegates the
    // controllers to its children (in one write: the kernel takes "+a +b"), which the root must
    // already offer; the root itself is not Unicorn's to change.
    void PrepareParents(List<CgroupLayout.Controller> needed)
    {
        var levels = Parent.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var paths = levels.Select((_, i) => string.Join('/', levels[..(i + 1)])).ToList();
        foreach (var c in needed)
            foreach (var level in paths)
            {
                var dir = Path.Combine(c.Mount, level);
                if (Directory.Exists(dir))
                    continue;
                Directory.CreateDirectory(dir);
                if (c is { Name: "cpuset", Version: 1 })
                    CopyCpuset(Path.GetDirectoryName(dir)!, dir);
            }
        if (needed.FirstOrDefault(c => c.Version == 2) is { } v2)
            foreach (var level in paths)
            {
                var dir = Path.Combine(v2.Mount, level);
                var enabled = (Read(dir, "cgroup.subtree_control") ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                var missing = needed.Where(c => c is { Version: 2 } and not { Name: "freezer" or "devices" })
                    .Select(c => c.Name == "cpuacct" ? "cpu" : c.Name).Distinct().Except(enabled).ToList();
                if (missing.Count > 0)
                    Write(dir, "cgroup.subtree_control", string.Join(' ', missing.Select(n => "+" + n)));
            }
    }

    static void CopyCpuset(string from, string to)
    {
        foreach (var file in new[] { "cpuset.cpus", "cpuset.mems" })
            Write(to, file, Read(from, file)?.Trim() ?? "");
    }

    /// <summary>Can the container's devices be restricted? On cgroup v1 by the devices
    /// controller; on v2 that takes an eBPF program, which Unicorn does not load (yet).</summary>
    public bool CanRestrictDevices => Layout["devices"] is { Version: 1 };

    /// <summary>The container's devices cgroup: every device denied, then Docker's list
    /// allowed, so that a device node made inside (mknod of the host's disk, say) cannot be opened.</summary>
    public string DevicesDir(string id) => Dir(Layout["devices"]!, id);

    public void RestrictDevices(string id) => ApplyDeviceRules(id, [DeviceRule.DenyAll, .. DeviceRule.Defaults]);

    /// <summary>Writes device rules to the container's v1 devices cgroup, in order, each to
    /// devices.allow or devices.deny (an OCI config's linux.resources.devices, which begin with
    /// deny-all as runc's do). Without a v1 devices controller only rules that allow every
    /// device can be honoured: others are refused, never dropped.</summary>
    public void ApplyDeviceRules(string id, IReadOnlyList<DeviceRule> rules)
    {
        if (!CanRestrictDevices)
        {
            if (DeviceRule.AllowsAll(rules))
                return;
            throw new UnicornException("CgroupDevicesUnavailable", ErrorKind.NotInstalled,
                "This host has no cgroup v1 devices controller, so the devices a container may open cannot be restricted (cgroup v2 needs an eBPF program, which Unicorn does not load yet). Allow every device (linux.resources.devices [{\"allow\": true, \"access\": \"rwm\"}]) or use a host with the v1 devices controller.", id);
        }
        var c = Layout["devices"]!;
        PrepareParents([c]);
        var dir = Dir(c, id);
        Directory.CreateDirectory(dir);
        // One rule per write(2), as the kernel reads them, through one open file each.
        try
        {
            using var allow = new FileStream(Path.Combine(dir, "devices.allow"), FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
            using var deny = new FileStream(Path.Combine(dir, "devices.deny"), FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
            foreach (var rule in rules)
                (rule.Allow ? allow : deny).Write(System.Text.Encoding.ASCII.GetBytes(rule.Line));
        }
        catch (IOException e)
        {
            throw new UnicornException("CgroupWriteFailed", ErrorKind.InvalidArgument, $"The kernel refused a device rule in {dir}: {e.Message}", dir, e);
        }
    }

    /// <summary>Freezes (pause) or thaws (resume) every process of the container's cgroup, and
    /// waits until the kernel says it is done: the v1 freezer's freezer.state, or v2's
    /// cgroup.freeze and the "frozen" of cgroup.events. A freeze that does not finish is undone.</summary>
    public void Freeze(string id, bool frozen)
    {
        var (dir, file, value, done) = FreezerFiles(id, frozen);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        for (int attempt = 0; ; attempt++)
        {
            // v1 can stay FREEZING while a task is busy in the kernel: writing again retries it (as runc does).
            if (attempt == 0 || file == "freezer.state")
                Write(dir, file, value);
            if (FreezerState(dir) == done)
                return;
            if (DateTime.UtcNow > deadline)
            {
                if (frozen)
                    try { Write(dir, file, file == "freezer.state" ? "THAWED" : "0"); } catch (UnicornException) { }
                throw new UnicornException("CgroupFreezeFailed", ErrorKind.OperationStopped,
                    $"The container's processes did not {(frozen ? "freeze" : "thaw")} within 10 seconds ({dir}); {(frozen ? "they were thawed again" : "try again")}.", id);
            }
            Thread.Sleep(Math.Min(1 << Math.Min(attempt, 5), 20));
        }
    }

    /// <summary>Is the container's cgroup frozen (paused)? False while it is still freezing.</summary>
    public bool IsFrozen(string id)
    {
        var (dir, _, _, done) = FreezerFiles(id, frozen: true);
        return FreezerState(dir) == done;
    }

    (string Dir, string File, string Value, string Done) FreezerFiles(string id, bool frozen)
    {
        if (Layout["freezer"] is { Version: 1 } v1)
            return (Dir(v1, id), "freezer.state", frozen ? "FROZEN" : "THAWED", frozen ? "FROZEN" : "THAWED");
        if (V2Dir(id) is { } v2)
            return (v2, "cgroup.freeze", frozen ? "1" : "0", frozen ? "frozen 1" : "frozen 0");
        throw new UnicornException("CgroupControllerUnavailable", ErrorKind.NotInstalled,
            $"The container's cgroup has no freezer (no v1 freezer hierarchy on this host, and no v2 directory of its own), so it cannot be paused.", id);
    }

    // v1: the state itself; v2: cgroup.events' "frozen" line.
    static string? FreezerState(string dir) =>
        Read(dir, "freezer.state")?.Trim()
        ?? Read(dir, "cgroup.events")?.Split('\n').FirstOrDefault(l => l.StartsWith("frozen "))?.Trim();

    /// <summary>Puts a process (all of its threads) into the container's cgroup: every
    /// directory it has, or those given.</summary>
    public void Attach(string id, int pid, IEnumerable<string>? dirs = null)
    {
        foreach (var dir in dirs ?? ExistingDirs(id))
            Write(dir, "cgroup.procs", pid.ToString());
    }

    /// <summary>The container's cgroup v2 directory, if it has one.</summary>
    public string? V2Dir(string id) => Layout.Controllers.Where(c => c.Version == 2).Select(c => Dir(c, id)).FirstOrDefault(Directory.Exists);

    /// <summary>The container's cgroup directories that exist.</summary>
    public IEnumerable<string> ExistingDirs(string id) => Dirs(id).Where(Directory.Exists);

    /// <summary>Writes the limits given, all or none: on a failure the files written so far get
    /// their old values back.</summary>
    public void Apply(string id, CgroupLimits limits)
    {
        limits.Validate();
        var writes = Plan(id, limits).ToList();
        var done = new Stack<(string Dir, string File, string Old)>();
        try
        {
            foreach (var (dir, file, value) in writes)
            {
                var old = Read(dir, file) ?? throw Missing(dir, file);
                Write(dir, file, value);
                done.Push((dir, file, old.Trim()));
            }
        }
        catch
        {
            foreach (var (dir, file, old) in done)
                try { Write(dir, file, old); } catch (IOException) { }
            throw;
        }
    }

    static UnicornException Missing(string dir, string file) => new("CgroupControllerUnavailable", ErrorKind.NotInstalled,
        $"This host's cgroup has no {file} (in {dir}): the controller or the feature behind it is not there (an I/O weight on cgroup v1, for one, needs a disk scheduled by BFQ).", file);

    CgroupLayout.Controller Need(string name, string limit) => Layout[name] ?? throw new UnicornException("CgroupControllerUnavailable", ErrorKind.NotInstalled,
        $"This host has no '{name}' cgroup controller, which {limit} needs.", name);

    // The files each limit becomes, in an order the kernel accepts.
    IEnumerable<(string Dir, string File, string Value)> Plan(string id, CgroupLimits l)
    {
        if (l.Memory is { } memory)
        {
            var c = Need("memory", "-Memory");
            var d = Dir(c, id);
            if (c.Version == 1)
            {
                // memsw may never be below the limit: when it grows, it goes first.
                string? swap = l.MemorySwap is { } s ? s.ToString() : null;
                long current = long.TryParse(Read(d, "memory.limit_in_bytes")?.Trim(), out var cur) ? cur : long.MaxValue;
                if (l.MemorySwap is null && Num(Read(d, "memory.memsw.limit_in_bytes")) is { } memsw && memory > memsw)
                    throw new UnicornException("InvalidCgroupLimit", ErrorKind.InvalidArgument,
                        $"The limit -Memory {memory} is above the container's memory+swap limit ({memsw}): give -MemorySwap with it.", memory);
                bool swapFirst = l.MemorySwap is { } sw && (sw == -1 || sw >= current);
                if (swap is not null && swapFirst)
                    yield return (d, "memory.memsw.limit_in_bytes", swap);
                yield return (d, "memory.limit_in_bytes", memory.ToString());
                if (swap is not null && !swapFirst)
                    yield return (d, "memory.memsw.limit_in_bytes", swap);
            }
            else
            {
                yield return (d, "memory.max", memory.ToString());
                if (l.MemorySwap is { } s)
                    yield return (d, "memory.swap.max", s == -1 ? "max" : (s - memory).ToString());
            }
        }
        if (l.Cpus is { } cpus)
        {
            var c = Need("cpu", "-Cpus");
            long quota = (long)Math.Round(cpus * 100_000);
            if (c.Version == 1)
            {
                yield return (Dir(c, id), "cpu.cfs_period_us", "100000");
                yield return (Dir(c, id), "cpu.cfs_quota_us", quota.ToString());
            }
            else
                yield return (Dir(c, id), "cpu.max", $"{quota} 100000");
        }
        long? shares = l.CpuShares ?? (l.CpuWeight is { } weight ? CgroupLimits.WeightToShares(weight) : null);
        if (shares is not null)
        {
            var c = Need("cpu", "-CpuShares/-CpuWeight");
            yield return c.Version == 1
                ? (Dir(c, id), "cpu.shares", shares.Value.ToString())
                : (Dir(c, id), "cpu.weight", (l.CpuWeight ?? CgroupLimits.SharesToWeight(shares.Value)).ToString());
        }
        if (l.CpusetCpus is { } set)
        {
            var c = Need("cpuset", "-CpusetCpus");
            var host = CgroupLimits.ParseCpuList(Read(c.Mount, c.Version == 1 ? "cpuset.cpus" : "cpuset.cpus.effective") ?? "") ?? [];
            if (!CgroupLimits.ParseCpuList(set)!.IsSubsetOf(host))
                throw new UnicornException("InvalidCgroupLimit", ErrorKind.InvalidArgument,
                    $"The limit -CpusetCpus '{set}' names cpus this host does not have: it has {string.Join(",", host)}.", set);
            yield return (Dir(c, id), "cpuset.cpus", set);
        }
        if (l.PidsLimit is { } pids)
            yield return (Dir(Need("pids", "-PidsLimit"), id), "pids.max", pids.ToString());
        if (l.IoWeight is { } io)
        {
            var c = Need("io", "-IoWeight");
            // v1: the BFQ scheduler's file on current kernels (CFQ's blkio.weight went with CFQ in 5.0).
            var file = c.Version == 2 ? "io.weight" : File.Exists(Path.Combine(c.Mount, "blkio.bfq.weight")) ? "blkio.bfq.weight" : "blkio.weight";
            yield return (Dir(c, id), file, c.Version == 2 ? $"default {io}" : Math.Clamp(io / 10, 1, 1000).ToString());
        }
    }

    /// <summary>How many of the container's processes the OOM killer has killed; null without a
    /// memory cgroup.</summary>
    public long? OomKills(string id) => Layout["memory"] is { } c
        ? OomKillCount(Read(Dir(c, id), c.Version == 1 ? "memory.oom_control" : "memory.events"))
        : null;

    static long? OomKillCount(string? text) =>
        text?.Split('\n').Select(l => l.Split(' ')).FirstOrDefault(p => p.Length == 2 && p[0] == "oom_kill") is { } p ? Num(p[1]) : null;

    /// <summary>What the container's cgroup says now: limits and usage.</summary>
    public CgroupStats? Stats(string id, string name)
    {
        // A devices cgroup alone (every container has one on v1) limits no resource: nothing to show.
        if (!Layout.Controllers.Any(c => c.Name is not ("devices" or "freezer") && Directory.Exists(Dir(c, id))))
            return null;
        string? V(string controller, string v1File, string v2File) =>
            Layout[controller] is { } c ? Read(Dir(c, id), c.Version == 1 ? v1File : v2File)?.Trim() : null;
        long? Key(string? text, string key) => text?.Split('\n').Select(l => l.Split(' ')).FirstOrDefault(p => p.Length == 2 && p[0] == key) is { } p ? Num(p[1]) : null;

        var cpu = Layout["cpu"];
        var cpuStat = V("cpu", "cpu.stat", "cpu.stat");
        var quota = cpu?.Version == 1 ? Num(V("cpu", "cpu.cfs_quota_us", "")) : Num(V("cpu", "", "cpu.max")?.Split(' ')[0]);
        var period = cpu?.Version == 1 ? Num(V("cpu", "cpu.cfs_period_us", "")) : Num(V("cpu", "", "cpu.max")?.Split(' ').ElementAtOrDefault(1));
        bool v1Acct = Layout["cpuacct"]?.Version == 1;
        var acct = v1Acct ? V("cpuacct", "cpuacct.stat", "") : null;
        long ticks = 10_000_000; // cpuacct.stat counts USER_HZ (100/s) ticks; report ns
        var io = V("io", "blkio.throttle.io_service_bytes_recursive", "io.stat");

        return new CgroupStats
        {
            ContainerId = id,
            Name = name,
            Path = string.Join(", ", ExistingDirs(id)),
            Version = Layout.Versions,
            MemoryUsage = Num(V("memory", "memory.usage_in_bytes", "memory.current")),
            MemoryPeak = Num(V("memory", "memory.max_usage_in_bytes", "memory.peak")),
            MemoryLimit = Num(V("memory", "memory.limit_in_bytes", "memory.max")),
            OomKills = OomKills(id),
            CpuUsage = v1Acct ? Num(V("cpuacct", "cpuacct.usage", "")) : Key(cpuStat, "usage_usec") * 1000,
            CpuUser = v1Acct ? Key(acct, "user") * ticks : Key(cpuStat, "user_usec") * 1000,
            CpuSystem = v1Acct ? Key(acct, "system") * ticks : Key(cpuStat, "system_usec") * 1000,
            CpuThrottled = cpu?.Version == 1 ? Key(cpuStat, "throttled_time") : Key(cpuStat, "throttled_usec") * 1000,
            CpuLimit = quota is { } q && q > 0 && period is { } p && p > 0 ? Math.Round((double)q / p, 2) : null, // v1 says -1 for none
            CpusetCpus = V("cpuset", "cpuset.cpus", "cpuset.cpus"),
            Pids = Num(V("pids", "pids.current", "pids.current")),
            PidsLimit = Num(V("pids", "pids.max", "pids.max")),
            IoReadBytes = IoBytes(io, Layout["io"]?.Version, read: true),
            IoWriteBytes = IoBytes(io, Layout["io"]?.Version, read: false),
            Time = DateTime.UtcNow,
        };
    }

    // A number, or null for "max" and v1's huge "unlimited".
    static long? Num(string? s) => long.TryParse(s?.Trim(), out var n) && n < long.MaxValue / 2 ? n : null;

    // v1: "<dev> Read <n>" lines; v2: "<dev> rbytes=<n> wbytes=<n> ..." lines.
    static long? IoBytes(string? text, int? version, bool read)
    {
        if (text is null)
            return null;
        long total = 0;
        foreach (var line in text.Split('\n'))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (version == 1 && f.Length == 3 && f[1] == (read ? "Read" : "Write") && long.TryParse(f[2], out var n))
                total += n;
            else if (version == 2)
                foreach (var kv in f.Skip(1))
                    if (kv.StartsWith(read ? "rbytes=" : "wbytes=") && long.TryParse(kv[7..], out var b))
                        total += b;
        }
        return total;
    }

    /// <summary>Kills whatever is left in the container's cgroup, then removes it, retrying the
    /// EBUSY the kernel gives while the tasks exit. Leaves Unicorn's parent in place.</summary>
    public void Remove(string id)
    {
        foreach (var dir in Dirs(id))
        {
            // rmdir first: an empty cgroup (the usual case, its container ended) goes at once, and
            // one that is missing is gone already. Processes left are killed (by pidfd), then it is
            // tried again until they have gone.
            var deadline = DateTime.UtcNow.AddSeconds(5);
            for (bool killed = false; ; killed = true)
            {
                try
                {
                    Directory.Delete(dir); // rmdir: a cgroup's files are not real files
                    break;
                }
                catch (DirectoryNotFoundException)
                {
                    break;
                }
                catch (IOException) when (DateTime.UtcNow < deadline)
                {
                    if (killed)
                        Thread.Sleep(10);
                    KillAll(dir);
                }
            }
        }
    }

    /// <summary>SIGKILL to every process in the cgroup directory, each by a pidfd (a pid reused
    /// meanwhile is not hit).</summary>
    static void KillAll(string dir)
    {
        foreach (var pid in (Read(dir, "cgroup.procs") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int fd = Native.Libc.PidfdOpen(int.Parse(pid, CultureInfo.InvariantCulture));
            if (fd >= 0)
            {
                Native.Libc.PidfdSignal(fd, Signals.SIGKILL);
                Native.Libc.Close(fd);
            }
        }
    }

    static string? Read(string dir, string file)
    {
        try { return File.ReadAllText(Path.Combine(dir, file)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    static void Write(string dir, string file, string value)
    {
        try { File.WriteAllText(Path.Combine(dir, file), value); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UnicornException("CgroupWriteFailed", ErrorKind.InvalidArgument,
                $"The kernel refused '{value}' for {file} in {dir}: {e.Message}", file, e);
        }
    }
}
