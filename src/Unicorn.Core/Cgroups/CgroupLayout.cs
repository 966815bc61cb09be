namespace Unicorn.Cgroups;

/// <summary>Where each controller lives on this host: a cgroup v1 hierarchy of its own, or the
/// unified (v2) hierarchy. Read from the mount table and cgroup.controllers, never guessed from
/// the distribution. A hybrid host uses v1 for every controller bound there.</summary>
public sealed class CgroupLayout
{
    /// <summary>The controllers Unicorn uses. blkio is v1's name for v2's io. v2 has no devices
    /// controller (an eBPF program's job) and no freezer controller (every cgroup has cgroup.freeze).</summary>
    public static readonly string[] Wanted = ["memory", "cpu", "cpuacct", "cpuset", "pids", "io", "devices", "freezer"];

    public sealed record Controller(string Name, int Version, string Mount);

    readonly Dictionary<string, Controller> _controllers;

    CgroupLayout(Dictionary<string, Controller> controllers) => _controllers = controllers;

    public static CgroupLayout Detect() => Parse(File.ReadLines("/proc/self/mountinfo"), path =>
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return null; }
    });

    /// <summary>From mountinfo lines; readFile reads a cgroup2 mount's cgroup.controllers.</summary>
    public static CgroupLayout Parse(IEnumerable<string> mountinfo, Func<string, string?> readFile)
    {
        var found = new Dictionary<string, Controller>();
        string? unified = null;
        foreach (var line in mountinfo)
        {
            var f = line.Split(' ');
            int dash = Array.IndexOf(f, "-");
            if (dash < 0 || dash + 3 >= f.Length)
                continue;
            var (mount, type, options) = (f[4], f[dash + 1], f[dash + 3]);
            if (type == "cgroup2")
                unified ??= mount;
            else if (type == "cgroup")
                foreach (var option in options.Split(','))
                {
                    var name = option == "blkio" ? "io" : option;
                    if (Wanted.Contains(name))
                        found.TryAdd(name, new Controller(name, 1, mount));
                }
        }
        // v2 takes what no v1 hierarchy has bound, if its root offers it.
        if (unified is not null && readFile(Path.Combine(unified, "cgroup.controllers")) is { } offered)
            foreach (var name in offered.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                if (Wanted.Contains(name) && !found.ContainsKey(name))
                    found[name] = new Controller(name, 2, unified);
        if (unified is not null && found.TryGetValue("cpu", out var cpu) && cpu.Version == 2)
            found.TryAdd("cpuacct", cpu with { Name = "cpuacct" }); // v2's cpu.stat has the usage
        return new CgroupLayout(found);
    }

    public Controller? this[string name] => _controllers.GetValueOrDefault(name);

    public IEnumerable<Controller> Controllers => _controllers.Values;

    /// <summary>"v1", "v2" or "v1+v2" (hybrid): what the controllers in use are on.</summary>
    public string Versions => string.Join("+", _controllers.Values.Select(c => "v" + c.Version).Distinct().Order());
}
