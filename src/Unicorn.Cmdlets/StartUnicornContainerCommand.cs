using System.Collections;
using System.Management.Automation;
using Unicorn.Runtime;

namespace Unicorn.Commands;

[Cmdlet(VerbsLifecycle.Start, "UnicornContainer", SupportsShouldProcess = true, DefaultParameterSetName = New)]
[OutputType(typeof(Container))]
public sealed class StartUnicornContainerCommand : LimitsCmdlet
{
    readonly CancellationTokenSource _stop = new();

    // A new container (on an image or a piped rootfs, or on a directory), or one that has
    // ended, started again (by name or id, or piped in), as Start-Service starts a service.
    const string New = "Default", AtPath = "RootfsPath", ById = "Id", Piped = "Container", FromBundle = "Bundle";

    /// <summary>A container that has ended, started again: names, ids or unique id prefixes.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ById)]
    [Alias("ContainerId")]
    [ArgumentCompleter(typeof(ContainerCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Id { get; set; } = [];

    /// <summary>An OCI bundle: a directory with a config.json (runtime-spec 1.1) and the root it
    /// names, run as its config says (the command, mounts, confinement and limits), supervised
    /// and logged like any container.</summary>
    [Parameter(Mandatory = true, ParameterSetName = FromBundle)]
    [ValidateNotNullOrEmpty]
    public string? Bundle { get; set; }

    /// <summary>Containers that have ended (from Get-UnicornContainer), started again.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = Piped)]
    [ValidateNotNull]
    public Container[] Container { get; set; } = [];

    /// <summary>An image of the store, by name or id: a new rootfs over it, which the container
    /// owns (removed with it).</summary>
    [Parameter(Position = 0, ParameterSetName = New)]
    [ArgumentCompleter(typeof(ImageCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Image { get; set; }

    /// <summary>A rootfs from New-UnicornRootfs; the container takes it over. In the default set,
    /// so that the words after the cmdlet are the command when a rootfs is piped in.</summary>
    [Parameter(ValueFromPipeline = true, ParameterSetName = New)]
    public Rootfs? InputObject { get; set; }

    /// <summary>A directory used as the root filesystem as it is.</summary>
    [Parameter(Mandatory = true, ParameterSetName = AtPath)]
    [ValidateNotNullOrEmpty]
    public string? RootfsPath { get; set; }

    /// <summary>The command; the image's (Entrypoint and Cmd), or /bin/sh, when omitted. The
    /// arguments after the image (or from the first, with a piped rootfs or -RootfsPath).</summary>
    [Parameter(Position = 1, ValueFromRemainingArguments = true, ParameterSetName = New)]
    [Parameter(Position = 0, ValueFromRemainingArguments = true, ParameterSetName = AtPath)]
    [ValidateNotNullOrEmpty]
    public string[]? Command { get; set; }

    /// <summary>Remove the container, and all made for it, once it has ended (docker run --rm).</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Parameter(ParameterSetName = FromBundle)]
    public SwitchParameter Rm { get; set; }

    /// <summary>No, OnFailure[:N], Always or UnlessStopped: its supervisor starts the command again.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Parameter(ParameterSetName = FromBundle)]
    [ArgumentCompletions("No", "OnFailure", "OnFailure:3", "Always", "UnlessStopped")]
    [ValidateNotNullOrEmpty]
    public string? Restart { get; set; }

    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Parameter(ParameterSetName = FromBundle)]
    [ValidatePattern(ContainerName.Pattern)]
    public string? Name { get; set; }

    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [ValidateNotNullOrEmpty]
    public string? Hostname { get; set; }

    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Alias("Env")]
    public Hashtable? Environment { get; set; }

    /// <summary>The image's WorkingDir, or /, when omitted.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Alias("WorkDir")]
    [ValidateNotNullOrEmpty]
    public string? WorkingDirectory { get; set; }

    /// <summary>user[:group], by name (from the container's /etc/passwd and /etc/group) or number.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Alias("u")]
    [ValidateNotNullOrEmpty]
    public string? User { get; set; }

    /// <summary>host:container[:ro|:rw] bind mounts.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
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
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Alias("it")]
    public SwitchParameter Interactive { get; set; }

    /// <summary>A tiny init as pid 1 that runs the command, reaps zombies and forwards signals.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Parameter(ParameterSetName = FromBundle)]
    public SwitchParameter Init { get; set; }

    /// <summary>A bridge to connect to before the command starts (made if missing).</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Parameter(ParameterSetName = FromBundle)]
    [ArgumentCompleter(typeof(BridgeCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Bridge { get; set; }

    /// <summary>A new bridge's subnets (CIDR), with -Bridge.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Parameter(ParameterSetName = FromBundle)]
    [ValidateNotNullOrEmpty]
    public string[] Subnet { get; set; } = [];

    /// <summary>The container's address on the bridge.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Parameter(ParameterSetName = FromBundle)]
    [Alias("IP")]
    public System.Net.IPAddress? IPAddress { get; set; }

    /// <summary>hostPort:containerPort[/tcp|udp]; implies the default bridge without -Bridge.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Parameter(ParameterSetName = FromBundle)]
    [Alias("p")]
    [ValidateNotNullOrEmpty]
    public string[] Publish { get; set; } = [];

    /// <summary>More names the container answers to on its bridge; implies the default bridge without -Bridge.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Parameter(ParameterSetName = FromBundle)]
    [ValidateNotNullOrEmpty]
    public string[] NetworkAlias { get; set; } = [];

    /// <summary>Supplementary groups for the command's user, by name or gid (Docker's --group-add).</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [ValidateNotNullOrEmpty]
    public string[] GroupAdd { get; set; } = [];

    /// <summary>Capabilities added to Docker's default set (names with or without CAP_, or ALL).</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [ValidateNotNullOrEmpty]
    public string[] CapAdd { get; set; } = [];

    /// <summary>Capabilities dropped from the set (or ALL).</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [ValidateNotNullOrEmpty]
    public string[] CapDrop { get; set; } = [];

    /// <summary>Every capability, no seccomp filter, /proc and /sys unmasked.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    public SwitchParameter Privileged { get; set; }

    /// <summary>Leave no_new_privs off: setuid binaries and file capabilities work.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    public SwitchParameter AllowNewPrivileges { get; set; }

    /// <summary>Default (the built-in filter) or Unconfined.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [ValidateNotNullOrEmpty]
    public string? SeccompProfile { get; set; }

    /// <summary>A read-only root filesystem.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    public SwitchParameter ReadOnly { get; set; }

    /// <summary>Paths in the container that get a fresh tmpfs (writable with -ReadOnly too).</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [ValidateNotNullOrEmpty]
    public string[] Tmpfs { get; set; } = [];

    /// <summary>Resource limits: name=soft[:hard], such as nofile=1024:2048.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [ValidateNotNullOrEmpty]
    public string[] Ulimit { get; set; } = [];

    /// <summary>Rotate the log before it passes this many bytes (10MB by default); 0: never.</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Parameter(ParameterSetName = FromBundle)]
    [ValidateRange(0, long.MaxValue)]
    public long LogMaxSize { get; set; } = StartOptions.DefaultLogMaxSize;

    /// <summary>The most log files kept, the current one and the rotated ones (3 by default).</summary>
    [Parameter(ParameterSetName = New)]
    [Parameter(ParameterSetName = AtPath)]
    [Parameter(ParameterSetName = FromBundle)]
    [ValidateRange(1, 1000)]
    public int LogMaxFiles { get; set; } = StartOptions.DefaultLogMaxFiles;

    protected override void ProcessRecord()
    {
        if (ParameterSetName is ById or Piped)
        {
            StartAgain();
            return;
        }
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
        IReadOnlyList<string> warnings = [];
        OrStop(() => warnings = options.Security.Validate());
        foreach (var warning in warnings)
            WriteWarning(warning);
        if (Detach && (Wait || Interactive))
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-Detach excludes -Wait and -Interactive: wait for the container, or let it run on its own."),
                "WaitAndDetach", ErrorCategory.InvalidArgument, null));
        if (Interactive) // refused before anything is made: with no terminal it would wait forever
            OrStop(() => ContainerEngine.RequireTerminal("-Interactive", "drop -Interactive (-Wait waits for the container and shows its output)"));
        var target = Bundle is not null ? $"the bundle {FileSystemPath(Bundle)}" : InputObject?.Path ?? (RootfsPath is not null ? FileSystemPath(RootfsPath) : image is not null ? $"a new rootfs of the image {image}" : "a new default rootfs");
        if (!ShouldProcess(target, $"Start container running '{(command is not null ? string.Join(' ', command) : Bundle is not null ? "the bundle's command" : "the image's command")}'"))
            return;

        OrStop(() =>
        {
            options.RootfsPath = RootfsPath is null ? null : FileSystemPath(RootfsPath);
            options.RootfsId = InputObject?.Id;
            options.Bundle = Bundle is null ? null : FileSystemPath(Bundle);
            options.ExitCommand = ExitCommand();
            using var started = Engine.Start(options, Verbose);
            WriteObject(Wait || Interactive ? started.WaitForExit(_stop.Token) : started.Current());
        });
    }

    // Each container as Start-Service treats a service: one that has ended is started again
    // (and returned, as a new one is; with -Wait once it has ended again), one that runs is
    // returned as it is.
    void StartAgain()
    {
        if (Detach && Wait)
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-Detach excludes -Wait: wait for the container, or let it run on its own."),
                "WaitAndDetach", ErrorCategory.InvalidArgument, null));
        if (!Limits.IsEmpty)
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(
                "A container started again keeps the limits it was created with: leave out the limits, and change them once it runs with Set-UnicornCgroup."),
                "LimitsOnStartAgain", ErrorCategory.InvalidArgument, null));
        foreach (var c in Resolve(ParameterSetName == Piped ? Container.Select(c => c.Id) : Id))
        {
            if (c.State.IsActive())
            {
                Verbose($"{c.Name} is already {c.State.ToString().ToLowerInvariant()}.");
                WriteObject(c);
                continue;
            }
            if (!ShouldProcess($"{c.Name} ({c.ShortId})", "Start the container again"))
                continue;
            ForItem(() =>
            {
                using var started = Engine.StartAgain(c.Id, Wait, Verbose);
                WriteObject(started.Attached ? started.WaitForExit(_stop.Token) : started.Current());
            });
        }
    }

