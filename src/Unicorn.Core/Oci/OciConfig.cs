using System.Text.Json;
using Unicorn.Cgroups;
using Unicorn.Runtime;

namespace Unicorn.Oci;

/// <summary>process: what runs, as whom, confined how (the container's init, or an exec's
/// --process file).</summary>
public sealed record OciProcess
{
    public bool Terminal { get; init; }
    public OciConsoleSize? ConsoleSize { get; init; }
    public OciUser User { get; init; } = new();
    public IReadOnlyList<string>? Args { get; init; }
    /// <summary>Windows only; refused.</summary>
    public string? CommandLine { get; init; }
    public IReadOnlyList<string>? Env { get; init; }
    public string? Cwd { get; init; }
    public OciCapabilities? Capabilities { get; init; }
    public IReadOnlyList<OciRlimit>? Rlimits { get; init; }
    public bool NoNewPrivileges { get; init; }
    public string? ApparmorProfile { get; init; }
    public int? OomScoreAdj { get; init; }
    public string? SelinuxLabel { get; init; }
    public JsonElement? IoPriority { get; init; }
    public JsonElement? Scheduler { get; init; }

    public static OciProcess From(JsonFields f) => new()
    {
        Terminal = f.Bool("terminal"),
        ConsoleSize = f.Object("consoleSize", OciConsoleSize.From),
        User = f.Object("user", OciUser.From) ?? new(),
        Args = f.Strings("args"),
        CommandLine = f.String("commandLine"),
        Env = f.Strings("env"),
        Cwd = f.String("cwd"),
        Capabilities = f.Object("capabilities", OciCapabilities.From),
        Rlimits = f.Objects("rlimits", OciRlimit.From),
        NoNewPrivileges = f.Bool("noNewPrivileges"),
        ApparmorProfile = f.String("apparmorProfile"),
        OomScoreAdj = (int?)f.Signed("oomScoreAdj", int.MinValue, int.MaxValue),
        SelinuxLabel = f.String("selinuxLabel"),
        IoPriority = f.Raw("ioPriority"),
        Scheduler = f.Raw("scheduler"),
    };

    /// <summary>An exec's process file (runc exec --process), read and checked like a config's process.</summary>
    public static OciProcess Load(string path)
    {
        var process = OciConfig.Read(path, From, "process file");
        OciValidation.Process(process, "");
        return process;
    }
}

/// <summary>A bundle's config.json (runtime-spec 1.1). Unknown properties are ignored, as the
/// spec asks; a property it defines that Unicorn cannot honour is an error (OciUnsupported),
/// never silently dropped, when dropping it would weaken the confinement or change what runs.</summary>
public sealed record OciConfig
{
    public string OciVersion { get; init; } = "";
    public OciProcess? Process { get; init; }
    public OciRoot? Root { get; init; }
    public string? Hostname { get; init; }
    public string? Domainname { get; init; }
    public IReadOnlyList<OciMount>? Mounts { get; init; }
    public OciHooks? Hooks { get; init; }
    public Dictionary<string, string>? Annotations { get; init; }
    public OciLinux? Linux { get; init; }

    public static OciConfig From(JsonFields f) => new()
    {
        OciVersion = f.String("ociVersion") ?? "",
        Process = f.Object("process", OciProcess.From),
        Root = f.Object("root", OciRoot.From),
        Hostname = f.String("hostname"),
        Domainname = f.String("domainname"),
        Mounts = f.Objects("mounts", OciMount.From),
        Hooks = f.Object("hooks", OciHooks.From),
        Annotations = f.StringMap("annotations"),
        Linux = f.Object("linux", OciLinux.From),
    };

    /// <summary>The spec version written by <see cref="Default"/> and the newest one read.</summary>
    public const string SpecVersion = "1.1.0";

    /// <summary>Reads and checks &lt;bundle&gt;/config.json: everything a start needs is there,
    /// and nothing is asked that Unicorn would not do.</summary>
    public static OciConfig Load(string bundleDir)
    {
        var config = Read(Path.Combine(bundleDir, "config.json"), From, "config");
        OciValidation.Config(config, bundleDir);
        return config;
    }

