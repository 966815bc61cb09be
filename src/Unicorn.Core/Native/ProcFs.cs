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
