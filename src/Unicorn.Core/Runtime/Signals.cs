namespace Unicorn.Runtime;

/// <summary>Signal names and numbers, as Stop-UnicornContainer takes them.</summary>
public static class Signals
{
    public const int SIGKILL = 9, SIGTERM = 15;

    static readonly string[] Names =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
        "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];

    /// <summary>The names a user may give (TERM; SIGTERM works too).</summary>
    public static IEnumerable<string> All => Names.Skip(1);

    /// <summary>TERM, SIGTERM, sigterm or 15; real-time signals by number (34-64).</summary>
    public static int Parse(string text)
    {
        var t = text.Trim();
        if (int.TryParse(t, out int n) && n is >= 1 and <= 64 && n is not 32 and not 33)
            return n;
        if (t.StartsWith("SIG", StringComparison.OrdinalIgnoreCase))
            t = t[3..];
        int i = Array.FindIndex(Names, name => name.Equals(t, StringComparison.OrdinalIgnoreCase));
        if (i > 0)
            return i;
        throw new UnicornException("InvalidSignal", ErrorKind.InvalidArgument,
            $"'{text}' is not a signal. Give a name such as TERM, KILL, INT or HUP (SIGTERM works too), or a number from 1 to 64.", text);
    }

    public static string Name(int signal) => signal > 0 && signal < Names.Length ? "SIG" + Names[signal] : signal.ToString();
}
