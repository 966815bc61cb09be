using System.Text.RegularExpressions;
using Unicorn.Cgroups;

namespace Unicorn.Runtime;

/// <summary>What Start-UnicornContainer asks for. <see cref="Validate"/> checks it all before
/// anything is created.</summary>
public sealed partial class StartOptions
{
    /// <summary>The command; null for the image's (Entrypoint and Cmd), or /bin/sh.</summary>
    public string[]? Command { get; set; }
    public string? Name { get; set; }
    public string? Hostname { get; set; }
    public IDictionary<string, string> Environment { get; set; } = new Dictionary<string, string>();
    /// <summary>Null for the image's WorkingDir, or /.</summary>
    public string? WorkingDirectory { get; set; }
    /// <summary>user[:group], names or numbers; null for the image's User, or root.</summary>
    public string? User { get; set; }
    /// <summary>Supplementary groups besides those /etc/group gives the user (names or gids).</summary>
    public string[] GroupAdd { get; set; } = [];
    public IList<string> Volumes { get; set; } = [];
    /// <summary>An image of the store (name or id): a new rootfs over it, which the container owns.</summary>
    public string? Image { get; set; }
    /// <summary>A rootfs made by New-UnicornRootfs; the container takes it over.</summary>
    public string? RootfsId { get; set; }
    /// <summary>Or a plain directory used as it is (not copied, not removed).</summary>
    public string? RootfsPath { get; set; }
    /// <summary>Also pass the output on to the caller's stdout and stderr (it always goes to
    /// the container's log).</summary>
    public bool Attach { get; set; }
    /// <summary>A tiny init as pid 1 that runs the command, reaps orphans, forwards signals.</summary>
    public bool Init { get; set; }
    /// <summary>Resource limits, in force before the command's first instruction.</summary>
    public CgroupLimits Limits { get; set; } = new();
    /// <summary>The command on a pseudo-terminal of the container's, relayed to the caller's
    /// terminal (stdin included); implies Attach.</summary>
    public bool Interactive { get; set; }

    /// <summary>The log is rotated (container.log -> container.log.1 -> ...) before it would
    /// pass this many bytes; 0: never rotated, it grows without bound.</summary>
    public long LogMaxSize { get; set; } = DefaultLogMaxSize;
    /// <summary>The most log files kept, container.log and its rotated ones together.</summary>
    public int LogMaxFiles { get; set; } = DefaultLogMaxFiles;
    public const long DefaultLogMaxSize = 10L << 20;
    public const int DefaultLogMaxFiles = 3;
    /// <summary>The smallest rotated size: a record may be 8 KiB and more.</summary>
    public const long MinLogMaxSize = 64L << 10;

    /// <summary>Removed, with all that was made for it, once it has ended (Docker's --rm).</summary>
    public bool AutoRemove { get; set; }
    /// <summary>With AutoRemove: the command (program and arguments, given the container's id)
    /// that removes the container, which its supervisor runs once the end is recorded (Podman's
    /// exit command), so that nothing of it stays until a Unicorn command next looks.</summary>
    public Func<string, string[]>? ExitCommand { get; set; }
    /// <summary>What its supervisor does when the command ends: start it again or not.</summary>
    public RestartPolicy Restart { get; set; } = RestartPolicy.No;

    /// <summary>Capabilities, no_new_privs, seccomp, masked paths, read-only root, rlimits.</summary>
    public SecurityOptions Security { get; set; } = new();

    /// <summary>An OCI bundle (a directory with config.json): the container is what its config
    /// says (Start-UnicornContainer -Bundle).</summary>
    public string? Bundle { get; set; }

    /// <summary>A bridge to connect to before the command starts, or null.</summary>
    public Network.BridgeOptions? Network { get; set; }

    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    [GeneratedRegex("^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")]
    private static partial Regex HostnamePattern();

    [GeneratedRegex("^[^=\0]+$")]
    private static partial Regex EnvNamePattern();

    static UnicornException Invalid(string id, string message, object? target) => new(id, ErrorKind.InvalidArgument, message, target);

