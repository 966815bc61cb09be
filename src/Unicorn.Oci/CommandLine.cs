namespace Unicorn.Oci;

/// <summary>runc's command line (urfave/cli): global flags, the command, its flags, then its
/// positional arguments; flags as --name value, --name=value or -n value; a command's flags end
/// at its first positional argument (so that `exec ID ls -l` keeps -l for ls).</summary>
sealed class CommandLine
{
    readonly Dictionary<string, List<string>> _values = new();
    readonly HashSet<string> _switches = new();

    public string? Command { get; private set; }
    public List<string> Arguments { get; } = new();

    /// <summary>A flag's spellings (--name and its short form), whether it takes a value.</summary>
    public sealed record Flag(string Name, string? Short = null, bool TakesValue = true);

    public static readonly Flag[] GlobalFlags =
    [
        new("root"), new("log"), new("log-format"), new("systemd-cgroup", TakesValue: false), new("debug", TakesValue: false),
        new("criu"), new("rootless"), new("version", "v", TakesValue: false), new("help", "h", TakesValue: false),
    ];

    /// <summary>Each command's flags (runc 1.1's, as podman and containerd pass them).</summary>
    public static readonly Dictionary<string, Flag[]> CommandFlags = new()
    {
        ["create"] = [new("bundle", "b"), new("pid-file"), new("console-socket"), new("preserve-fds"),
            new("no-pivot", TakesValue: false), new("no-new-keyring", TakesValue: false)],
        ["run"] = [new("bundle", "b"), new("pid-file"), new("console-socket"), new("preserve-fds"),
            new("no-pivot", TakesValue: false), new("no-new-keyring", TakesValue: false), new("detach", "d", TakesValue: false),
            new("keep", TakesValue: false)],
        ["start"] = [],
        ["state"] = [],
        ["kill"] = [new("all", "a", TakesValue: false)],
        ["delete"] = [new("force", "f", TakesValue: false)],
        ["exec"] = [new("process", "p"), new("pid-file"), new("detach", "d", TakesValue: false), new("tty", "t", TakesValue: false),
            new("console-socket"), new("preserve-fds"), new("cwd"), new("env", "e"), new("user", "u"), new("additional-gids", "g"),
            new("cap", "c"), new("no-new-privs", TakesValue: false), new("process-label"), new("apparmor"), new("cgroup")],
        ["ps"] = [new("format", "f")],
        ["pause"] = [],
        ["resume"] = [],
        ["update"] = [new("resources", "r"), new("memory"), new("memory-swap"), new("memory-reservation"), new("kernel-memory"),
            new("cpu-shares"), new("cpu-quota"), new("cpu-period"), new("cpuset-cpus"), new("cpuset-mems"), new("pids-limit"),
            new("blkio-weight")],
        ["features"] = [],
        ["spec"] = [new("bundle", "b"), new("rootless", TakesValue: false)],
        ["list"] = [new("format", "f"), new("quiet", "q", TakesValue: false)],
    };

    public static CommandLine Parse(string[] args)
    {
        var line = new CommandLine();
        int i = line.ParseFlags(args, 0, GlobalFlags, stopAtPositional: true);
        if (i < args.Length)
        {
            line.Command = args[i];
            if (!CommandFlags.TryGetValue(line.Command, out var flags))
                throw Usage($"unknown command '{line.Command}': see 'unicorn --help'");
            i = line.ParseFlags(args, i + 1, flags, stopAtPositional: true);
            line.Arguments.AddRange(args[i..]);
        }
        return line;
    }

    /// <summary>Reads flags from args[i] on; returns where the positional arguments begin.</summary>
    int ParseFlags(string[] args, int i, Flag[] flags, bool stopAtPositional)
    {
        for (; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg == "--")
                return i + 1;
            if (!arg.StartsWith('-') || arg == "-")
            {
                if (stopAtPositional)
                    return i;
                continue;
            }
            var text = arg.TrimStart('-');
            string? inline = null;
            if (text.IndexOf('=') is var eq and > 0)
                (text, inline) = (text[..eq], text[(eq + 1)..]);
            var flag = flags.FirstOrDefault(f => f.Name == text || f.Short == text)
                ?? throw Usage($"flag provided but not defined: -{text}");
            if (!flag.TakesValue)
            {
                // --flag=false turns a switch off, as urfave/cli takes it.
                if (inline is null || bool.TryParse(inline, out var on) && on)
                    _switches.Add(flag.Name);
                continue;
            }
            var value = inline ?? (i + 1 < args.Length ? args[++i] : throw Usage($"flag needs an argument: -{text}"));
            if (!_values.TryGetValue(flag.Name, out var list))
                _values[flag.Name] = list = new();
            list.Add(value);
        }
        return i;
    }

    public static UnicornException Usage(string message) => new("OciUsage", ErrorKind.InvalidArgument, message, null);

    public bool Has(string name) => _switches.Contains(name);

    public string? Value(string name) => _values.TryGetValue(name, out var v) ? v[^1] : null;

    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out var v) ? v : [];

    public int Int(string name, int fallback = 0) =>
        Value(name) is not { } v ? fallback
        : int.TryParse(v, out var n) && n >= 0 ? n : throw Usage($"invalid value \"{v}\" for flag -{name}: give a number");

    /// <summary>The container id: the first positional argument, required.</summary>
    public string Id => Arguments.Count > 0 ? Arguments[0] : throw Usage($"\"{Command}\" requires a container id");
}
