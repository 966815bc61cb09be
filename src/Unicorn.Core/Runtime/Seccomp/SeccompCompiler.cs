using System.Text.Json;
using static Unicorn.Runtime.Seccomp.Bpf;

namespace Unicorn.Runtime.Seccomp;

/// <summary>A Docker/OCI seccomp profile (JSON) compiled to classic BPF for this architecture:
/// defaultAction, then each rule's names with their argument conditions (all 64-bit compares,
/// as libseccomp makes them), its includes and excludes (capabilities, architectures, kernel).
/// A name this architecture lacks but another knows is skipped with a warning, as runc does;
/// a name no architecture knows is an error.</summary>
public static class SeccompCompiler
{
    const int Fail = -1; // a jump to the end of the rule's block: its conditions are not met

    sealed record Check(int Index, ulong Value, ulong ValueTwo, string Op);

    public static (byte[] Filter, List<string> Warnings) Compile(string path, ulong capabilities)
    {
        // A start checks a profile in the cmdlet and the engine, then compiles it into the
        // container: one compile for all three, while the file is the same.
        var file = new FileInfo(path);
        var key = (file.FullName, file.Exists ? file.Length : -1, file.Exists ? file.LastWriteTimeUtc : default, capabilities);
        if (Compiled.TryGetValue(key, out var done))
            return (done.Filter, [.. done.Warnings]);
        var result = CompileChecked(path, capabilities);
        if (Compiled.Count >= 16)
            Compiled.Clear();
        Compiled[key] = result;
        return (result.Filter, [.. result.Warnings]);
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<(string, long, DateTime, ulong), (byte[] Filter, List<string> Warnings)> Compiled = new();

    /// <summary>A profile already parsed (an OCI config's inline linux.seccomp); source names it
    /// in messages.</summary>
    public static (byte[] Filter, List<string> Warnings) Compile(JsonElement profile, string source, ulong capabilities) =>
        Checked(source, () => CompileProfile(profile, source, capabilities));

    static (byte[] Filter, List<string> Warnings) CompileChecked(string path, ulong capabilities) =>
        Checked(path, () => CompileProfile(path, capabilities));

    static (byte[] Filter, List<string> Warnings) Checked(string path, Func<(byte[], List<string>)> compile)
    {
        try { return compile(); }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw Invalid(path, $"is not a seccomp profile Unicorn can read: {e.Message}");
        }
        catch (UnicornException e) when (e.ErrorId == "UnknownCapability")
        {
            throw Invalid(path, $"names a capability Unicorn does not know: {e.Message}");
        }
    }

    /// <summary>The profile compiled into the container's directory the first time; that filter
    /// is kept, for its execs and its starts again, whatever becomes of the profile.</summary>
    public static string File(string profile, string containerDir, ulong capabilities)
    {
        var filter = Path.Combine(containerDir, "seccomp.bpf");
        if (!System.IO.File.Exists(filter))
            Files.WriteAtomic(filter, Compile(profile, capabilities).Filter, durable: false); // never half a filter
        return filter;
    }

    static (byte[] Filter, List<string> Warnings) CompileProfile(string path, ulong capabilities)
    {
        JsonElement profile;
        try { profile = JsonDocument.Parse(System.IO.File.ReadAllBytes(path)).RootElement; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw Invalid(path, $"cannot be read as JSON: {e.Message}");
        }
        return CompileProfile(profile, path, capabilities);
    }

    static (byte[] Filter, List<string> Warnings) CompileProfile(JsonElement profile, string path, ulong capabilities)
    {
        var (arch, table, other, archNames) = Host;
        uint defaultErrno = profile.TryGetProperty("defaultErrnoRet", out var de) && de.TryGetUInt32(out var d) ? d : 1;
        uint defaultAction = Action(profile.GetProperty("defaultAction").GetString(), defaultErrno, path);
        var skipped = new SortedSet<string>();
        var p = Prologue(arch).Select(x => (x.Code, (int)x.Jt, (int)x.Jf, x.K)).ToList();

        foreach (var rule in profile.TryGetProperty("syscalls", out var sc) ? sc.EnumerateArray() : default)
        {
            if (!Applies(rule, capabilities, archNames))
                continue;
            uint errno = rule.TryGetProperty("errnoRet", out var er) && er.TryGetUInt32(out var e2) ? e2 : 1; // EPERM, as runc
            uint action = Action(rule.GetProperty("action").GetString(), errno, path);
            var checks = rule.TryGetProperty("args", out var args) && args.ValueKind == JsonValueKind.Array
                ? args.EnumerateArray().Select(a => new Check(a.GetProperty("index").GetInt32(), a.GetProperty("value").GetUInt64(),
                    a.TryGetProperty("valueTwo", out var v2) ? v2.GetUInt64() : 0, a.GetProperty("op").GetString() ?? "")).ToList()
                : [];
            var names = rule.TryGetProperty("names", out var n) ? n.EnumerateArray().Select(x => x.GetString()!).ToList()
                : rule.TryGetProperty("name", out var one) ? [one.GetString()!] : [];
            foreach (var name in names)
            {
                if (!table.TryGetValue(name, out var nr))
                {
                    if (!other.ContainsKey(name) && !SyscallTable.OtherArchitectures.Contains(name))
                        throw new UnicornException("UnknownSyscall", ErrorKind.InvalidArgument,
                            $"The seccomp profile '{path}' names '{name}', which is no system call. Correct the profile.", name);
                    skipped.Add(name);
                    continue;
                }
                p.AddRange(Block((uint)nr, checks, action, path));
            }
        }
        p.Add((RET_K, 0, 0, defaultAction));
        List<string> warnings = skipped.Count == 0 ? [] :
            [$"The seccomp profile '{path}' names calls this architecture does not have; they are skipped: {string.Join(", ", skipped)}."];
        return (Encode(p), warnings);
    }

