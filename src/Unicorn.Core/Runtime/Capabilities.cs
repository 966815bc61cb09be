namespace Unicorn.Runtime;

/// <summary>Linux capabilities by name (linux/capability.h), one bit each in a mask: what
/// -CapAdd/-CapDrop name, the launcher keeps, and seccomp rules are conditioned on.</summary>
public static class Capabilities
{
    static readonly string[] Names =
    [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
        "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
        "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
        "PERFMON", "BPF", "CHECKPOINT_RESTORE",
    ];

    /// <summary>Every name, without CAP_, in the kernel's order.</summary>
    public static IReadOnlyList<string> AllNames => Names;

    public static ulong All => (1UL << Names.Length) - 1;

    /// <summary>A capability's number, from its name with or without CAP_, in any case.</summary>
    public static int Number(string name)
    {
        var n = name.Trim().ToUpperInvariant();
        n = n.StartsWith("CAP_") ? n[4..] : n;
        int i = Array.IndexOf(Names, n);
        return i >= 0 ? i : throw new UnicornException("UnknownCapability", ErrorKind.InvalidArgument,
            $"'{name}' is not a capability. Give names such as NET_ADMIN or CAP_SYS_TIME (or ALL); 'man 7 capabilities' lists them.", name);
    }

    public static ulong Bit(string name) => 1UL << Number(name);

    public static bool Has(ulong mask, string name) => (mask & Bit(name)) != 0;
}
