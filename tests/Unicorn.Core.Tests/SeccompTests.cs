using System.Buffers.Binary;
using System.Text.Json;
using Unicorn.Runtime.Seccomp;
using Unicorn.Runtime;

namespace Unicorn.Tests;

/// <summary>A classic-BPF interpreter, as the kernel runs a seccomp filter over a seccomp_data
/// (nr, arch, instruction pointer, six 64-bit arguments, little-endian): enough to judge the
/// filters Unicorn writes without loading them (no root, no kernel), as runc's tests do.</summary>
static class ClassicBpf
{
    public static uint Run(byte[] filter, uint arch, int nr, params ulong[] args)
    {
        Assert.True(filter.Length % 8 == 0 && filter.Length / 8 is > 0 and <= 4096, $"{filter.Length} bytes are no filter");
        Span<byte> data = stackalloc byte[64];
        BinaryPrimitives.WriteInt32LittleEndian(data, nr);
        BinaryPrimitives.WriteUInt32LittleEndian(data[4..], arch);
        for (int i = 0; i < args.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(data[(16 + 8 * i)..], args[i]);
        uint a = 0;
        for (int pc = 0; pc < filter.Length / 8; pc++)
        {
            var insn = filter.AsSpan(pc * 8, 8);
            ushort code = BinaryPrimitives.ReadUInt16LittleEndian(insn);
            byte jt = insn[2], jf = insn[3];
            uint k = BinaryPrimitives.ReadUInt32LittleEndian(insn[4..]);
            switch (code)
            {
                case 0x20: // LD W ABS: aligned, inside seccomp_data, as the kernel's checker demands
                    Assert.True(k % 4 == 0 && k <= 60, $"load of offset {k} at {pc}");
                    a = BinaryPrimitives.ReadUInt32LittleEndian(data[(int)k..]);
                    break;
                case 0x54: a &= k; break;                       // ALU AND K
                case 0x05: pc += (int)k; break;                 // JA
                case 0x15: pc += a == k ? jt : jf; break;       // JEQ K
                case 0x25: pc += a > k ? jt : jf; break;        // JGT K
                case 0x35: pc += a >= k ? jt : jf; break;       // JGE K
                case 0x45: pc += (a & k) != 0 ? jt : jf; break; // JSET K
                case 0x06: return k;                            // RET K
                default: throw new InvalidOperationException($"opcode {code:x} at {pc}");
            }
        }
        throw new InvalidOperationException("The filter ran off its end.");
    }
}

[Trait("Category", "Unit")]
public class SeccompTests
{
    const uint Allow = Bpf.RET_ALLOW, Eperm = Bpf.RET_ERRNO | Bpf.EPERM;
    const ulong CLONE_NEWUSER = 0x10000000, CLONE_NEWNET = 0x40000000, CLONE_NEWNS = 0x20000, CLONE_FILES = 0x400;
    const ulong CloneThread = 0x3d0f00; // what pthread_create gives clone: VM, FS, FILES, SIGHAND, THREAD, SYSVSEM, SETTLS, PARENT_SETTID, CHILD_CLEARTID

    static readonly (uint Arch, Dictionary<string, int> Table, Dictionary<string, int> Other, string[] Names) Host = Bpf.Host;
    static int Nr(string name) => Host.Table[name];

    static byte[] DefaultFilter(params string[] capAdd) => DefaultSeccompFilter.Build(new SecurityOptions { CapAdd = capAdd }.CapabilityMask());

    // ---- The default filter ----

