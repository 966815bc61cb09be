using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Unicorn.Runtime.Seccomp;

/// <summary>Classic BPF as seccomp runs it (linux/filter.h, linux/seccomp.h): the opcodes and
/// return values the filters use, where seccomp_data keeps what they read, this machine's
/// architecture, and the prologue both filters begin with. One place for all of it.</summary>
public static class Bpf
{
    // Opcodes: BPF_LD|BPF_W|BPF_ABS, BPF_ALU|BPF_AND|BPF_K, BPF_JMP|BPF_JEQ/JGT/JGE/JSET|BPF_K, BPF_RET|BPF_K.
    public const ushort LD_W_ABS = 0x20, ALU_AND_K = 0x54, JEQ_K = 0x15, JGT_K = 0x25, JGE_K = 0x35, JSET_K = 0x45, RET_K = 0x06;

    // What a filter returns (SECCOMP_RET_*): an action, with data in the low 16 bits.
    public const uint RET_KILL_THREAD = 0x00000000, RET_KILL_PROCESS = 0x80000000, RET_TRAP = 0x00030000,
        RET_ERRNO = 0x00050000, RET_TRACE = 0x7ff00000, RET_LOG = 0x7ffc0000, RET_ALLOW = 0x7fff0000;
    public const uint EPERM = 1, ENOSYS = 38;

    // struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (little-endian).
    public const uint NrOffset = 0, ArchOffset = 4;
    public static uint ArgLow(int index) => (uint)(16 + 8 * index);
    public static uint ArgHigh(int index) => ArgLow(index) + 4;

    public const uint AUDIT_ARCH_X86_64 = 0xC000003E, AUDIT_ARCH_AARCH64 = 0xC00000B7;
    /// <summary>Set in the numbers of x86_64's x32 ABI (__X32_SYSCALL_BIT).</summary>
    public const uint X32SyscallBit = 0x40000000;

    /// <summary>This machine's audit architecture, its syscall table, the other one's, and the
    /// names profiles give this architecture in their includes.</summary>
    public static (uint Arch, Dictionary<string, int> Table, Dictionary<string, int> Other, string[] Names) Host =>
        RuntimeInformation.OSArchitecture == Architecture.Arm64
            ? (AUDIT_ARCH_AARCH64, SyscallTable.Aarch64, SyscallTable.X86_64, ["arm64", "aarch64"])
            : (AUDIT_ARCH_X86_64, SyscallTable.X86_64, SyscallTable.Aarch64, ["amd64", "x86_64"]);

    /// <summary>What both filters begin with: a call of another architecture gets EPERM (its
    /// numbers mean other calls), and so does one of x86_64's x32 ABI (the same calls under
    /// other numbers, which a deny-list by number would let through). Ends with the call's
    /// number loaded.</summary>
    public static List<(ushort Code, byte Jt, byte Jf, uint K)> Prologue(uint arch)
    {
        var p = new List<(ushort Code, byte Jt, byte Jf, uint K)>
        {
            (LD_W_ABS, 0, 0, ArchOffset), (JEQ_K, 1, 0, arch), (RET_K, 0, 0, RET_ERRNO | EPERM),
            (LD_W_ABS, 0, 0, NrOffset),
        };
        if (arch == AUDIT_ARCH_X86_64)
            p.AddRange([(JGE_K, 0, 1, X32SyscallBit), (RET_K, 0, 0, RET_ERRNO | EPERM)]);
        return p;
    }

    /// <summary>The program as the kernel takes it (struct sock_filter, 8 bytes each).</summary>
    public static byte[] Encode(IReadOnlyList<(ushort Code, byte Jt, byte Jf, uint K)> p)
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
