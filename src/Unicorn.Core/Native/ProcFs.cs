using System.Text;

namespace Unicorn.Native;

/// <summary>What the kernel says, read from /proc.</summary>
public static class ProcFs
{
    /// <summary>Field 22 of /proc/pid/stat (start time in clock ticks since boot), or null if
    /// the process is gone. With the pid it names one process; a reused pid has another.</summary>
    public static ulong? StartTime(int pid) => Stat(pid)?.StartTime;

    /// <summary>Is the process pid alive (not a zombie waiting for a reaper) and the same one
    /// that started at startTime?</summary>
    public static bool IsAlive(int pid, ulong startTime) =>
        pid > 0 && Stat(pid) is { } s && s.StartTime == startTime && s.State is not ('Z' or 'X');

    static (char State, ulong StartTime)? Stat(int pid) => StatFields(pid) is { } f && ulong.TryParse(f[22 - 3], out var t) ? (f[0][0], t) : null;

    // The fields of /proc/pid/stat from field 3 (the state) on: field N is [N - 3].
    static string[]? StatFields(int pid)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        // The command name (field 2) is in parentheses and may hold spaces: count from its end.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Length > 22 - 3 ? fields : null;
    }

    /// <summary>The process pid that started at startTime, as the kernel has it: its state
    /// (field 3: R, S, D, T stopped, t traced, Z zombie...) and, once it is a zombie, its exit
    /// code (from field 52, its wait status: the status, or 128+signal). Null if it is gone
    /// (reaped) or the pid names another process.</summary>
    public static (char State, int? ExitCode)? Process(int pid, ulong startTime)
    {
        if (pid <= 0 || StatFields(pid) is not { } f || !ulong.TryParse(f[22 - 3], out var t) || t != startTime)
            return null;
        char state = f[0][0];
        int? code = null;
        if (state is 'Z' or 'X' && f.Length > 52 - 3 && int.TryParse(f[52 - 3], out int status))
            code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
        return (state, code);
    }

    /// <summary>A container's processes as the kernel knows them, whatever any record on disk
    /// says: its supervisors (named comm, holding the file record open) and their children, and
    /// every process whose root directory is root (a container's rootfs: its init and all it
    /// runs, which nothing outside the container can share). Each with its start time.</summary>
    public static List<(int Pid, ulong StartTime, bool IsSupervisor)> ContainerProcesses(string record, string comm, string? root)
    {
        var found = new List<(int, ulong, bool)>();
        bool hasRecord = Libc.TryStat(record, out var file);
        Libc.FileStatus rootDir = default;
        bool hasRoot = root is not null && Libc.TryStat(root, out rootDir);
        if (!hasRecord && !hasRoot)
            return found;
        var all = new List<(int Pid, int Parent, ulong StartTime)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || StatFields(pid) is not { } f
                || !int.TryParse(f[4 - 3], out int parent) || !ulong.TryParse(f[22 - 3], out var start))
                continue;
            all.Add((pid, parent, start));
            if (hasRecord && Comm(pid) == comm && HasOpen(pid, file))
                found.Add((pid, start, true));
            else if (hasRoot && Root(pid) is { } r && r.Device == rootDir.Device && r.Inode == rootDir.Inode)
                found.Add((pid, start, false));
        }
        foreach (var (supervisor, _, _) in found.Where(p => p.Item3).ToList())
            found.AddRange(all.Where(p => p.Parent == supervisor && !found.Any(f => f.Item1 == p.Pid)).Select(p => (p.Pid, p.StartTime, false)));
        return found;
    }

    // The process's root directory; null if it is gone, or not ours to see (another user namespace's).
    static Libc.FileStatus? Root(int pid)
    {
        try { return Libc.TryStat($"/proc/{pid}/root", out var st) ? st : null; }
        catch (NativeException) { return null; }
    }

    static string? Comm(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n'); }
        catch (IOException) { return null; }
    }

    // Does pid have a descriptor on the file? (A process that ends meanwhile has none.)
    static bool HasOpen(int pid, Libc.FileStatus file)
    {
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
                if (Libc.TryStat(fd, out var st) && st.Device == file.Device && st.Inode == file.Inode)
                    return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NativeException) { }
        return false;
    }

    /// <summary>Stopped (SIGSTOP, SIGTSTP) or stopped by a tracer: it runs no code until resumed.</summary>
    public static bool IsStopped(char state) => state is 'T' or 't';

    /// <summary>The mount points in this process's mount namespace, unescaped.</summary>
    public static IReadOnlyList<string> MountPoints()
    {
        var result = new List<string>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4)
                result.Add(Unescape(fields[4]));
        }
        return result;
    }


    // mountinfo writes space, tab, newline and backslash as \ooo octal.
    static string Unescape(string s)
    {
        if (!s.Contains('\\'))
            return s;
        var bytes = new List<byte>();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && IsOctal(s, i + 1))
            {
                bytes.Add(Convert.ToByte(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
                bytes.AddRange(Encoding.UTF8.GetBytes(s[i].ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    static bool IsOctal(string s, int at) =>
        at + 3 <= s.Length && s[at] is >= '0' and <= '7' && s[at + 1] is >= '0' and <= '7' && s[at + 2] is >= '0' and <= '7';
}