    [Fact]
    public void DefaultFilterDeniesWhatDockersProfileLeavesOut()
    {
        var filter = DefaultFilter();
        uint Run(string name, params ulong[] args) => ClassicBpf.Run(filter, Host.Arch, Nr(name), args);

        foreach (var name in new[] { "mount", "umount2", "keyctl", "add_key", "request_key", "kexec_load", "init_module", "bpf", "setns", "pivot_root",
                     "open_by_handle_at", "perf_event_open", "userfaultfd", "io_uring_setup", "fsopen", "move_mount", "reboot", "settimeofday" })
            Assert.Equal(Eperm, Run(name));
        Assert.Equal(Eperm, Run("unshare", CLONE_NEWUSER));
        Assert.Equal(Eperm, Run("unshare", CLONE_NEWNS | CLONE_FILES));
        Assert.Equal(Eperm, Run("clone", CLONE_NEWNET));
        Assert.Equal(Bpf.RET_ERRNO | Bpf.ENOSYS, Run("clone3")); // flags behind a pointer: libcs fall back to clone
        Assert.Equal(Eperm, Run("socket", 40 /* AF_VSOCK */));
        Assert.Equal(Eperm, Run("personality", 0x0400000 /* READ_IMPLIES_EXEC */));

        foreach (var name in new[] { "read", "write", "openat", "close", "execve", "getpid", "exit_group", "mmap", "futex", "wait4", "kill" })
            Assert.Equal(Allow, Run(name, 0, 0, 0));
        Assert.Equal(Allow, Run("clone", CloneThread));
        Assert.Equal(Allow, Run("clone", 0x11 /* SIGCHLD: fork */));
        Assert.Equal(Allow, Run("unshare", CLONE_FILES));
        Assert.Equal(Allow, Run("socket", 2 /* AF_INET */, 1, 0));
        Assert.Equal(Allow, Run("personality", 0xffffffff /* a query */));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // CAP_SYS_ADMIN: the namespace checks are lifted, these are not
    public void DefaultFilterAllowsOnlyDockersPersonalitiesAndNoVsock(bool sysAdmin)
    {
        var filter = sysAdmin ? DefaultFilter("SYS_ADMIN") : DefaultFilter();
        int personality = Nr("personality"), socket = Nr("socket");
        uint Run(int nr, ulong arg0) => ClassicBpf.Run(filter, Host.Arch, nr, arg0);

        foreach (ulong allowed in new ulong[] { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff, 0x1_0000_0000 /* the kernel sees 0 */ })
            Assert.Equal(Allow, Run(personality, allowed));
        foreach (ulong refused in new ulong[] { 0x0400000 /* READ_IMPLIES_EXEC */, 0x0040000 /* ADDR_NO_RANDOMIZE */, 0x1_0040_0000, 0x9, 0xfffffffe })
            Assert.Equal(Eperm, Run(personality, refused));

        Assert.Equal(Eperm, Run(socket, 40)); // AF_VSOCK
        Assert.Equal(Eperm, Run(socket, 0xffffffff_00000028)); // the kernel takes an int: still AF_VSOCK
        foreach (ulong family in new ulong[] { 1, 2, 10, 16, 17, 41 })
            Assert.Equal(Allow, Run(socket, family));

        Assert.Equal(Allow, Run(Nr("getpid"), 0));
        Assert.Equal(Eperm, Run(Nr("kexec_load"), 0));
        Assert.Equal(sysAdmin ? Allow : Eperm, Run(Nr("unshare"), CLONE_NEWUSER));
        Assert.Equal(sysAdmin ? Allow : Eperm, Run(Nr("mount"), 0));
        Assert.Equal(Allow, Run(Nr("unshare"), CLONE_FILES));
        Assert.True(filter.Length / 8 < 160, $"{filter.Length / 8} instructions"); // 141 on x86_64
    }

    [Fact]
    public void CapabilitiesLiftOnlyTheirOwnCalls()
    {
        var filter = DefaultFilter("SYS_TIME");
        Assert.Equal(Allow, ClassicBpf.Run(filter, Host.Arch, Nr("settimeofday")));
        Assert.Equal(Allow, ClassicBpf.Run(filter, Host.Arch, Nr("clock_settime")));
        Assert.Equal(Eperm, ClassicBpf.Run(filter, Host.Arch, Nr("mount")));
        Assert.Equal(Eperm, ClassicBpf.Run(filter, Host.Arch, Nr("unshare"), CLONE_NEWNS));
    }

    // ---- The prologue: another architecture, the x32 ABI ----

    /// <summary>The prologue alone, then allow: what it lets through, and what it answers.</summary>
    static byte[] PrologueThenAllow(uint arch) => Bpf.Encode([.. Bpf.Prologue(arch), (Bpf.RET_K, 0, 0, Bpf.RET_ALLOW)]);

    [Fact]
    public void PrologueRefusesAnotherArchitectureAndX32()
    {
        var x86 = PrologueThenAllow(Bpf.AUDIT_ARCH_X86_64);
        Assert.Equal(Allow, ClassicBpf.Run(x86, Bpf.AUDIT_ARCH_X86_64, 0));
        Assert.Equal(Allow, ClassicBpf.Run(x86, Bpf.AUDIT_ARCH_X86_64, 0x3fffffff));
        Assert.Equal(Eperm, ClassicBpf.Run(x86, Bpf.AUDIT_ARCH_AARCH64, 0));
        Assert.Equal(Eperm, ClassicBpf.Run(x86, 0x40000003 /* AUDIT_ARCH_I386 */, 0));
        Assert.Equal(Eperm, ClassicBpf.Run(x86, Bpf.AUDIT_ARCH_X86_64, (int)Bpf.X32SyscallBit)); // x32 read
        Assert.Equal(Eperm, ClassicBpf.Run(x86, Bpf.AUDIT_ARCH_X86_64, (int)(Bpf.X32SyscallBit | 165))); // x32 mount
        Assert.Equal(Eperm, ClassicBpf.Run(x86, Bpf.AUDIT_ARCH_X86_64, -1)); // no call: above the bit too

        // aarch64 has no second ABI under other numbers: only the architecture is checked.
        var arm = PrologueThenAllow(Bpf.AUDIT_ARCH_AARCH64);
        Assert.Equal(Allow, ClassicBpf.Run(arm, Bpf.AUDIT_ARCH_AARCH64, (int)Bpf.X32SyscallBit));
        Assert.Equal(Eperm, ClassicBpf.Run(arm, Bpf.AUDIT_ARCH_X86_64, 0));
    }

    [Fact]
    public void BothFiltersBeginWithThePrologue()
    {
        var prologue = Bpf.Encode(Bpf.Prologue(Host.Arch));
        using var dir = new TempDir();
        var profile = dir.Write("allow.json", """{"defaultAction":"SCMP_ACT_ALLOW"}""");
        foreach (var filter in new[] { DefaultFilter(), SeccompCompiler.Compile(profile, 0).Filter })
        {
            Assert.Equal(prologue, filter[..prologue.Length]);
            Assert.Equal(Eperm, ClassicBpf.Run(filter, Host.Arch ^ 1, Nr("read")));
            Assert.Equal(Eperm, ClassicBpf.Run(filter, Host.Arch == Bpf.AUDIT_ARCH_X86_64 ? Bpf.AUDIT_ARCH_AARCH64 : Bpf.AUDIT_ARCH_X86_64, Nr("read")));
            Assert.Equal(Allow, ClassicBpf.Run(filter, Host.Arch, Nr("read")));
            if (Host.Arch == Bpf.AUDIT_ARCH_X86_64) // the same call by its x32 number
                Assert.Equal(Eperm, ClassicBpf.Run(filter, Host.Arch, (int)Bpf.X32SyscallBit | Nr("read")));
        }
    }

    // ---- A Docker/OCI profile, compiled ----

    const string Profile = """
        {
          "defaultAction": "SCMP_ACT_ERRNO",
          "defaultErrnoRet": 38,
          "archMap": [ { "architecture": "SCMP_ARCH_X86_64", "subArchitectures": [ "SCMP_ARCH_X86", "SCMP_ARCH_X32" ] } ],
          "syscalls": [
            { "names": [ "read", "write", "exit_group", "bdflush" ], "action": "SCMP_ACT_ALLOW" },
            { "names": [ "personality" ], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 8, "op": "SCMP_CMP_EQ" } ] },
            { "names": [ "personality" ], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ" } ] },
            { "names": [ "kill" ], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 1, "value": 9, "op": "SCMP_CMP_LE" } ] },
            { "names": [ "clone" ], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" } ] },
            { "names": [ "socket" ], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 40, "op": "SCMP_CMP_NE" } ] },
            { "names": [ "lseek" ], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 2, "value": 2, "op": "SCMP_CMP_LT" } ] },
            { "names": [ "dup3" ], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 2, "value": 4294967296, "op": "SCMP_CMP_GE" } ] },
            { "names": [ "mkdirat" ], "action": "SCMP_ACT_ERRNO", "errnoRet": 13 },
            { "names": [ "ptrace" ], "action": "SCMP_ACT_KILL_PROCESS" },
            { "names": [ "mount" ], "action": "SCMP_ACT_ALLOW", "includes": { "caps": [ "CAP_SYS_ADMIN" ] } },
            { "names": [ "getpid" ], "action": "SCMP_ACT_ALLOW", "excludes": { "caps": [ "CAP_SYS_ADMIN" ] } },
            { "names": [ "getppid" ], "action": "SCMP_ACT_ALLOW", "includes": { "arches": [ "s390x" ] } }
          ]
        }
        """;

    [Fact]
    public void ProfileRulesAllowAndDenyByArgument()
    {
        using var dir = new TempDir();
        var path = dir.Write("profile.json", Profile);
        var (filter, warnings) = SeccompCompiler.Compile(path, new SecurityOptions().CapabilityMask());
        uint Run(string name, params ulong[] args) => ClassicBpf.Run(filter, Host.Arch, Nr(name), args);
        const uint Enosys = Bpf.RET_ERRNO | Bpf.ENOSYS; // the profile's defaultErrnoRet

        Assert.Equal(Allow, Run("read"));
        Assert.Equal(Allow, Run("write"));
        Assert.Equal(Enosys, Run("openat"));
        Assert.Equal(Bpf.RET_ERRNO | 13, Run("mkdirat"));
        Assert.Equal(Bpf.RET_KILL_PROCESS, Run("ptrace"));

        // EQ: all 64 bits compared (libseccomp's way), either rule may allow.
        Assert.Equal(Allow, Run("personality", 8));
        Assert.Equal(Allow, Run("personality", 0xffffffff));
        Assert.Equal(Enosys, Run("personality", 0x0400000));
        Assert.Equal(Enosys, Run("personality", 0x1_0000_0008));
        // LE on the second argument: the signal.
        Assert.Equal(Allow, Run("kill", 1, 0));
        Assert.Equal(Allow, Run("kill", 1, 9));
        Assert.Equal(Enosys, Run("kill", 1, 10));
        Assert.Equal(Enosys, Run("kill", 1, 0x1_0000_0000));
        // MASKED_EQ: no namespace flag.
        Assert.Equal(Allow, Run("clone", CloneThread));
        Assert.Equal(Enosys, Run("clone", CLONE_NEWUSER));
        Assert.Equal(Enosys, Run("clone", CloneThread | CLONE_NEWNET));
        // NE
        Assert.Equal(Allow, Run("socket", 2));
        Assert.Equal(Allow, Run("socket", 0x1_0000_0028)); // another value in 64 bits
        Assert.Equal(Enosys, Run("socket", 40));
        // LT and GE across the halves.
        Assert.Equal(Allow, Run("lseek", 3, 0, 1));
        Assert.Equal(Enosys, Run("lseek", 3, 0, 2));
        Assert.Equal(Enosys, Run("lseek", 3, 0, 0x1_0000_0001));
        Assert.Equal(Allow, Run("dup3", 0, 1, 0x1_0000_0000));
        Assert.Equal(Allow, Run("dup3", 0, 1, 0x2_0000_0000));
        Assert.Equal(Enosys, Run("dup3", 0, 1, 0xffffffff));

        // Conditions: capabilities kept, architectures.
        Assert.Equal(Enosys, Run("mount"));
        Assert.Equal(Allow, Run("getpid"));
        Assert.Equal(Enosys, Run("getppid"));
        var admin = SeccompCompiler.Compile(path, new SecurityOptions { CapAdd = ["SYS_ADMIN"] }.CapabilityMask()).Filter;
        Assert.Equal(Allow, ClassicBpf.Run(admin, Host.Arch, Nr("mount")));
        Assert.Equal(Enosys, ClassicBpf.Run(admin, Host.Arch, Nr("getpid")));

        // A name of other architectures only is skipped, with a warning.
        Assert.Equal([$"The seccomp profile '{path}' names calls this architecture does not have; they are skipped: bdflush."], warnings);
    }

    [Theory]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdri"],"action":"SCMP_ACT_ERRNO"}]}""", "UnknownSyscall")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}""", "InvalidSeccompProfile")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}""", "InvalidSeccompProfile")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_SOON"}]}]}""", "InvalidSeccompProfile")]
    [InlineData("""{"syscalls":[]}""", "InvalidSeccompProfile")]
    [InlineData("""not json""", "InvalidSeccompProfile")]
    public void BadProfilesAreRefused(string json, string errorId)
    {
        using var dir = new TempDir();
        var path = dir.Write("bad.json", json);
        Assert.Equal(errorId, Assert.Throws<UnicornException>(() => SeccompCompiler.Compile(path, 0)).ErrorId);
        Assert.Equal(errorId, Assert.Throws<UnicornException>(() => new SecurityOptions { SeccompProfile = path }.Validate()).ErrorId);
    }

    // ---- SecurityOptions: input and record; Resolve: what the launcher is told ----

    [Fact]
    public void ResolveSaysWhatTheLauncherIsTold()
    {
        using var dir = new TempDir();
        var state = dir.Sub("state");
        var container = dir.Sub("container");

        var confined = new SecurityOptions { Ulimits = ["nofile=1024:2048"], Tmpfs = ["/run"], ReadOnly = true }.Resolve(state, container);
        Assert.Equal(new SecurityOptions().CapabilityMask(), confined.Capabilities);
        Assert.True(confined.NoNewPrivileges);
        Assert.Equal(DefaultFilter(), File.ReadAllBytes(confined.SeccompFilter!));
        Assert.StartsWith(state + "/", confined.SeccompFilter);
        Assert.Equal([(7, 1024UL, 2048UL)], confined.Rlimits);
        Assert.Equal(["/run"], confined.Tmpfs);
        Assert.Contains("/proc/kcore", confined.MaskedPaths);
        Assert.Contains("/proc/sys", confined.ReadOnlyPaths);
        Assert.False(confined.Devices);
        Assert.True(confined.RootReadOnly);

        var privileged = new SecurityOptions { Privileged = true }.Resolve(state, container);
        Assert.Equal(Capabilities.All, privileged.Capabilities);
        Assert.False(privileged.NoNewPrivileges);
        Assert.Null(privileged.SeccompFilter);
        Assert.Empty(privileged.MaskedPaths);
        Assert.Empty(privileged.ReadOnlyPaths);
        Assert.True(privileged.Devices);

        var unconfined = new SecurityOptions { SeccompProfile = "Unconfined", AllowNewPrivileges = true }.Resolve(state, container);
        Assert.Null(unconfined.SeccompFilter);
        Assert.False(unconfined.NoNewPrivileges);
        Assert.NotEmpty(unconfined.MaskedPaths);
        Assert.Equal(confined.SeccompFilter, new SecurityOptions { SeccompProfile = "default" }.Resolve(state, container).SeccompFilter);
    }

    [Fact]
    public void AProfileIsCompiledOnceAndKeptWithTheContainer()
    {
        using var dir = new TempDir();
        var state = dir.Sub("state");
        var container = dir.Sub("container");
        var profile = dir.Write("profile.json", Profile);
        var options = new SecurityOptions { SeccompProfile = profile };
        Assert.Equal(["bdflush"], options.Validate().Select(w => w.Split(": ")[^1].TrimEnd('.')));

        var first = options.Resolve(state, container).SeccompFilter!;
        Assert.Equal(Path.Combine(container, "seccomp.bpf"), first);
        var compiled = File.ReadAllBytes(first);
        Assert.Equal(SeccompCompiler.Compile(profile, options.CapabilityMask()).Filter, compiled);
        // An exec, a start again: the container's filter, whatever became of the profile.
        File.Delete(profile);
        Assert.Equal(first, options.Resolve(state, container).SeccompFilter);
        Assert.Equal(compiled, File.ReadAllBytes(first));
        Assert.Equal("SeccompProfileNotFound", Assert.Throws<UnicornException>(() => options.Validate()).ErrorId);
    }

    [Fact]
    public void TheRecordKeepsItsShape()
    {
        // As config.json files hold it: every field, the same names, read and written back alike.
        const string old = """{"CapAdd":["NET_ADMIN"],"CapDrop":["ALL"],"Privileged":false,"AllowNewPrivileges":true,"SeccompProfile":"/p.json","ReadOnly":true,"Tmpfs":["/run"],"Ulimits":["nofile=10"],"NoDevicesCgroup":true}""";
        var read = JsonSerializer.Deserialize(old, Json.Default.SecurityOptions)!;
        Assert.Equal(["NET_ADMIN"], read.CapAdd);
        Assert.Equal((true, "/p.json", true, true), (read.AllowNewPrivileges, read.SeccompProfile, read.ReadOnly, read.NoDevicesCgroup));
        var written = JsonSerializer.Serialize(read, Json.Default.SecurityOptions);
        Assert.Equal(old, JsonSerializer.Serialize(JsonDocument.Parse(written).RootElement)); // the same, indentation aside
    }
}

/// <summary>A directory of the test's own, removed with what it holds.</summary>
sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("unicorn-seccomp-").FullName;

    public string Write(string name, string text)
    {
        var file = System.IO.Path.Combine(Path, name);
        File.WriteAllText(file, text);
        return file;
    }

    public string Sub(string name) => Directory.CreateDirectory(System.IO.Path.Combine(Path, name)).FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
