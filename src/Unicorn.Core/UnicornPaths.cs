namespace Unicorn;

/// <summary>Where the engine keeps things. Runtime state (gone after a reboot) under the
/// state root; images, root filesystems and logs under the data root. Both move with
/// environment variables, so tests and real use never meet.</summary>
public sealed record UnicornPaths(string StateRoot, string DataRoot)
{
    public const string StateRootVariable = "UNICORN_STATE_ROOT";
    public const string DataRootVariable = "UNICORN_DATA_ROOT";

    public static UnicornPaths FromEnvironment() => new(
        Environment.GetEnvironmentVariable(StateRootVariable) is { Length: > 0 } s ? Path.GetFullPath(s) : "/run/unicorn",
        Environment.GetEnvironmentVariable(DataRootVariable) is { Length: > 0 } d ? Path.GetFullPath(d) : "/var/lib/unicorn");

    public string Containers => Path.Combine(StateRoot, "containers");
    public string ContainerDir(string id) => Path.Combine(Containers, id);
    /// <summary>A container's config.json: a container exists once it has this, its record
    /// (written in its start's first locked step); a directory without it is a crash's leftover.</summary>
    public string ContainerRecord(string id) => Path.Combine(ContainerDir(id), "config.json");
    public string RootfsRoot => Path.Combine(DataRoot, "rootfs");
    public string RootfsDir(string id) => Path.Combine(RootfsRoot, id);
    public string Images => Path.Combine(DataRoot, "images");
    public string ContainerDataDir(string id) => Path.Combine(DataRoot, "containers", id);
    public string LogFile(string id) => Path.Combine(ContainerDataDir(id), "container.log");
    public string LockFile => Path.Combine(StateRoot, "lock");

    /// <summary>These paths, with both roots made (or, from an older version, changed) to 0700:
    /// they hold image layers with setuid files and device nodes, and containers' configs with
    /// their environment's secrets, which no other host user may reach (CVE-2021-41091).
    /// Checked once per process and root.</summary>
    public UnicornPaths Private()
    {
        foreach (var root in (string[])[StateRoot, DataRoot])
        {
            if (Secured.ContainsKey(root))
                continue;
            const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            if (Directory.Exists(root))
            {
                if ((File.GetUnixFileMode(root) & ~owner) != 0)
                    File.SetUnixFileMode(root, owner);
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(root)!);
                Directory.CreateDirectory(root, owner);
            }
            Secured[root] = true;
        }
        return this;
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Secured = new();
}