    internal static T Read<T>(string path, Func<JsonFields, T> read, string what)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UnicornException("OciConfigNotFound", ErrorKind.ObjectNotFound,
                $"There is no OCI {what} at '{path}'. Give the bundle directory that holds config.json (runc spec writes one).", path, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UnicornException("OciConfigNotFound", ErrorKind.ReadError, $"The OCI {what} '{path}' cannot be read: {e.Message}", path, e);
        }
        return Parse(bytes, read, what, path);
    }

    /// <summary>A document's bytes as type; source names where they came from in the error.</summary>
    internal static T Parse<T>(byte[] bytes, Func<JsonFields, T> read, string what, string path)
    {
        try
        {
            return JsonFields.Parse(bytes, read);
        }
        catch (JsonException e)
        {
            var where = e.Path is { Length: > 2 } p ? p[2..] + ": " : "";
            throw new UnicornException("OciConfigInvalid", ErrorKind.InvalidArgument,
                $"{where}the OCI {what} '{path}' is not valid runtime-spec JSON: {e.Message}", path, e);
        }
    }

    /// <summary>The config as runtime-spec JSON (camelCase, null fields left out).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, OciJson.Default.OciConfig);

    /// <summary>The container's cgroup from linux.cgroupsPath: "/a/b/c" (or "a/b/c") is the
    /// cgroup c under the parent a/b in each hierarchy; none is the id under Unicorn's parent
    /// (UNICORN_CGROUP_PARENT, default "unicorn"). Systemd's "slice:prefix:name" form is refused.</summary>
    public (string Parent, string Name) CgroupPath(string id)
    {
        var path = Linux?.CgroupsPath;
        if (string.IsNullOrEmpty(path))
            return (CgroupManager.DefaultParent(), id);
        if (path.Contains(':'))
            throw new UnicornException("OciSystemdCgroup", ErrorKind.NotInstalled,
                $"linux.cgroupsPath: '{path}' is a systemd cgroup (slice:prefix:name), which needs systemd, which this machine does not run. Give a cgroupfs path such as /unicorn/{id} (podman: --cgroup-manager=cgroupfs; containerd: SystemdCgroup = false).", path);
        var parts = path.Trim('/').Split('/');
        if (parts.Any(p => p is "" or "." or ".." || !p.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@' or '+')))
            throw new UnicornException("OciConfigInvalid", ErrorKind.InvalidArgument,
                $"linux.cgroupsPath: '{path}' is not a cgroup path: give names of letters, digits, '-', '_', '.', '@' or '+' joined by '/', such as /unicorn/{id} (no '..', no empty names).", path);
        return (string.Join('/', parts[..^1]), parts[^1]);
    }

    /// <summary>runc's default spec (what `unicorn spec` writes), with Docker's capabilities and
    /// runc's masked and read-only paths: sh on a terminal, in new pid, network, ipc, uts and
    /// mount namespaces, root read-only, every device denied but the defaults.</summary>
    public static OciConfig Default()
    {
        IReadOnlyList<string> caps = [.. SecurityOptions.DefaultCapabilities.Select(c => "CAP_" + c)];
        return new OciConfig
        {
            OciVersion = SpecVersion,
            Process = new OciProcess
            {
                Terminal = true,
                User = new OciUser(),
                Args = ["sh"],
                Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                Cwd = "/",
                Capabilities = new OciCapabilities { Bounding = caps, Effective = caps, Permitted = caps },
                Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Hard = 1024, Soft = 1024 }],
                NoNewPrivileges = true,
            },
            Root = new OciRoot { Path = "rootfs", Readonly = true },
            Hostname = "unicorn",
            Mounts =
            [
                .. SpecFile.DefaultMounts,
                new OciMount { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = ["nosuid", "noexec", "nodev", "relatime", "ro"] },
            ],
            Linux = new OciLinux
            {
                Resources = new LinuxResources { Devices = [new OciDeviceCgroup { Allow = false, Access = "rwm" }] },
                Namespaces = [.. new[] { "pid", "network", "ipc", "uts", "mount" }.Select(t => new OciNamespace { Type = t })],
                MaskedPaths = SecurityOptions.MaskedPaths,
                ReadonlyPaths = SecurityOptions.ReadOnlyPaths,
            },
        };
    }
}
