using System.Text.Json;
using Unicorn.Runtime;
using static Unicorn.Oci.OciResources;
using L = Tmds.Linux.LibC;

namespace Unicorn.Oci;

/// <summary>The checks of a config: what the spec requires is there, and nothing is asked that
/// Unicorn would not do. Each error names the field, and says what to change.</summary>
static class OciValidation
{
    /// <summary>OCI's namespace types, as the launcher names them (null: refused).</summary>
    internal static readonly Dictionary<string, string?> Namespaces = new()
    {
        ["pid"] = "pid", ["network"] = "net", ["mount"] = "mnt", ["ipc"] = "ipc", ["uts"] = "uts", ["cgroup"] = "cgroup",
        ["user"] = null, ["time"] = null,
    };

    internal static readonly string[] Propagations = ["private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"];

    /// <summary>runc's sysctls of the IPC namespace (and fs.mqueue.*).</summary>
    static readonly string[] IpcSysctls = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];

    public static void Config(OciConfig c, string bundleDir)
    {
        if (!c.OciVersion.StartsWith("1."))
            throw Unsupported("ociVersion", $"'{c.OciVersion}' is not a runtime-spec version Unicorn reads: it reads 1.0 to {OciConfig.SpecVersion}");
        if (c.Root?.Path is not { Length: > 0 } root)
            throw Invalid("root.path", "the container needs a root filesystem: give its directory (relative to the bundle, or absolute)");
        var rootfs = OciSpec.RootfsPath(c, bundleDir);
        if (!Directory.Exists(rootfs))
            throw new UnicornException("OciRootfsNotFound", ErrorKind.ObjectNotFound,
                $"root.path: the root filesystem '{rootfs}' does not exist. Make it (the bundle's rootfs directory), or correct root.path.", rootfs);
        Process(c.Process ?? throw Invalid("process", "the container needs a process to run"), "process.");
        if (c.Hooks?.Count > 0)
            throw Unsupported("hooks", "hooks are not supported yet; remove them");
        var linux = c.Linux ?? throw Unsupported("linux", "a container without linux.namespaces would share the host's mount namespace; give at least a mount namespace");

        var namespaces = new Dictionary<string, OciNamespace>();
        foreach (var (ns, i) in (linux.Namespaces ?? []).Select((n, i) => (n, i)))
        {
            var field = $"linux.namespaces[{i}]";
            if (!Namespaces.TryGetValue(ns.Type, out var launcherName))
                throw Invalid(field + ".type", $"'{ns.Type}' is not a namespace: give pid, network, mount, ipc, uts or cgroup");
            if (launcherName is null)
                throw Unsupported(field, $"{ns.Type} namespaces are not supported yet; remove it");
            if (!namespaces.TryAdd(ns.Type, ns))
                throw Invalid(field, $"the {ns.Type} namespace is given twice");
            if (ns.Path is { Length: > 0 } p && !p.StartsWith('/'))
                throw Invalid(field + ".path", $"'{p}' is not an absolute path of a namespace file");
        }
        if (!namespaces.TryGetValue("mount", out var mnt))
            throw Unsupported("linux.namespaces", "without a mount namespace the container's mounts would be made on the host; add {\"type\": \"mount\"}");
        if (!string.IsNullOrEmpty(mnt.Path))
            throw Unsupported("linux.namespaces", "joining a mount namespace by path is not supported; give a new mount namespace (no path)");
        if (linux.UidMappings is { Count: > 0 } || linux.GidMappings is { Count: > 0 })
            throw Unsupported("linux.uidMappings", "user namespaces are not supported yet; remove the mappings");
        if (linux.TimeOffsets is { Count: > 0 })
            throw Unsupported("linux.timeOffsets", "time namespaces are not supported yet; remove the offsets");
        bool uts = namespaces.ContainsKey("uts");
        if (!string.IsNullOrEmpty(c.Hostname) && !uts)
            throw Invalid("hostname", "a hostname needs a new UTS namespace: add {\"type\": \"uts\"} to linux.namespaces, or remove it");
        if (!string.IsNullOrEmpty(c.Domainname) && !uts)
            throw Invalid("domainname", "a domain name needs a new UTS namespace: add {\"type\": \"uts\"} to linux.namespaces, or remove it");
        if (c.Hostname?.Length > 64 || c.Domainname?.Length > 64)
            throw Invalid(c.Hostname?.Length > 64 ? "hostname" : "domainname", "the kernel takes at most 64 characters");

        foreach (var (m, i) in (c.Mounts ?? []).Select((m, i) => (m, i)))
            OciMounts.Plan(m, i, bundleDir);

        foreach (var (d, i) in (linux.Devices ?? []).Select((d, i) => (d, i)))
        {
            var field = $"linux.devices[{i}]";
            if (!d.Path.StartsWith('/') || d.Path.Split('/').Contains(".."))
                throw Invalid(field + ".path", $"'{d.Path}' is not an absolute path inside the container");
            if (d.Type is not ("c" or "b" or "u" or "p"))
                throw Invalid(field + ".type", $"'{d.Type}' is not a device type: give c, b, u or p");
            if (d.Type != "p" && (d.Major is not >= 0 || d.Minor is not >= 0))
                throw Invalid(field, "a character or block device needs its major and minor numbers");
            if (d.FileMode > 0xFFFF)
                throw Invalid(field + ".fileMode", $"{d.FileMode} is not a file mode");
        }

        c.CgroupPath("id");
        Limits(linux.Resources);
        DeviceRules(linux.Resources);

        foreach (var (name, _) in linux.Sysctl ?? [])
            Sysctl(name, namespaces);

        if (linux.Seccomp is { } seccomp)
            Seccomp(seccomp);
        if (!string.IsNullOrEmpty(linux.RootfsPropagation) && !Propagations.Contains(linux.RootfsPropagation))
            throw Invalid("linux.rootfsPropagation", $"'{linux.RootfsPropagation}' is not a propagation: give one of {string.Join(", ", Propagations)}");
        foreach (var (p, field) in (linux.MaskedPaths ?? []).Select(p => (p, "linux.maskedPaths")).Concat((linux.ReadonlyPaths ?? []).Select(p => (p, "linux.readonlyPaths"))))
            if (!p.StartsWith('/'))
                throw Invalid(field, $"'{p}' is not an absolute path inside the container");
        if (!string.IsNullOrEmpty(linux.MountLabel))
            throw Unsupported("linux.mountLabel", "this kernel has no SELinux, so the label cannot be honoured; remove it");
        if (linux.IntelRdt is { ValueKind: not JsonValueKind.Null })
            throw Unsupported("linux.intelRdt", "Intel RDT is not supported; remove it");
        if (linux.Personality is { } personality && (personality.Domain != "LINUX" || personality.Flags is { Count: > 0 }))
            throw Unsupported("linux.personality", $"only the domain LINUX without flags is supported, not {personality.Domain}; remove it");
    }

    /// <summary>A process (the config's, or an exec's process file: prefix "process." or "").</summary>
    public static void Process(OciProcess p, string prefix)
    {
        if (p.Args is not { Count: > 0 } || string.IsNullOrEmpty(p.Args[0]))
            throw Invalid(prefix + "args", "give the command to run (at least one argument, the program)");
        if (!string.IsNullOrEmpty(p.CommandLine))
            throw Unsupported(prefix + "commandLine", "commandLine is for Windows; give args");
        if (p.Cwd is not { } cwd || !cwd.StartsWith('/'))
            throw Invalid(prefix + "cwd", $"'{p.Cwd}' is not an absolute path: give the working directory inside the container, such as /");
        foreach (var e in p.Env ?? [])
            if (e.IndexOf('=') <= 0)
                throw Invalid(prefix + "env", $"'{e}' is not NAME=value");
        Capabilities(p.Capabilities, prefix);
        Rlimits(p.Rlimits, prefix);
        if (p.OomScoreAdj is < -1000 or > 1000)
            throw Invalid(prefix + "oomScoreAdj", $"{p.OomScoreAdj} is not from -1000 to 1000");
        if (p.User.Umask > 0x1FF)
            throw Invalid(prefix + "user.umask", $"{p.User.Umask} is not a umask (0 to 0777)");
        if (!string.IsNullOrEmpty(p.ApparmorProfile))
            throw Unsupported(prefix + "apparmorProfile", $"this kernel has no AppArmor, so the profile '{p.ApparmorProfile}' cannot be honoured; remove it");
        if (!string.IsNullOrEmpty(p.SelinuxLabel))
            throw Unsupported(prefix + "selinuxLabel", "this kernel has no SELinux, so the label cannot be honoured; remove it");
        if (p.IoPriority is { ValueKind: not JsonValueKind.Null })
            throw Unsupported(prefix + "ioPriority", "I/O priorities are not supported yet; remove it");
        if (p.Scheduler is { ValueKind: not JsonValueKind.Null })
            throw Unsupported(prefix + "scheduler", "scheduling policies are not supported yet; remove it");
    }

    /// <summary>The five sets as masks; a name Capabilities does not know is an error naming the field.</summary>
    internal static (ulong Bounding, ulong Effective, ulong Permitted, ulong Inheritable, ulong Ambient) Capabilities(OciCapabilities? c, string prefix)
    {
        ulong mask(IReadOnlyList<string>? names, string set)
        {
            try { return (names ?? []).Aggregate(0UL, (m, n) => m | Runtime.Capabilities.Bit(n)); }
            catch (UnicornException e) when (e.ErrorId == "UnknownCapability")
            {
                throw new UnicornException(e.ErrorId, e.Kind, $"{prefix}capabilities.{set}: {e.Message}", e.Target, e);
            }
        }
        return c is null ? default
            : (mask(c.Bounding, "bounding"), mask(c.Effective, "effective"), mask(c.Permitted, "permitted"), mask(c.Inheritable, "inheritable"), mask(c.Ambient, "ambient"));
    }

    internal static List<(int Resource, ulong Soft, ulong Hard)> Rlimits(IReadOnlyList<OciRlimit>? rlimits, string prefix)
    {
        var result = new List<(int, ulong, ulong)>();
        foreach (var r in rlimits ?? [])
        {
            var field = prefix + "rlimits";
            var name = r.Type.StartsWith("RLIMIT_") ? r.Type[7..] : "";
            if (!SecurityOptions.Rlimits.TryGetValue(name, out var resource) || name != name.ToUpperInvariant())
                throw Invalid(field, $"'{r.Type}' is not an rlimit: give names such as RLIMIT_NOFILE or RLIMIT_NPROC");
            if (r.Soft > r.Hard)
                throw Invalid(field, $"the soft limit of {r.Type} is above the hard one");
            if (result.Any(x => x.Item1 == resource))
                throw Invalid(field, $"{r.Type} is given twice");
            result.Add((resource, r.Soft, r.Hard));
        }
        return result;
    }

    // runc's rules: a sysctl is only written in a namespace of the container's own.
    static void Sysctl(string name, Dictionary<string, OciNamespace> namespaces)
    {
        var field = $"linux.sysctl[{name}]";
        if (name.Length == 0 || name.Split('.').Any(p => p.Length == 0 || !p.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-')))
            throw Invalid(field, "is not a sysctl name such as net.ipv4.ip_forward");
        if (IpcSysctls.Contains(name) || name.StartsWith("fs.mqueue."))
        {
            if (!namespaces.ContainsKey("ipc"))
                throw Unsupported(field, "would change the host's IPC namespace: add {\"type\": \"ipc\"} to linux.namespaces, or remove it");
            return;
        }
        if (name.StartsWith("net."))
        {
            if (!namespaces.TryGetValue("network", out var net))
                throw Unsupported(field, "would change the host's network namespace: add {\"type\": \"network\"} to linux.namespaces, or remove it");
            if (net.Path is { Length: > 0 } path && IsHostNetwork(path))
                throw Unsupported(field, $"would change the host's network namespace ({path} is the host's); remove it");
            return;
        }
        if (name == "kernel.domainname" && namespaces.ContainsKey("uts"))
            return;
        if (name == "kernel.hostname")
            throw Invalid(field, "conflicts with the hostname field: give hostname instead");
        throw Unsupported(field, "is not in a namespace of the container's own, so it would change the host; remove it");
    }

    static unsafe bool IsHostNetwork(string path)
    {
        Tmds.Linux.stat ns, host;
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(path + "\0"), self = "/proc/self/ns/net\0"u8)
            if (L.stat(p, &ns) != 0 || L.stat(self, &host) != 0)
                return false; // a missing namespace fails the start itself
        return ns.st_dev == host.st_dev && ns.st_ino == host.st_ino;
    }

    internal static readonly string[] SeccompActions =
        ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"];

    internal static readonly string[] SeccompOperators =
        ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];

    /// <summary>libseccomp's architectures. The filter is made for this machine's own; calls
    /// of any other get EPERM (stricter than libseccomp, which filters them by the same rules).</summary>
    internal static readonly string[] SeccompArchitectures =
    [
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
    ];

    /// <summary>The seccomp filter flags taken: TSYNC only (the launcher is one thread, so it holds anyway).</summary>
    internal static readonly string[] SeccompFlags = ["SECCOMP_FILTER_FLAG_TSYNC"];

    static void Seccomp(OciSeccomp s)
    {
        const string field = "linux.seccomp";
        if (!SeccompActions.Contains(s.DefaultAction))
            throw Action(field + ".defaultAction", s.DefaultAction);
        foreach (var a in s.Architectures ?? [])
            if (!SeccompArchitectures.Contains(a))
                throw Invalid(field + ".architectures", $"'{a}' is not an architecture: give names such as SCMP_ARCH_X86_64");
        foreach (var f in s.Flags ?? [])
            if (!SeccompFlags.Contains(f))
                throw Unsupported(field + ".flags", $"the flag '{f}' is not supported; remove it");
        if (!string.IsNullOrEmpty(s.ListenerPath))
            throw Unsupported(field + ".listenerPath", "seccomp notifications are not supported; remove it");
        foreach (var (rule, i) in (s.Syscalls ?? []).Select((r, i) => (r, i)))
        {
            var rf = $"{field}.syscalls[{i}]";
            if (rule.Names.Count == 0)
                throw Invalid(rf + ".names", "give the system calls the rule is for");
            if (!SeccompActions.Contains(rule.Action))
                throw Action(rf + ".action", rule.Action);
            foreach (var arg in rule.Args ?? [])
            {
                if (arg.Index > 5)
                    throw Invalid(rf + ".args", $"the index {arg.Index} is no argument (0 to 5)");
                if (!SeccompOperators.Contains(arg.Op))
                    throw Invalid(rf + ".args", $"'{arg.Op}' is not an operator: give one of {string.Join(", ", SeccompOperators)}");
            }
        }
        OciSpec.CompileSeccomp(s); // the names, for this machine
    }

    static UnicornException Action(string field, string action) => action == "SCMP_ACT_NOTIFY"
        ? Unsupported(field, "SCMP_ACT_NOTIFY (a seccomp agent) is not supported; use another action")
        : Invalid(field, $"'{action}' is not a seccomp action: give one of {string.Join(", ", SeccompActions)}");
}
