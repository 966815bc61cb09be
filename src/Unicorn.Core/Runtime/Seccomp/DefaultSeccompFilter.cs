using static Unicorn.Runtime.Seccomp.Bpf;

namespace Unicorn.Runtime.Seccomp;

/// <summary>The default seccomp filter, as classic BPF: Docker's default profile as a deny-list
/// (the calls it leaves out, which a container has no business making), returning EPERM; calls
/// of another architecture (or x86_64's x32 ABI) are refused by the prologue; unshare and clone
/// may not make namespaces; clone3 gives ENOSYS, so that libcs fall back to clone, whose flags
/// can be read; personality takes only the values Docker's profile allows; socket may not make
/// AF_VSOCK sockets (as containers-common's profile has it: a way to the host that no network
/// rule sees).</summary>
public static class DefaultSeccompFilter
{
    const uint NamespaceFlags = 0x7E020000; // CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
    // personality's values in Docker's profile: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
    // and 0xffffffff, which only asks for the current one. Not READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE…
    static readonly uint[] Personalities = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];
    const uint AF_VSOCK = 40;

    static readonly string[] Denied =
    [
        "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module", "finit_module", "get_kernel_syms",
        "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind",
        "mount", "move_pages", "name_to_handle_at", "nfsservctl", "open_by_handle_at", "perf_event_open", "pivot_root", "process_vm_readv",
        "process_vm_writev", "query_module", "quotactl", "quotactl_fd", "reboot", "request_key", "set_mempolicy", "setns", "settimeofday",
        "swapon", "swapoff", "sysfs", "_sysctl", "syslog", "umount2", "uselib", "userfaultfd", "ustat", "vhangup", "fsopen", "fsconfig",
        "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "io_uring_setup", "io_uring_enter", "io_uring_register",
    ];

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

    /// <summary>The default filter as a file the launcher reads: written once per state root
    /// (and again if it differs, after an upgrade), not for every start.</summary>
    public static string File(string stateRoot, ulong capabilities)
    {
        var path = Path.Combine(stateRoot, $"seccomp-default-{capabilities:x}.bpf");
        // Checked once per process and file: a start then only names it.
        if (Checked.ContainsKey(path) && System.IO.File.Exists(path))
            return path;
        var filter = Build(capabilities);
        var info = new FileInfo(path);
        if (!info.Exists || info.Length != filter.Length || !System.IO.File.ReadAllBytes(path).AsSpan().SequenceEqual(filter))
            Files.WriteAtomic(path, filter, durable: false);
        Checked[path] = true;
        return path;
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Checked = new();

    /// <summary>The filter for a container that keeps these capabilities.</summary>
    public static byte[] Build(ulong capabilities)
    {
        var (arch, table, _, _) = Host;
        var allowed = AllowedBy.Where(kv => Capabilities.Has(capabilities, kv.Key)).SelectMany(kv => kv.Value).ToHashSet();
        var denied = Denied.Where(n => table.ContainsKey(n) && !allowed.Contains(n)).Select(n => (uint)table[n]).Distinct().ToList();
        var p = Prologue(arch); // the call's number is loaded
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
        p.Add((LD_W_ABS, 0, 0, ArgLow(0)));
        for (int i = 0; i < n; i++)
            p.Add((JEQ_K, (byte)(n - i), 0, Personalities[i])); // to the RET_ALLOW below; the last falls to EPERM
        p.Add((RET_K, 0, 0, RET_ERRNO | EPERM));
        p.Add((RET_K, 0, 0, RET_ALLOW));
        // socket(family, ...): AF_VSOCK refused. family is an int: again the low half is what counts.
        p.Add((JEQ_K, 0, 4, (uint)table["socket"]));
        p.Add((LD_W_ABS, 0, 0, ArgLow(0)));
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
        p.Add((LD_W_ABS, 0, 0, ArgLow(0)));
        p.Add((JSET_K, 0, 1, NamespaceFlags));
        p.Add((RET_K, 0, 0, RET_ERRNO | EPERM));
        p.Add((RET_K, 0, 0, RET_ALLOW));
        return Encode(p);
    }
}
