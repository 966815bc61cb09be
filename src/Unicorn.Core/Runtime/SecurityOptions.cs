using Unicorn.Runtime.Seccomp;

namespace Unicorn.Runtime;

/// <summary>How a container is to be confined, as it was asked (the parameters), and as its
/// config.json keeps it; Resolve turns it into what the launcher is told. The defaults are
/// Docker's: its capability set, no_new_privs, a seccomp filter, masked and read-only /proc and
/// /sys paths. Each is changed only by a parameter, never silently.</summary>
public sealed class SecurityOptions
{
    public string[] CapAdd { get; set; } = [];
    public string[] CapDrop { get; set; } = [];
    /// <summary>Every capability, no seccomp filter, no masked paths, new privileges allowed.</summary>
    public bool Privileged { get; set; }
    public bool AllowNewPrivileges { get; set; }
    /// <summary>null or "default": the built-in filter; "unconfined": none; else a Docker/OCI
    /// JSON profile's path.</summary>
    public string? SeccompProfile { get; set; }
    public bool ReadOnly { get; set; }
    public string[] Tmpfs { get; set; } = [];
    /// <summary>name=soft[:hard], as Docker's --ulimit: nofile=1024:2048.</summary>
    public string[] Ulimits { get; set; } = [];
    /// <summary>Set by the engine where no devices cgroup can be had (cgroup v2): then nothing
    /// but the device nodes a container is given may be opened, so it may not make new ones
    /// (CAP_MKNOD leaves the default set; -CapAdd MKNOD still grants it).</summary>
    public bool NoDevicesCgroup { get; set; }

    /// <summary>Docker's default capability set.</summary>
    public static readonly string[] DefaultCapabilities =
        ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"];

    /// <summary>runc's default masked paths and read-only paths.</summary>
    public static readonly IReadOnlyList<string> MaskedPaths =
        ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"];
    public static readonly IReadOnlyList<string> ReadOnlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <summary>The rlimits by name (nofile), as Docker's --ulimit and OCI's RLIMIT_NOFILE name them.</summary>
    internal static readonly Dictionary<string, int> Rlimits = new(StringComparer.OrdinalIgnoreCase)
    {
        ["cpu"] = 0, ["fsize"] = 1, ["data"] = 2, ["stack"] = 3, ["core"] = 4, ["rss"] = 5, ["nproc"] = 6, ["nofile"] = 7,
        ["memlock"] = 8, ["as"] = 9, ["locks"] = 10, ["sigpending"] = 11, ["msgqueue"] = 12, ["nice"] = 13, ["rtprio"] = 14, ["rttime"] = 15,
    };

    static UnicornException Invalid(string id, string message, object? target) => new(id, ErrorKind.InvalidArgument, message, target);

    /// <summary>The capabilities kept, one bit each: the default set, plus CapAdd, less CapDrop
    /// ("ALL" in either means all of them).</summary>
    public ulong CapabilityMask()
    {
        ulong all = Capabilities.All;
        ulong bit(string c) => c.Trim().Equals("ALL", StringComparison.OrdinalIgnoreCase) ? all : Capabilities.Bit(c);
        // Docker's order: drops first, then adds (-CapDrop ALL -CapAdd NET_BIND_SERVICE keeps one).
        ulong drop = CapDrop.Aggregate(0UL, (m, c) => m | bit(c)), add = CapAdd.Aggregate(0UL, (m, c) => m | bit(c));
        if (Privileged)
            return all;
        ulong mask = DefaultCapabilities.Aggregate(0UL, (m, c) => m | Capabilities.Bit(c));
        if (NoDevicesCgroup) // fail closed: the confinement that would make MKNOD safe is missing
            mask &= ~Capabilities.Bit("MKNOD");
        return mask & ~drop | add;
    }

    public List<(int Resource, ulong Soft, ulong Hard)> ParseUlimits() => Ulimits.Select(u =>
    {
        var (name, value) = u.Split('=', 2) is [var n, var v] ? (n, v) : (u, "");
        var parts = value.Split(':');
        if (!Rlimits.TryGetValue(name.Trim(), out var resource) || parts.Length > 2 || !parts.All(p => ulong.TryParse(p, out _) || p == "unlimited"))
            throw Invalid("InvalidUlimit", $"'{u}' is not a limit: give name=soft[:hard] (such as nofile=1024:2048), name one of {string.Join(", ", Rlimits.Keys)}, 'unlimited' allowed.", u);
        ulong parse(string p) => p == "unlimited" ? ulong.MaxValue : ulong.Parse(p);
        ulong soft = parse(parts[0]), hard = parts.Length == 2 ? parse(parts[1]) : soft;
        if (soft > hard)
            throw Invalid("InvalidUlimit", $"In '{u}' the soft limit is above the hard one.", u);
        return (resource, soft, hard);
    }).ToList();

    /// <summary>Checks every value, and compiles a profile, so that what is wrong is said before
    /// anything starts. Returns what a profile gives to warn of (names this architecture lacks).</summary>
    public IReadOnlyList<string> Validate()
    {
        CapabilityMask();
        if (ParseUlimits().Count > 16)
            throw Invalid("InvalidUlimit", "Give at most 16 -Ulimit values (one per resource).", Ulimits);
        foreach (var t in Tmpfs)
            if (!t.StartsWith('/') || t == "/" || t.Split('/').Contains("..") || t.Contains('\0') || t.Contains(':'))
                throw Invalid("InvalidTmpfs", $"'{t}' is not a path for a tmpfs: give an absolute path inside the container, not / (options after ':' are not taken).", t);
        return ProfilePath is { } path ? SeccompCompiler.Compile(RequireProfile(path), CapabilityMask()).Warnings : [];
    }

    static string RequireProfile(string path) => File.Exists(path) ? path
        : throw Invalid("SeccompProfileNotFound", $"The seccomp profile '{path}' does not exist. Give the path of a Docker/OCI JSON profile, or Default or Unconfined.", path);

    bool Unconfined => Privileged || SeccompProfile?.Equals("unconfined", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>A profile file's path (not Default or Unconfined).</summary>
    string? ProfilePath => SeccompProfile is { } p && !p.Equals("unconfined", StringComparison.OrdinalIgnoreCase)
        && !p.Equals("default", StringComparison.OrdinalIgnoreCase) ? p : null;

    /// <summary>What the launcher is told, worked out from these options once they are settled
    /// (the engine has set NoDevicesCgroup), with the seccomp filter's file made if need be.</summary>
    public Confinement Resolve(string stateRoot, string containerDir)
    {
        var capabilities = CapabilityMask();
        var filter = Unconfined ? null
            : ProfilePath is { } profile ? SeccompCompiler.File(profile, containerDir, capabilities)
            : DefaultSeccompFilter.File(stateRoot, capabilities);
        return new Confinement(capabilities, NoNewPrivileges: !AllowNewPrivileges && !Privileged, filter, ParseUlimits(),
            Tmpfs.ToArray(), Privileged ? [] : MaskedPaths, Privileged ? [] : ReadOnlyPaths, Devices: Privileged, RootReadOnly: ReadOnly);
    }

    /// <summary>Adds the confinement to a spec: what every process of the container gets
    /// (run and exec), and, with mounts, what its root gets (run only).</summary>
    public SpecFile AddTo(SpecFile spec, string stateRoot, string containerDir, bool mounts) =>
        Resolve(stateRoot, containerDir).AddTo(spec, mounts);
}