    public void Validate()
    {
        if (Name is not null && !ContainerName.IsValid(Name))
            throw Invalid("InvalidContainerName", $"'{Name}' is not a valid container name: use letters, digits, '_', '.' and '-', starting with a letter or digit (at most 128).", Name);
        if (Hostname is not null && !HostnamePattern().IsMatch(Hostname))
            throw Invalid("InvalidHostname", $"'{Hostname}' is not a valid hostname: use letters, digits and '-' (at most 63), not starting or ending with '-'.", Hostname);
        ValidateProcess(Command ?? ["/bin/sh"], Environment, WorkingDirectory);
        ValidateLog(LogMaxSize, LogMaxFiles);
        if (User is not null && (User.Length == 0 || User.Contains('\0') || User.Split(':').Any(p => p.Length == 0) || User.Count(c => c == ':') > 1))
            throw Invalid("InvalidUser", $"'{User}' is not a user: give user or user:group, by name or number (such as 1000:1000 or nobody).", User);
        if (Image is not null && (RootfsId is not null || RootfsPath is not null))
            throw Invalid("ImageAndRootfs", "Give either an image or a root filesystem (a piped rootfs or -RootfsPath), not both.", Image);
        if (AutoRemove && Restart.Mode != RestartMode.No)
            throw Invalid("AutoRemoveAndRestart", $"-Rm and -Restart {Restart} exclude each other: a container removed when it ends cannot be started again. Drop one of them.", Restart);
        if (Interactive && Restart.Mode != RestartMode.No)
            throw Invalid("InteractiveAndRestart", $"-Interactive and -Restart {Restart} exclude each other: a restarted command has no terminal to come back to. Use -Wait or -Detach.", Restart);
        Limits.Validate();
        Network?.Validate();
        Security.Validate();
        foreach (var v in Volumes)
            if (v.Contains('\0'))
                throw Invalid("InvalidCharacter", "A volume holds a NUL character.", v);
        ParseVolumes();
    }

    /// <summary>The log's rotation: 0 (never) or at least 64 KiB per file, 1 to 1000 files.</summary>
    public static void ValidateLog(long maxSize, int maxFiles)
    {
        if (maxSize != 0 && maxSize < MinLogMaxSize)
            throw Invalid("InvalidLogMaxSize", $"The log size {maxSize} is too small: give at least 64KB (a record can be over 8 KiB), or 0 for a log that is never rotated.", maxSize);
        if (maxFiles is < 1 or > 1000)
            throw Invalid("InvalidLogMaxFiles", $"The number of log files {maxFiles} is out of range: give 1 to 1000 (1 keeps only container.log, cut back to empty when it is full).", maxFiles);
    }

    /// <summary>What a container's process and an exec'd one must both be: a command, valid
    /// environment names, strings a program can receive, an absolute working directory.</summary>
    public static void ValidateProcess(string[] command, IDictionary<string, string> environment, string? workingDirectory)
    {
        if (command.Length == 0 || string.IsNullOrEmpty(command[0]))
            throw Invalid("CommandEmpty", "The command is empty. Give -Command the program to run, e.g. -Command /bin/sh, -c, 'echo hi'.", null);
        if (workingDirectory is not null && (!workingDirectory.StartsWith('/') || HasDotDot(workingDirectory)))
            throw Invalid("InvalidWorkingDirectory", $"The working directory '{workingDirectory}' must be an absolute path inside the container, without '..'.", workingDirectory);
        foreach (var key in environment.Keys)
            if (!EnvNamePattern().IsMatch(key))
                throw Invalid("InvalidEnvironmentName", $"'{key}' is not a valid environment variable name: it must be non-empty and hold no '='.", key);
        foreach (var s in command.Concat(environment.Values))
            if (s.Contains('\0'))
                throw Invalid("InvalidCharacter", "A command argument or environment value holds a NUL character, which no program can receive.", s);
    }

    public VolumeMount[] ParseVolumes() => Volumes.Select(ParseVolume).ToArray();

    /// <summary>host:container[:ro|:rw]. The host path must exist; the container path must be
    /// absolute and may not climb out with '..'.</summary>
    public static VolumeMount ParseVolume(string spec)
    {
        var parts = spec.Split(':');
        bool readOnly = false;
        if (parts.Length == 3 && parts[2] is "ro" or "rw")
            readOnly = parts[2] == "ro";
        else if (parts.Length != 2)
            throw Invalid("InvalidVolume", $"The volume '{spec}' is not host-path:container-path[:ro|:rw], e.g. /srv/data:/data:ro.", spec);
        var (source, destination) = (parts[0], parts[1]);
        if (!source.StartsWith('/'))
            throw Invalid("InvalidVolume", $"The host path of the volume '{spec}' must be absolute.", spec);
        if (!File.Exists(source) && !Directory.Exists(source))
            throw new UnicornException("VolumeSourceNotFound", ErrorKind.ObjectNotFound, $"The host path '{source}' of the volume '{spec}' does not exist. Create it first.", spec);
        if (!destination.StartsWith('/') || destination == "/" || HasDotDot(destination))
            throw Invalid("InvalidVolume", $"The container path of the volume '{spec}' must be absolute, not '/', and without '..'.", spec);
        return new VolumeMount(Path.GetFullPath(source), destination, readOnly);
    }

    static bool HasDotDot(string path) => path.Split('/').Contains("..");
}