    /// <summary>What removes a -Rm container once it has ended, run by its supervisor: this
    /// PowerShell (pwsh, or dotnet with pwsh.dll), this module, Remove-UnicornContainer. Null
    /// in another host or outside a module (the next Unicorn command that sees the container ended removes it).</summary>
    Func<string, string[]>? ExitCommand()
    {
        var exe = System.Environment.ProcessPath;
        var args = System.Environment.GetCommandLineArgs();
        string[]? pwsh = Path.GetFileName(exe) == "pwsh" ? [exe!]
            : Path.GetFileName(exe) == "dotnet" && args.Length > 0 && Path.GetFileName(args[0]) == "pwsh.dll" ? [exe!, args[0]]
            : null;
        if (pwsh is null || MyInvocation.MyCommand.Module is not { } loaded)
            return null;
        var manifest = Path.Combine(loaded.ModuleBase, "Unicorn.psd1");
        var module = File.Exists(manifest) ? manifest : loaded.Path;
        static string Quote(string s) => "'" + s.Replace("'", "''") + "'";
        // Nothing is loaded when a wait or a listing has removed it already.
        return id => [.. pwsh, "-NoProfile", "-NonInteractive", "-Command",
            $"if (Test-Path -LiteralPath {Quote(Engine.Paths.ContainerDir(id))}) {{ Import-Module {Quote(module)}; Remove-UnicornContainer -Id {id} }}"];
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