    /// <summary>One rule for one call: load the number, compare, check each argument (any
    /// failure jumps past the return), return the action.</summary>
    static List<(ushort, int, int, uint)> Block(uint nr, List<Check> checks, uint action, string path)
    {
        var b = new List<(ushort Code, int Jt, int Jf, uint K)> { (LD_W_ABS, 0, 0, NrOffset), (JEQ_K, 0, Fail, nr) };
        foreach (var c in checks)
        {
            if (c.Index is < 0 or > 5)
                throw Invalid(path, $"has an argument index {c.Index}; system calls have 6 (0 to 5).");
            uint lo = ArgLow(c.Index), hi = ArgHigh(c.Index);
            uint vlo = (uint)c.Value, vhi = (uint)(c.Value >> 32), wlo = (uint)c.ValueTwo, whi = (uint)(c.ValueTwo >> 32);
            b.AddRange(c.Op switch
            {
                "SCMP_CMP_EQ" => [(LD_W_ABS, 0, 0, hi), (JEQ_K, 0, Fail, vhi), (LD_W_ABS, 0, 0, lo), (JEQ_K, 0, Fail, vlo)],
                "SCMP_CMP_NE" => [(LD_W_ABS, 0, 0, hi), (JEQ_K, 0, 2, vhi), (LD_W_ABS, 0, 0, lo), (JEQ_K, Fail, 0, vlo)],
                "SCMP_CMP_MASKED_EQ" => [(LD_W_ABS, 0, 0, hi), (ALU_AND_K, 0, 0, vhi), (JEQ_K, 0, Fail, whi),
                    (LD_W_ABS, 0, 0, lo), (ALU_AND_K, 0, 0, vlo), (JEQ_K, 0, Fail, wlo)],
                "SCMP_CMP_GT" => [(LD_W_ABS, 0, 0, hi), (JGT_K, 3, 0, vhi), (JEQ_K, 0, Fail, vhi), (LD_W_ABS, 0, 0, lo), (JGT_K, 0, Fail, vlo)],
                "SCMP_CMP_GE" => [(LD_W_ABS, 0, 0, hi), (JGT_K, 3, 0, vhi), (JEQ_K, 0, Fail, vhi), (LD_W_ABS, 0, 0, lo), (JGE_K, 0, Fail, vlo)],
                "SCMP_CMP_LT" => [(LD_W_ABS, 0, 0, hi), (JGE_K, 0, 3, vhi), (JEQ_K, 0, Fail, vhi), (LD_W_ABS, 0, 0, lo), (JGE_K, Fail, 0, vlo)],
                "SCMP_CMP_LE" => [(LD_W_ABS, 0, 0, hi), (JGE_K, 0, 3, vhi), (JEQ_K, 0, Fail, vhi), (LD_W_ABS, 0, 0, lo), (JGT_K, Fail, 0, vlo)],
                var op => throw Invalid(path, $"has the argument comparison '{op}', which Unicorn does not know."),
            });
        }
        b.Add((RET_K, 0, 0, action));
        // Fail: past the block's last instruction, to the next block.
        return b.Select((x, i) => (x.Code, x.Jt == Fail ? b.Count - i - 1 : x.Jt, x.Jf == Fail ? b.Count - i - 1 : x.Jf, x.K)).ToList();
    }

    static bool Applies(JsonElement rule, ulong caps, string[] archNames)
    {
        bool has(string cap) => Capabilities.Has(caps, cap);
        if (rule.TryGetProperty("includes", out var inc))
        {
            if (inc.TryGetProperty("caps", out var c) && !c.EnumerateArray().All(x => has(x.GetString()!)))
                return false;
            if (inc.TryGetProperty("arches", out var a) && !a.EnumerateArray().Any(x => archNames.Contains(x.GetString())))
                return false;
            if (inc.TryGetProperty("minKernel", out var k) && Version.TryParse(k.GetString(), out var min) && KernelVersion < min)
                return false;
        }
        if (rule.TryGetProperty("excludes", out var exc))
        {
            if (exc.TryGetProperty("caps", out var c) && c.EnumerateArray().Any(x => has(x.GetString()!)))
                return false;
            if (exc.TryGetProperty("arches", out var a) && a.EnumerateArray().Any(x => archNames.Contains(x.GetString())))
                return false;
        }
        return true;
    }

    static Version KernelVersion => Version.TryParse(string.Join('.', Environment.OSVersion.Version.ToString().Split('.').Take(2)), out var v) ? v : new Version(0, 0);

    static uint Action(string? name, uint errno, string path) => name switch
    {
        "SCMP_ACT_ALLOW" => RET_ALLOW,
        "SCMP_ACT_ERRNO" => RET_ERRNO | (errno & 0xffff),
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_TRACE" => RET_TRACE | (errno & 0xffff),
        _ => throw Invalid(path, $"has the action '{name}', which Unicorn does not take (ALLOW, ERRNO, KILL, KILL_PROCESS, TRAP, LOG, TRACE)."),
    };

    static byte[] Encode(List<(ushort Code, int Jt, int Jf, uint K)> p)
    {
        foreach (var x in p.Where(x => x.Jt > 255 || x.Jf > 255))
            throw new UnicornException("InvalidSeccompProfile", ErrorKind.InvalidArgument, "A rule of the seccomp profile has too many argument conditions.", null);
        return Bpf.Encode(p.Select(x => (x.Code, (byte)x.Jt, (byte)x.Jf, x.K)).ToList());
    }

    static UnicornException Invalid(string path, string what) =>
        new("InvalidSeccompProfile", ErrorKind.InvalidArgument, $"The seccomp profile '{path}' {what}", path);
}
