using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Unicorn;

/// <summary>How a container is confined. The defaults are Docker's: its capability set,
/// no_new_privs, a seccomp filter, masked and read-only /proc and /sys paths. Each is changed
/// only by a parameter, never silently.</summary>
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
    public static readonly string[] MaskedPaths =
        ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"];
    public static readonly string[] ReadOnlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    static readonly string[] CapabilityNames =
    [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
        "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
        "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
        "PERFMON", "BPF", "CHECKPOINT_RESTORE",
    ];

    static readonly Dictionary<string, int> Rlimits = new(StringComparer.OrdinalIgnoreCase)
    {
        ["cpu"] = 0, ["fsize"] = 1, ["data"] = 2, ["stack"] = 3, ["core"] = 4, ["rss"] = 5, ["nproc"] = 6, ["nofile"] = 7,
        ["memlock"] = 8, ["as"] = 9, ["locks"] = 10, ["sigpending"] = 11, ["msgqueue"] = 12, ["nice"] = 13, ["rtprio"] = 14, ["rttime"] = 15,
    };

    static UnicornException Invalid(string id, string message, object? target) => new(id, ErrorKind.InvalidArgument, message, target);

    internal static int Capability(string name)
    {
        var n = name.Trim().ToUpperInvariant();
        n = n.StartsWith("CAP_") ? n[4..] : n;
        int i = Array.IndexOf(CapabilityNames, n);
        return i >= 0 ? i : throw Invalid("UnknownCapability",
            $"'{name}' is not a capability. Give names such as NET_ADMIN or CAP_SYS_TIME (or ALL); 'man 7 capabilities' lists them.", name);
    }

    /// <summary>The capabilities kept, one bit each: the default set, plus CapAdd, less CapDrop
    /// ("ALL" in either means all of them).</summary>
    public ulong CapabilityMask()
    {
        ulong all = (1UL << CapabilityNames.Length) - 1;
        ulong bit(string c) => c.Trim().Equals("ALL", StringComparison.OrdinalIgnoreCase) ? all : 1UL << Capability(c);
        // Docker's order: drops first, then adds (-CapDrop ALL -CapAdd NET_BIND_SERVICE keeps one).
        ulong drop = CapDrop.Aggregate(0UL, (m, c) => m | bit(c)), add = CapAdd.Aggregate(0UL, (m, c) => m | bit(c));
        if (Privileged)
            return all;
        ulong mask = DefaultCapabilities.Aggregate(0UL, (m, c) => m | 1UL << Capability(c));
        if (NoDevicesCgroup) // fail closed: the confinement that would make MKNOD safe is missing
            mask &= ~(1UL << Capability("MKNOD"));
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

    public void Validate()
    {
        CapabilityMask();
        if (ParseUlimits().Count > 16)
            throw Invalid("InvalidUlimit", "Give at most 16 -Ulimit values (one per resource).", Ulimits);
        if (ProfilePath is { } path)
        {
            if (!File.Exists(path))
                throw Invalid("SeccompProfileNotFound", $"The seccomp profile '{path}' does not exist. Give the path of a Docker/OCI JSON profile, or Default or Unconfined.", path);
            if (_compiled is null) // the cmdlet validates before the engine: compiled once
                (_compiled, ProfileWarnings) = SeccompCompiler.Compile(path, CapabilityMask());
        }
        foreach (var t in Tmpfs)
            if (!t.StartsWith('/') || t == "/" || t.Split('/').Contains("..") || t.Contains('\0') || t.Contains(':'))
                throw Invalid("InvalidTmpfs", $"'{t}' is not a path for a tmpfs: give an absolute path inside the container, not / (options after ':' are not taken).", t);
    }

    bool Unconfined => Privileged || SeccompProfile?.Equals("unconfined", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>A profile file's path (not Default or Unconfined).</summary>
    string? ProfilePath => SeccompProfile is { } p && !p.Equals("unconfined", StringComparison.OrdinalIgnoreCase)
        && !p.Equals("default", StringComparison.OrdinalIgnoreCase) ? p : null;

    /// <summary>What Validate found to say of a profile (names this architecture lacks).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public List<string> ProfileWarnings { get; private set; } = [];

    byte[]? _compiled; // by Validate: a start compiles a profile once

    /// <summary>Adds the confinement to a spec: what every process of the container gets
    /// (run and exec), and, with mounts, what its root gets (run only).</summary>
    public SpecFile AddTo(SpecFile spec, string stateRoot, string containerDir, bool mounts)
    {
        spec.Capabilities(CapabilityMask());
        if (!AllowNewPrivileges && !Privileged)
            spec.NoNewPrivileges();
        if (!Unconfined && ProfilePath is { } profile)
        {
            // Compiled at the start, kept with the container: an exec gets the same filter.
            var filter = Path.Combine(containerDir, "seccomp.bpf");
            if (!File.Exists(filter))
                File.WriteAllBytes(filter, _compiled ?? SeccompCompiler.Compile(profile, CapabilityMask()).Filter);
            spec.Seccomp(filter);
        }
        else if (!Unconfined)
            spec.Seccomp(Seccomp.DefaultFilterFile(stateRoot, CapabilityMask()));
        foreach (var (resource, soft, hard) in ParseUlimits())
            spec.Rlimit(resource, soft, hard);
        if (!mounts)
            return spec;
        foreach (var t in Tmpfs)
            spec.Tmpfs(t);
        if (!Privileged)
        {
            foreach (var p in MaskedPaths)
                spec.Mask(p);
            foreach (var p in ReadOnlyPaths)
                spec.ReadOnlyPath(p);
        }
        if (Privileged) // device nodes on its root work; otherwise the root is nodev
            spec.Devices();
        if (ReadOnly)
            spec.RootReadOnly();
        return spec;
    }
}

/// <summary>The default seccomp filter, as classic BPF: Docker's default profile as a deny-list
/// (the calls it leaves out, which a container has no business making), returning EPERM; calls
/// of another architecture (or x86_64's x32 ABI) are refused too; unshare and clone may not make
/// namespaces; clone3 gives ENOSYS, so that libcs fall back to clone, whose flags can be read;
/// personality takes only the values Docker's profile allows; socket may not make AF_VSOCK
/// sockets (as containers-common's profile has it: a way to the host that no network rule sees).</summary>
public static class Seccomp
{
    const uint AUDIT_ARCH_X86_64 = 0xC000003E, AUDIT_ARCH_AARCH64 = 0xC00000B7;
    const uint RET_ALLOW = 0x7fff0000, RET_ERRNO = 0x00050000, EPERM = 1, ENOSYS = 38;
    const uint NamespaceFlags = 0x7E020000; // CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
    // personality's values in Docker's profile: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
    // and 0xffffffff, which only asks for the current one. Not READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE…
    static readonly uint[] Personalities = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];
    const uint AF_VSOCK = 40;
    // BPF opcodes
    const ushort LD_W_ABS = 0x20, JEQ_K = 0x15, JGE_K = 0x35, JSET_K = 0x45, RET_K = 0x06;

    static readonly string[] Denied =
    [
        "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module", "finit_module", "get_kernel_syms",
        "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind",
        "mount", "move_pages", "name_to_handle_at", "nfsservctl", "open_by_handle_at", "perf_event_open", "pivot_root", "process_vm_readv",
        "process_vm_writev", "query_module", "quotactl", "quotactl_fd", "reboot", "request_key", "set_mempolicy", "setns", "settimeofday",
        "swapon", "swapoff", "sysfs", "_sysctl", "syslog", "umount2", "uselib", "userfaultfd", "ustat", "vhangup", "fsopen", "fsconfig",
        "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "io_uring_setup", "io_uring_enter", "io_uring_register",
    ];

    /// <summary>The default filter as a file the launcher reads: written once per state root
    /// (and again if it differs, after an upgrade), not for every start.</summary>
    public static string DefaultFilterFile(string stateRoot, ulong capabilities)
    {
        var path = Path.Combine(stateRoot, $"seccomp-default-{capabilities:x}.bpf");
        // Checked once per process and file: a start then only names it.
        if (Checked.ContainsKey(path) && File.Exists(path))
            return path;
        var filter = DefaultFilter(capabilities);
        var info = new FileInfo(path);
        if (!info.Exists || info.Length != filter.Length || !File.ReadAllBytes(path).AsSpan().SequenceEqual(filter))
            Files.WriteAtomic(path, filter, durable: false);
        Checked[path] = true;
        return path;
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Checked = new();


    /// <summary>This machine's audit architecture, its syscall table, the other one's, and the
    /// names profiles give this architecture in their includes.</summary>
    internal static (uint Arch, Dictionary<string, int> Table, Dictionary<string, int> Other, string[] Names) NativeTables =>
        RuntimeInformation.OSArchitecture == Architecture.Arm64
            ? (AUDIT_ARCH_AARCH64, SyscallTable.Aarch64, SyscallTable.X86_64, ["arm64", "aarch64"])
            : (AUDIT_ARCH_X86_64, SyscallTable.X86_64, SyscallTable.Aarch64, ["amd64", "x86_64"]);

    /// <summary>What a capability allows of the denied calls, as in Docker's profile: a container
    /// given CAP_SYS_ADMIN may mount, one given CAP_SYS_TIME set the clock.</summary>
    static readonly Dictionary<string, string[]> AllowedBy = new()
    {
        ["SYS_ADMIN"] = ["mount", "umount2", "setns", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
            "quotactl", "quotactl_fd", "lookup_dcookie", "perf_event_open", "bpf", "name_to_handle_at", "open_by_handle_at", "unshare", "clone"],
        ["SYS_TIME"] = ["settimeofday", "clock_settime", "clock_adjtime"],
        ["SYS_MODULE"] = ["init_module", "finit_module", "delete_module"],
        ["SYS_BOOT"] = ["reboot", "kexec_load", "kexec_file_load"],
        ["SYS_PACCT"] = ["acct"],
        ["SYS_RAWIO"] = ["iopl", "ioperm"],
        ["SYS_PTRACE"] = ["process_vm_readv", "process_vm_writev", "kcmp"],
        ["SYS_NICE"] = ["mbind", "set_mempolicy", "get_mempolicy", "move_pages"],
        ["SYSLOG"] = ["syslog"],
        ["SYS_TTY_CONFIG"] = ["vhangup"],
        ["BPF"] = ["bpf"],
        ["PERFMON"] = ["perf_event_open"],
    };

    public static byte[] DefaultFilter(ulong capabilities)
    {
        var (arch, table, _, _) = NativeTables;
        var allowed = AllowedBy.Where(kv => (capabilities >> SecurityOptions.Capability(kv.Key) & 1) != 0).SelectMany(kv => kv.Value).ToHashSet();
        var denied = Denied.Where(n => table.ContainsKey(n) && !allowed.Contains(n)).Select(n => (uint)table[n]).Distinct().ToList();
        var p = new List<(ushort Code, byte Jt, byte Jf, uint K)>();
        // seccomp_data: nr at 0, arch at 4, args[0] (low half, little-endian) at 16.
        p.Add((LD_W_ABS, 0, 0, 4));
        p.Add((JEQ_K, 1, 0, arch));
        p.Add((RET_K, 0, 0, RET_ERRNO | EPERM));
        p.Add((LD_W_ABS, 0, 0, 0));
        if (arch == AUDIT_ARCH_X86_64)
        {
            p.Add((JGE_K, 0, 1, 0x40000000)); // the x32 ABI
            p.Add((RET_K, 0, 0, RET_ERRNO | EPERM));
        }
        foreach (var nr in denied)
        {
            p.Add((JEQ_K, 0, 1, nr));
            p.Add((RET_K, 0, 0, RET_ERRNO | EPERM));
        }
        p.Add((JEQ_K, 0, 1, (uint)table["clone3"]));
        p.Add((RET_K, 0, 0, RET_ERRNO | ENOSYS));
        // personality(persona): allowed with one of Docker's values, else EPERM. The kernel takes
        // persona as an unsigned int (SYSCALL_DEFINE1(personality, unsigned int, ...)), so the
        // low half of args[0] is all it acts on: a high half it drops cannot make a refused value
        // allowed, nor the other way round. (libseccomp compares all 64 bits, and so refuses
        // a query whose high half is set, which the kernel would answer: nothing is lost here.)
        int n = Personalities.Length;
        p.Add((JEQ_K, 0, (byte)(n + 3), (uint)table["personality"]));
        p.Add((LD_W_ABS, 0, 0, 16));
        for (int i = 0; i < n; i++)
            p.Add((JEQ_K, (byte)(n - i), 0, Personalities[i])); // to the RET_ALLOW below; the last falls to EPERM
        p.Add((RET_K, 0, 0, RET_ERRNO | EPERM));
        p.Add((RET_K, 0, 0, RET_ALLOW));
        // socket(family, ...): AF_VSOCK refused. family is an int: again the low half is what counts.
        p.Add((JEQ_K, 0, 4, (uint)table["socket"]));
        p.Add((LD_W_ABS, 0, 0, 16));
        p.Add((JEQ_K, 0, 1, AF_VSOCK));
        p.Add((RET_K, 0, 0, RET_ERRNO | EPERM));
        p.Add((RET_K, 0, 0, RET_ALLOW));
        // unshare and clone: refused when their flags ask for a namespace (unless CAP_SYS_ADMIN).
        if (allowed.Contains("unshare"))
        {
            p.Add((RET_K, 0, 0, RET_ALLOW));
            return Encode(p);
        }
        p.Add((JEQ_K, 2, 0, (uint)table["unshare"]));
        p.Add((JEQ_K, 1, 0, (uint)table["clone"]));
        p.Add((RET_K, 0, 0, RET_ALLOW));
        p.Add((LD_W_ABS, 0, 0, 16));
        p.Add((JSET_K, 0, 1, NamespaceFlags));
        p.Add((RET_K, 0, 0, RET_ERRNO | EPERM));
        p.Add((RET_K, 0, 0, RET_ALLOW));

        return Encode(p);
    }

    internal static byte[] Encode(List<(ushort Code, byte Jt, byte Jf, uint K)> p)
    {
        if (p.Count > 4096)
            throw new UnicornException("InvalidSeccompProfile", ErrorKind.InvalidArgument, $"The seccomp filter would have {p.Count} instructions; the kernel takes 4096.", null);
        var bytes = new byte[p.Count * 8];
        for (int i = 0; i < p.Count; i++)
        {
            var span = bytes.AsSpan(i * 8);
            BinaryPrimitives.WriteUInt16LittleEndian(span, p[i].Code);
            span[2] = p[i].Jt;
            span[3] = p[i].Jf;
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], p[i].K);
        }
        return bytes;
    }
}
