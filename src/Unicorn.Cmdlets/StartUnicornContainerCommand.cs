using System.Collections;
using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsLifecycle.Start, "UnicornContainer", SupportsShouldProcess = true, DefaultParameterSetName = "Default")]
[OutputType(typeof(Container))]
public sealed class StartUnicornContainerCommand : LimitsCmdlet
{
    readonly CancellationTokenSource _stop = new();

    /// <summary>An image of the store, by name or id: a new rootfs over it, which the container
    /// owns (removed with it).</summary>
    [Parameter(Position = 0, ParameterSetName = "Default")]
    [ArgumentCompleter(typeof(ImageCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Image { get; set; }

    /// <summary>A rootfs from New-UnicornRootfs; the container takes it over. In the default set,
    /// so that the words after the cmdlet are the command when a rootfs is piped in.</summary>
    [Parameter(ValueFromPipeline = true, ParameterSetName = "Default")]
    public Rootfs? InputObject { get; set; }

    /// <summary>A directory used as the root filesystem as it is.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "RootfsPath")]
    [ValidateNotNullOrEmpty]
    public string? RootfsPath { get; set; }

    /// <summary>The command; the image's (Entrypoint and Cmd), or /bin/sh, when omitted. The
    /// arguments after the image (or from the first, with a piped rootfs or -RootfsPath).</summary>
    [Parameter(Position = 1, ValueFromRemainingArguments = true, ParameterSetName = "Default")]
    [Parameter(Position = 0, ValueFromRemainingArguments = true, ParameterSetName = "RootfsPath")]
    [ValidateNotNullOrEmpty]
    public string[]? Command { get; set; }

    /// <summary>Remove the container, and all made for it, once it has ended (docker run --rm).</summary>
    [Parameter]
    public SwitchParameter Rm { get; set; }

    /// <summary>No, OnFailure[:N], Always or UnlessStopped: its supervisor starts the command again.</summary>
    [Parameter]
    [ArgumentCompletions("No", "OnFailure", "OnFailure:3", "Always", "UnlessStopped")]
    [ValidateNotNullOrEmpty]
    public string? Restart { get; set; }

    [Parameter]
    [ValidatePattern("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")]
    public string? Name { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Hostname { get; set; }

    [Parameter]
    [Alias("Env")]
    public Hashtable? Environment { get; set; }

    /// <summary>The image's WorkingDir, or /, when omitted.</summary>
    [Parameter]
    [Alias("WorkDir")]
    [ValidateNotNullOrEmpty]
    public string? WorkingDirectory { get; set; }

    /// <summary>user[:group], by name (from the container's /etc/passwd and /etc/group) or number.</summary>
    [Parameter]
    [Alias("u")]
    [ValidateNotNullOrEmpty]
    public string? User { get; set; }

    /// <summary>host:container[:ro|:rw] bind mounts.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] Volume { get; set; } = [];

    /// <summary>Wait for the command to end, its output on the console, and return the
    /// container with its exit code.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>Return at once; the container runs on its own (the default without -Wait).</summary>
    [Parameter]
    public SwitchParameter Detach { get; set; }

    /// <summary>Run the command on a terminal of its own, connected to this console (keys,
    /// Ctrl+C and window size go to it), and wait for it to end.</summary>
    [Parameter]
    [Alias("it")]
    public SwitchParameter Interactive { get; set; }

    /// <summary>A tiny init as pid 1 that runs the command, reaps zombies and forwards signals.</summary>
    [Parameter]
    public SwitchParameter Init { get; set; }

    /// <summary>A bridge to connect to before the command starts (made if missing).</summary>
    [Parameter]
    [ArgumentCompleter(typeof(BridgeCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Bridge { get; set; }

    /// <summary>A new bridge's subnets (CIDR), with -Bridge.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] Subnet { get; set; } = [];

    /// <summary>The container's address on the bridge.</summary>
    [Parameter]
    [Alias("IP")]
    public System.Net.IPAddress? IPAddress { get; set; }

    /// <summary>hostPort:containerPort[/tcp|udp]; implies the default bridge without -Bridge.</summary>
    [Parameter]
    [Alias("p")]
    [ValidateNotNullOrEmpty]
    public string[] Publish { get; set; } = [];

    /// <summary>More names the container answers to on its bridge; implies the default bridge without -Bridge.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] NetworkAlias { get; set; } = [];

    /// <summary>Supplementary groups for the command's user, by name or gid (Docker's --group-add).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] GroupAdd { get; set; } = [];

    /// <summary>Capabilities added to Docker's default set (names with or without CAP_, or ALL).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] CapAdd { get; set; } = [];

    /// <summary>Capabilities dropped from the set (or ALL).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] CapDrop { get; set; } = [];

    /// <summary>Every capability, no seccomp filter, /proc and /sys unmasked.</summary>
    [Parameter]
    public SwitchParameter Privileged { get; set; }

    /// <summary>Leave no_new_privs off: setuid binaries and file capabilities work.</summary>
    [Parameter]
    public SwitchParameter AllowNewPrivileges { get; set; }

    /// <summary>Default (the built-in filter) or Unconfined.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SeccompProfile { get; set; }

    /// <summary>A read-only root filesystem.</summary>
    [Parameter]
    public SwitchParameter ReadOnly { get; set; }

    /// <summary>Paths in the container that get a fresh tmpfs (writable with -ReadOnly too).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] Tmpfs { get; set; } = [];

    /// <summary>Resource limits: name=soft[:hard], such as nofile=1024:2048.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] Ulimit { get; set; } = [];

    /// <summary>Rotate the log before it passes this many bytes (10MB by default); 0: never.</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long LogMaxSize { get; set; } = StartOptions.DefaultLogMaxSize;

    /// <summary>The most log files kept, the current one and the rotated ones (3 by default).</summary>
    [Parameter]
    [ValidateRange(1, 1000)]
    public int LogMaxFiles { get; set; } = StartOptions.DefaultLogMaxFiles;

    protected override void ProcessRecord()
    {
        Network.BridgeOptions? network = null;
        if (Bridge is not null || Publish.Length > 0 || Subnet.Length > 0 || IPAddress is not null || NetworkAlias.Length > 0)
            OrStop(() => network = BridgeParameters.Options(Bridge ?? Network.BridgeNetwork.DefaultBridge, Subnet, IPAddress, Publish, null, NetworkAlias));
        // With a piped rootfs there is no image: the first word is the command's.
        var (image, command) = InputObject is not null && Image is not null ? (null, [Image, .. Command ?? []]) : (Image, Command is { Length: > 0 } ? Command : null);
        RestartPolicy restart = RestartPolicy.No;
        if (Restart is not null)
            OrStop(() => restart = RestartPolicy.Parse(Restart));
        var options = new StartOptions
        {
            Image = image,
            AutoRemove = Rm,
            Restart = restart,
            Command = command,
            Name = Name,
            Hostname = Hostname,
            WorkingDirectory = WorkingDirectory,
            User = User,
            GroupAdd = GroupAdd,
            Environment = ToDictionary(Environment),
            Volumes = Volume.Select(ResolveVolumeSource).ToList(),
            Attach = Wait,
            Init = Init,
            Interactive = Interactive,
            Limits = Limits,
            Network = network,
            LogMaxSize = LogMaxSize,
            LogMaxFiles = LogMaxFiles,
            Security = new SecurityOptions
            {
                CapAdd = CapAdd, CapDrop = CapDrop, Privileged = Privileged, AllowNewPrivileges = AllowNewPrivileges,
                // A profile's path is relative to the PowerShell location, like -Volume's.
                SeccompProfile = SeccompProfile is null || SeccompProfile.Equals("default", StringComparison.OrdinalIgnoreCase)
                    || SeccompProfile.Equals("unconfined", StringComparison.OrdinalIgnoreCase) ? SeccompProfile : FileSystemPath(SeccompProfile),
                ReadOnly = ReadOnly, Tmpfs = Tmpfs, Ulimits = Ulimit,
            },
        };
        // A profile is read now, so that what it names and this machine lacks is said before anything starts.
        OrStop(() => options.Security.Validate());
        foreach (var warning in options.Security.ProfileWarnings)
            WriteWarning(warning);
        if (Detach && (Wait || Interactive))
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-Detach excludes -Wait and -Interactive: wait for the container, or let it run on its own."),
                "WaitAndDetach", ErrorCategory.InvalidArgument, null));
        if (Interactive) // refused before anything is made: with no terminal it would wait forever
            OrStop(() => ContainerEngine.RequireTerminal("-Interactive", "drop -Interactive (-Wait waits for the container and shows its output)"));
        var target = InputObject?.Path ?? (RootfsPath is not null ? FileSystemPath(RootfsPath) : image is not null ? $"a new rootfs of the image {image}" : "a new default rootfs");
        if (!ShouldProcess(target, $"Start container running '{(command is null ? "the image's command" : string.Join(' ', command))}'"))
            return;

        OrStop(() =>
        {
            options.RootfsPath = RootfsPath is null ? null : FileSystemPath(RootfsPath);
            options.RootfsId = InputObject?.Id;
            using var started = Engine.Start(options, Verbose);
            WriteObject(Wait || Interactive ? started.WaitForExit(_stop.Token) : started.Container);
        });
    }

    // A relative host path in a volume is relative to the current PowerShell location.
    string ResolveVolumeSource(string spec)
    {
        int colon = spec.IndexOf(':');
        if (colon <= 0 || spec.StartsWith('/'))
            return spec;
        return FileSystemPath(spec[..colon]) + spec[colon..];
    }

    protected override void StopProcessing() => _stop.Cancel();
}
