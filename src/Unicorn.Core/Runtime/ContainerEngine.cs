using System.Text;
using Unicorn.Native;

namespace Unicorn;

/// <summary>Creates, lists and removes containers. State lives in
/// state/containers/&lt;id&gt;/: config.json (what was asked), started (pid and start time),
/// exit (written by the supervisor), spec (for the launcher) and the /etc files it binds.
/// Names are claimed as symlinks state/names/&lt;name&gt; -&gt; id. The log lives in the data
/// root, data/containers/&lt;id&gt;/container.log.</summary>
/// <param name="launcherDirectory">Where unicorn-launcher is (the module's folder), unless
/// UNICORN_LAUNCHER says; next to the application when null.</param>
public sealed partial class ContainerEngine(UnicornPaths paths, string? launcherDirectory = null)
{
    public UnicornPaths Paths { get; } = paths.Private();
    public RootfsStore Rootfs { get; } = new(paths);
    public Images.ImageStore Images { get; } = new(paths);
    CgroupManager? _cgroups;
    /// <summary>Detected on first use: most commands never touch a cgroup.</summary>
    public CgroupManager Cgroups => _cgroups ??= CgroupManager.FromEnvironment();

    public static ContainerEngine FromEnvironment(string? launcherDirectory = null) => new(UnicornPaths.FromEnvironment(), launcherDirectory);

    /// <summary>The launcher binary this engine runs.</summary>
    internal string LauncherBinary => Launcher.BinaryPath(launcherDirectory);

    /// <summary>Mounts, namespaces, cgroups and the state root need root: said at once, before
    /// anything is touched, rather than as the first EPERM halfway through.</summary>
    public static void RequireRoot()
    {
        if (Native.Libc.EffectiveUid != 0)
            throw new UnicornException("RootRequired", ErrorKind.PermissionDenied,
                $"Unicorn needs root: it mounts file systems and makes namespaces and cgroups, which {System.Environment.UserName} (uid {Native.Libc.EffectiveUid}) may not (rootless containers are not supported yet). Run pwsh as root (for instance sudo dotnet pwsh, or sudo pwsh) and import the module there.",
                Native.Libc.EffectiveUid);
    }

    string NamesDir => Path.Combine(Paths.StateRoot, "names");

    /// <summary>Starts a container. Returns once its command runs (or failed to start, which
    /// throws and leaves nothing behind). Call <see cref="Started.WaitForExit"/> to wait.</summary>
    public Started Start(StartOptions options, Action<string>? log = null)
    {
        options.Validate();
        var volumes = options.ParseVolumes();
        var id = Ids.New();
        var dir = Paths.ContainerDir(id);
        var undo = new Stack<Action>(); // what this start made, undone in reverse on failure
        int held = -1; // the record's lock: ours until the supervisor holds it too (Created, not Dead)
        var rootfsId = options.RootfsId;
        // A name held by a -Rm container that has ended is free: it is swept now, not at the clash.
        if (options.Name is { } wanted && NameTarget(wanted) is { } holder && Load(holder) is { } previous)
            Swept(previous);
        try
        {
            if (options.Image is { } imageName)
            {
                // An image: a rootfs of its own over it, which the container owns like a piped one.
                var fresh = Rootfs.CreateFromImage(Images.Get(imageName), log);
                undo.Push(() => Rootfs.Remove(fresh.Id));
                rootfsId = fresh.Id;
            }
            else if (rootfsId is null && options.RootfsPath is null)
            {
                // No rootfs given: a fresh default one, as New-UnicornRootfs | Start-UnicornContainer would.
                var fresh = Rootfs.Create(null, log);
                undo.Push(() => Rootfs.Remove(fresh.Id));
                rootfsId = fresh.Id;
            }
            // What the image says, where the caller did not say otherwise (read before anything
            // is claimed: a user the image lacks is bad input).
            var source = rootfsId is not null ? Rootfs.Get(rootfsId) : null;
            var imageConfig = source?.ImageId is { } imageId ? Images.Find(imageId)?.Config : null;
            imageConfig?.Validate(); // checked at import too; a record on disk may be older, or tampered with
            // (A rootfs not mounted now, after a reboot, is checked for its user once mounted.)
            var process = ResolveProcess(options, imageConfig, source is { Mounted: false } ? null : source?.Path ?? Path.GetFullPath(options.RootfsPath!));
            // Devices are confined by the devices cgroup (v1), or not made at all (v2, no MKNOD).
            options.Security.NoDevicesCgroup = !options.Security.Privileged && !Cgroups.CanRestrictDevices;
            ContainerConfig config;
            using (Files.Lock(Paths))
            {
                // The name first: a clash is bad input, refused before the rootfs is touched.
                var name = options.Name ?? Ids.Short(id);
                ClaimName(name, id, rootfsGiven: options.RootfsId);
                undo.Push(() => File.Delete(Path.Combine(NamesDir, name)));
                Directory.CreateDirectory(dir);
                undo.Push(() => Files.DeleteTree(dir));

                // Once the container has taken the rootfs over, a failed start removes it too.
                string rootfsPath;
                string? image = null;
                if (rootfsId is not null)
                {
                    var rootfs = Rootfs.Claim(rootfsId, id);
                    undo.Push(() => Rootfs.Remove(rootfsId, owner: id));
                    (rootfsPath, image) = (rootfs.Path, rootfs.Image);
                }
                else
                {
                    rootfsPath = Path.GetFullPath(options.RootfsPath!);
                    if (!Directory.Exists(rootfsPath))
                        throw RootfsPathNotFound(rootfsPath);
                }

                var hostname = options.Hostname ?? Ids.Short(id);
                config = new ContainerConfig(id, name, hostname, process.Command, Environment(options, imageConfig, hostname),
                    process.WorkingDirectory, volumes, rootfsPath, rootfsId, image, DateTime.UtcNow, process.User, options.Security, options.GroupAdd,
                    options.AutoRemove, options.Restart.Mode == RestartMode.No ? null : options.Restart,
                    options.Init, options.Interactive, options.LogMaxSize, options.LogMaxFiles,
                    options.Limits.IsEmpty ? null : options.Limits, options.Network,
                    options.AutoRemove ? options.ExitCommand?.Invoke(id) : null);
                // Above the descriptors the launcher is given (0 to 5), which its spawn overwrites.
                held = Libc.DupAbove(Files.WriteAtomicHeld(Paths.ContainerRecord(id), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(config, Json.Default.ContainerConfig)), 10);
            }
            Directory.CreateDirectory(Paths.ContainerDataDir(id));
            undo.Push(() => Files.DeleteTree(Paths.ContainerDataDir(id)));
            return Launch(config, ref held, options.Attach || options.Interactive, config.Network is { } n ? [n] : [], undo, log);
        }
        catch
        {
            if (held >= 0)
                Libc.Close(held);
            Undo(undo, log);
            throw;
        }
    }

    static UnicornException RootfsPathNotFound(string path) => new("RootfsNotFound", ErrorKind.ObjectNotFound,
        $"The root filesystem '{path}' does not exist. Give a directory, or pipe in New-UnicornRootfs.", path);

    static void Undo(Stack<Action> undo, Action<string>? log)
    {
        foreach (var step in undo)
        {
            try { step(); }
            catch (Exception e) { log?.Invoke($"Cleanup: {e.Message}"); }
        }
    }

    /// <summary>Launches the command of a container whose record exists (just created, or
    /// ended and started again): its spec, cgroup, supervisor and init, its network, the
    /// go-ahead; connected to networks before it. held is the record's lock, handed to the
    /// supervisor (and -1 once it is).
    /// What it makes goes onto undo; on failure nothing of the launch runs or writes any more
    /// when it throws.</summary>
    Started Launch(ContainerConfig config, ref int held, bool attach, IReadOnlyList<Network.BridgeOptions> networks, Stack<Action> undo, Action<string>? log)
    {
        var id = config.Id;
        var dir = Paths.ContainerDir(id);
        Launcher? launcher = null;
        (int Pid, ulong StartTime)? init = null; // once cloned: what a failure must kill
        var security = config.Security ?? new SecurityOptions();
        bool devices = !security.Privileged && Cgroups.CanRestrictDevices;
        var limits = config.Limits ?? new CgroupLimits();
        try
        {
            var binds = config.Volumes.Concat(new[] { "hostname", "hosts", "resolv.conf" }
                .Select(f => new VolumeMount(Path.Combine(dir, f), "/etc/" + f, ReadOnly: false)));
            // Limits hold from the command's first instruction: the launcher puts its init into
            // the cgroup without a process migration (see SpecFile.Cgroup).
            var spec = SpecFile.For(config, binds, Paths.LogFile(id), attach, config.Init, config.Interactive)
                .LogRotation(config.LogMaxSize, config.LogMaxFiles);
            spec.User(config.User, config.GroupAdd, config.RootfsPath).Restart(config.Restart);
            // Detached only: an engine that waits removes the container itself once it has ended.
            if (!attach && config.ExitCommand is { Length: > 0 } exit)
                spec.ExitCommand(exit, ExitCommandEnvironment());
            security.AddTo(spec, Paths.StateRoot, dir, mounts: true);
            if (!limits.IsEmpty || devices)
            {
                log?.Invoke($"Creating the cgroup of {config.Name}{(limits.IsEmpty ? "" : " with its limits")}.");
                RecordCgroup(id);
                undo.Push(() => Cgroups.Remove(id));
                if (!limits.IsEmpty)
                    Cgroups.Create(id, limits);
                spec.Cgroup(Cgroups, id);
                if (devices) // a v1 directory, which the init joins after the go-ahead: made below
                    spec.CgroupV1(Cgroups.DevicesDir(id));
            }
            Files.WritePrivate(Path.Combine(dir, "spec"), spec.ToArray());

            log?.Invoke($"Starting the launcher for {config.Name} ({Ids.Short(id)}).");
            launcher = Launcher.Run(LauncherBinary, dir, attach, config.Interactive, held);
            Libc.Close(held);
            held = -1;
            // While the launcher starts and clones the init (most of a millisecond): what the
            // init needs only after the go-ahead, its /etc files and its devices cgroup.
            WriteEtcFiles(dir, config.Hostname);
            if (devices)
                Cgroups.RestrictDevices(id);
            var pid = launcher.ReadPid(config.Command[0], config.Name);
            init = (pid.Pid, pid.StartTime);
            if (networks.Count > 0)
                undo.Push(() => Networks.Release(id));
            foreach (var network in networks)
                Networks.Connect(id, config.Name, pid.Pid, pid.StartTime, config.Hostname, network, log);
            launcher.Go();
            // The supervisor writes the start record (started) once the command runs, before it
            // reports so: the container is Running only then (before, the init may still be
            // setting up, with the host's root in its mount namespace, where no exec may join),
            // and it is so even if this process dies now.
            launcher.ExpectStarted(config.Command[0], config.Name);
            log?.Invoke($"{config.Name} runs as pid {pid.Pid}.");
            return new Started(this, id, launcher, attach);
        }
        catch
        {
            if (init is { } i) // whatever failed, the command must not run on unrecorded
                SignalProcess(i.Pid, i.StartTime, Signals.SIGKILL);
            launcher?.Abort();
            launcher?.Dispose();
            throw;
        }
    }

    /// <summary>What a -Rm container's exit command runs with (the supervisor's own environment
    /// is PATH alone): this process's PATH, HOME and UNICORN_ variables (DOTNET_ROOT for a
    /// pwsh run by dotnet), and the roots this engine uses.</summary>
    IEnumerable<string> ExitCommandEnvironment()
    {
        var env = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in System.Environment.GetEnvironmentVariables())
            if (e.Key is string k && e.Value is string v && (k is "PATH" or "HOME" or "DOTNET_ROOT" || k.StartsWith("UNICORN_", StringComparison.Ordinal)))
                env[k] = v;
        env[UnicornPaths.StateRootVariable] = Paths.StateRoot;
        env[UnicornPaths.DataRootVariable] = Paths.DataRoot;
        return env.Select(kv => $"{kv.Key}={kv.Value}");
    }

    /// <summary>A started container whose caller may wait for its end.</summary>
    public sealed class Started : IDisposable
    {
        readonly ContainerEngine engine;
        readonly Launcher launcher;

        internal Started(ContainerEngine engine, string id, Launcher launcher, bool attached) =>
            (this.engine, Id, this.launcher, Attached) = (engine, id, launcher, attached);

        public string Id { get; }

        /// <summary>Its output comes to this process too (-Wait, -Interactive): wait for it.</summary>
        public bool Attached { get; }

        /// <summary>Blocks until the command ends (its supervisor reports the exit). A cancel
        /// kills the container, which then ends as 137.</summary>
        public Container WaitForExit(CancellationToken cancel = default)
        {
            using (cancel.Register(() => engine.KillForGood(Id)))
                launcher.Drain();
            return engine.Observe(engine.Load(Id) ?? throw NotFound(Id));
        }

        /// <summary>The container as it is now, without the sweep of a listing: a detached -Rm
        /// container whose command has ended already is returned all the same (and removed by
        /// its exit command, or the next look).</summary>
        public Container Current() => engine.Load(Id) ?? throw NotFound(Id);

        public void Dispose() => launcher.Dispose();
    }

    internal static UnicornException NotRunning(string container) => new("ContainerNotRunning", ErrorKind.InvalidOperation,
        $"The container {container} is not running. Start a new one; Get-UnicornContainer shows its state.", container);

    /// <summary>TERM for a process on a terminal, unless its environment sets one (as Docker).</summary>
    internal const string TtyTerm = "xterm";

    static string[] Environment(StartOptions o, Images.ImageConfig? image, string hostname)
    {
        var env = new Dictionary<string, string> { ["PATH"] = StartOptions.DefaultPath, ["HOSTNAME"] = hostname, ["HOME"] = "/root" };
        if (o.Interactive) // a terminal: xterm, as Docker says, which every terminfo knows (the host's TERM may be one the image lacks)
            env["TERM"] = TtyTerm;
        foreach (var kv in image?.Env ?? [])
            if (kv.Split('=', 2) is [var k, var v])
                env[k] = v;
        foreach (var (k, v) in o.Environment)
            env[k] = v;
        return env.Select(kv => $"{kv.Key}={kv.Value}").ToArray();
    }

    /// <summary>The command, working directory and user: the caller's, else the image's (as
    /// Docker: the image's Entrypoint, then the command given or the image's Cmd), else /bin/sh
    /// in / as root.</summary>
    static (string[] Command, string WorkingDirectory, string? User) ResolveProcess(StartOptions o, Images.ImageConfig? image, string? rootfs)
    {
        var entrypoint = image?.Entrypoint ?? [];
        var command = entrypoint.Concat(o.Command ?? image?.Cmd ?? (entrypoint.Length == 0 ? ["/bin/sh"] : [])).ToArray();
        var cwd = o.WorkingDirectory ?? image?.WorkingDir ?? "/";
        StartOptions.ValidateProcess(command, o.Environment, cwd);
        var user = o.User ?? image?.User;
        if ((user is not null || o.GroupAdd.Length > 0) && rootfs is not null)
            UserSpec.Resolve(user ?? "0", rootfs, o.GroupAdd); // a user or group the image lacks: refused now
        return (command, cwd, user);
    }

    // The container's own /etc/hostname, hosts and resolv.conf, bound over the rootfs's.
    static void WriteEtcFiles(string dir, string hostname)
    {
        Files.WritePublic(Path.Combine(dir, "hostname"), hostname + "\n");
        Files.WritePublic(Path.Combine(dir, "hosts"), Unicorn.Network.HostsFile.Initial(hostname));
        Files.WritePublic(Path.Combine(dir, "resolv.conf"), ResolvConf(ReadLines("/etc/resolv.conf"), () => ReadLines("/run/systemd/resolve/resolv.conf")));
    }

    static string[] ReadLines(string path)
    {
        try { return File.Exists(path) ? File.ReadAllLines(path) : []; }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }

    /// <summary>The container's resolv.conf: the host's, less resolvers on its loopback, which
    /// another network namespace cannot reach. When that leaves none (a local stub such as
    /// systemd-resolved's 127.0.0.53), the stub's own upstream servers (systemd's list of
    /// them), and failing those Google's public ones, as Docker does.</summary>
    public static string ResolvConf(string[] host, Func<string[]> upstream)
    {
        static bool IsServer(string line) => line.TrimStart().StartsWith("nameserver");
        static bool IsLoopback(string line) => line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries) is [_, var a, ..]
            && System.Net.IPAddress.TryParse(a.Split('%')[0], out var ip) && System.Net.IPAddress.IsLoopback(ip);
        var lines = host.Where(l => !(IsServer(l) && IsLoopback(l))).ToList();
        if (!lines.Any(IsServer))
        {
            var servers = upstream().Where(l => IsServer(l) && !IsLoopback(l)).ToList();
            lines.AddRange(servers.Count > 0 ? servers : ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]);
        }
        return string.Join('\n', lines) + "\n";
    }

    /// <summary>Claims a name for a new container; a clash is refused before a rootfs given to
    /// the start is claimed, and the error says that it is left unowned, to be used again.</summary>
    void ClaimName(string name, string id, string? rootfsGiven)
    {
        Directory.CreateDirectory(NamesDir);
        var link = Path.Combine(NamesDir, name);
        // Every container has a link; fewer links than containers means one was lost (deleted by
        // hand, say), and the records, which hold the names too, put the links back first.
        if (NameTarget(name) is null && Directory.Exists(Paths.Containers)
            && Directory.EnumerateFileSystemEntries(NamesDir).Count() < Directory.EnumerateDirectories(Paths.Containers).Count())
            RestoreNames();
        if (NameTarget(name) is { } existing)
        {
            // Held by a container that has its record (not by a directory a crash left half made or half removed).
            if (File.Exists(Paths.ContainerRecord(existing)))
                throw new UnicornException("ContainerNameInUse", ErrorKind.ResourceExists,
                    $"The name '{name}' is taken by container {Ids.Short(existing)}. Choose another -Name, or remove that container first." +
                    (rootfsGiven is null ? "" : $" The root filesystem {Ids.Short(rootfsGiven)} was not used: it is still there, owned by no container, for the next start (Get-UnicornRootfs {Ids.Short(rootfsGiven)} | Start-UnicornContainer ...), or for Remove-UnicornRootfs."), name);
            File.Delete(link); // left by a container that is gone
        }
        File.CreateSymbolicLink(link, id);
    }

    /// <summary>Links again the names of containers whose records hold a name no link claims.</summary>
    void RestoreNames()
    {
        Directory.CreateDirectory(NamesDir);
        foreach (var dir in Directory.EnumerateDirectories(Paths.Containers))
        {
            ContainerConfig? config;
            try { config = Files.ReadJson(Path.Combine(dir, "config.json"), Json.Default.ContainerConfig); }
            catch (CorruptStateException) { continue; } // listed as damaged; removing it frees the name
            if (config is not null && NameTarget(config.Name) is null)
                File.CreateSymbolicLink(Path.Combine(NamesDir, config.Name), config.Id);
        }
    }

    /// <summary>The id a name is claimed for, or null.</summary>
    string? NameTarget(string name) => new FileInfo(Path.Combine(NamesDir, name)).LinkTarget;

    /// <summary>Every container, oldest first. One whose record is damaged is not listed: it
    /// goes to onError (CorruptState), and the others are listed all the same.</summary>
    public IEnumerable<Container> List(Action<UnicornException>? onError = null)
    {
        var found = new List<Container>();
        var leftovers = new List<string>();
        // (No containers directory yet does not mean no names: a start may have died in between.)
        foreach (var dir in Directory.Exists(Paths.Containers) ? Directory.EnumerateDirectories(Paths.Containers) : [])
        {
            try
            {
                if (Load(Path.GetFileName(dir)) is { } c)
                {
                    if (!Swept(c))
                        found.Add(c);
                }
                else
                    leftovers.Add(Path.GetFileName(dir));
            }
            catch (CorruptStateException e) { onError?.Invoke(e); }
        }
        var names = Directory.Exists(NamesDir)
            ? Directory.EnumerateFileSystemEntries(NamesDir).Where(l => new FileInfo(l).LinkTarget is not { } id || !found.Any(c => c.Id == id)).ToList()
            : [];
        if (leftovers.Count > 0 || names.Count > 0)
            RemoveLeftovers(leftovers, names);
        if (found.Any(c => NameTarget(c.Name) is null))
            using (Files.Lock(Paths))
                RestoreNames();
        return found.OrderBy(c => c.Created);
    }

    /// <summary>Directories without a record: a start that died before writing it (its name and
    /// its rootfs's claim count for nothing without it), or a removal that died midway. Seen under
    /// the engine lock, which a start holds from its directory to its record, they are leftovers.</summary>
    void RemoveLeftovers(IEnumerable<string> ids, IEnumerable<string> nameLinks)
    {
        using (Files.Lock(Paths))
        {
            foreach (var id in ids.Where(id => Directory.Exists(Paths.ContainerDir(id)) && !File.Exists(Paths.ContainerRecord(id))))
            {
                Files.DeleteTree(Paths.ContainerDir(id));
                Files.DeleteTree(Paths.ContainerDataDir(id));
            }
            // Names that lead to no record (a damaged one keeps its name until it is removed).
            foreach (var link in nameLinks.Where(l => new FileInfo(l).LinkTarget is not { } id || !Directory.Exists(Paths.ContainerDir(id))))
                File.Delete(link);
        }
    }

    /// <summary>A container by exact name, else by id or unique id prefix; null if none.</summary>
    public Container? Find(string nameOrId)
    {
        if (ContainerName.IsValid(nameOrId)
            && NameTarget(nameOrId) is { } named
            && Load(named) is { } byName)
            return Swept(byName) ? null : byName;
        if (!Directory.Exists(Paths.Containers))
            return null;
        var id = IdResolver.Resolve(Directory.EnumerateDirectories(Paths.Containers).Select(Path.GetFileName).OfType<string>(), nameOrId, "Container");
        return id is null || Load(id) is not { } c || Swept(c) ? null : c;
    }

    /// <summary>A -Rm container that has ended is removed by whoever sees it so first: the
    /// start that waited for it, a wait or a stop, or any listing (Get-UnicornContainer, a
    /// lookup by name or id). No daemon is needed, and a crash of any of them leaves it to
    /// the next. Returns c as it was seen.</summary>
    internal Container Observe(Container c)
    {
        Swept(c);
        return c;
    }

    /// <summary>Removes c if it is a -Rm container that has ended; true if it is gone.</summary>
    bool Swept(Container c)
    {
        if (!c.AutoRemove || c.State is not (ContainerState.Exited or ContainerState.Dead))
            return false;
        try { Remove(c, force: false); }
        catch (Exception e) when (e is UnicornException or IOException) { } // removed meanwhile by another, or left to the next
        return Load(c.Id) is null;
    }

    public Container Get(string nameOrId) => Find(nameOrId) ?? throw NotFound(nameOrId);

    public static UnicornException NotFound(string nameOrId) => new("ContainerNotFound", ErrorKind.ObjectNotFound,
        $"No container has the name or id '{nameOrId}'. Get-UnicornContainer lists them.", nameOrId);

    /// <summary>Reads a container's state: recorded exit first, then whether its init (and its
    /// supervisor) are alive in the kernel. Null if it is gone.</summary>
    public Container? Load(string id)
    {
        var dir = Paths.ContainerDir(id);
        ContainerConfig? config;
        StartRecord? started;
        try
        {
            config = Files.ReadJson(Path.Combine(dir, "config.json"), Json.Default.ContainerConfig);
            if (config is null)
                return null;
            started = Files.ReadJson(Path.Combine(dir, "started"), Json.Default.StartRecord);
        }
        catch (CorruptStateException e)
        {
            throw new CorruptStateException(e.Path, e.Reason,
                $"Remove-UnicornContainer -Id {id} -Force removes what is left of the container {Ids.Short(id)}.", e) { ContainerId = id };
        }
        var supervisor = started is null ? null : ProcFs.Process(started.SupervisorPid, started.SupervisorStartTime);
        var init = started is null ? null : ProcFs.Process(started.Pid, started.PidStartTime);
        bool supervised = supervisor is { State: not ('Z' or 'X') };
        bool initAlive = init is { State: not ('Z' or 'X') };
        // Read after the liveness checks: a supervisor found gone has written its exit by now.
        var (exitCode, finished) = ReadExit(dir);
        // An exit older than the start record is the last run's, of a container started again
        // whose new supervisor has not deleted it yet (or was killed before it could).
        if (started is not null && finished is { } ended && started.Started > ended)
            (exitCode, finished) = (null, null);
        var restarting = ReadRestarting(dir);
        var state = (started, exitCode) switch
        {
            (_, not null) => ContainerState.Exited,
            // Starting while its record is held (by the start, then by the supervisor); a start
            // that died before its command ran (pwsh killed, say) left it unheld: nothing runs.
            (null, _) => Files.IsHeld(Paths.ContainerRecord(id)) ? ContainerState.Created
                // Unless its supervisor was killed after the init's exec, before the record: the
                // command runs, known only to the kernel (as processes whose root is the rootfs).
                : ProcFs.ContainerProcesses(Paths.ContainerRecord(id), SupervisorName, config.RootfsPath).Count > 0 ? ContainerState.Unknown
                : ContainerState.Dead,
            // Ended, and its supervisor has recorded that it will start it again (restart policy).
            _ when supervised && !initAlive && restarting?.Count > started.RestartCount => ContainerState.Restarting,
            // A live supervisor: the init runs, or has just ended and is about to be recorded
            // (unless the supervisor is stopped, and will record nothing until resumed).
            _ when supervised && (initAlive || !ProcFs.IsStopped(supervisor!.Value.State)) => ContainerState.Running,
            _ when initAlive => ContainerState.Unknown,
            // Ended, as the kernel says: a zombie its stopped supervisor has not reaped. (With
            // no supervisor, whoever inherited the zombie reaps it at once: Dead, as it then is.)
            _ when supervised && init?.ExitCode is not null => ContainerState.Exited,
            _ => ContainerState.Dead,
        };
        exitCode ??= state == ContainerState.Exited ? init?.ExitCode : null;
        if (state == ContainerState.Restarting) // the run that ended, as Docker shows it
            (exitCode, finished) = (restarting!.Value.Code, restarting.Value.Finished);
        var attachments = Networks.Attachments(config.Id);
        return new Container
        {
            Id = config.Id,
            Name = config.Name,
            State = state,
            Pid = initAlive ? started!.Pid : null,
            ExitCode = exitCode,
            // The cgroup remembers its OOM kills until the container is removed.
            OOMKilled = state == ContainerState.Exited && CgroupOf(config.Id)?.OomKills(config.Id) > 0,
            Command = config.Command,
            Hostname = config.Hostname,
            Rootfs = config.RootfsPath,
            RootfsId = config.RootfsId,
            Image = config.Image,
            IPAddress = attachments.Select(a => a.IPAddress).FirstOrDefault(a => a is not null),
            Ports = [.. attachments.SelectMany(a => a.PublishedPorts)],
            WorkingDirectory = config.WorkingDirectory,
            Volumes = config.Volumes,
            Environment = config.Environment,
            AutoRemove = config.AutoRemove,
            RestartPolicy = config.Restart ?? RestartPolicy.No,
            RestartCount = Math.Max(started?.RestartCount ?? 0, restarting?.Count ?? 0),
            Created = config.Created,
            Started = started?.Started,
            Finished = finished,
        };
    }

    static (int? Code, DateTime? Finished) ReadExit(string dir)
    {
        string text;
        try { text = File.ReadAllText(Path.Combine(dir, "exit")); }
        catch (IOException) { return (null, null); }
        var f = text.Trim().Split(' ');
        return f.Length == 2 && int.TryParse(f[0], out int code) && long.TryParse(f[1], out long ms)
            ? (code, DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime)
            : (null, null);
    }

    /// <summary>The supervisor's record of a restart it is about to make (restart policy):
    /// "&lt;restart number&gt; &lt;exit code of the run that ended&gt; &lt;unix ms&gt;".</summary>
    static (int Count, int Code, DateTime Finished)? ReadRestarting(string dir)
    {
        string text;
        try { text = File.ReadAllText(Path.Combine(dir, "restarting")); }
        catch (IOException) { return null; }
        var f = text.Trim().Split(' ');
        return f.Length == 3 && int.TryParse(f[0], out int count) && int.TryParse(f[1], out int code) && long.TryParse(f[2], out long ms)
            ? (count, code, DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime)
            : null;
    }

    /// <summary>Removes a container and all that was made for it: its rootfs (if it owns one),
    /// its name, its state. A running one only with force, which kills it first.</summary>
    public void Remove(Container c, bool force, Action<string>? log = null)
    {
        if (c.State.IsActive())
        {
            if (!force)
                throw new UnicornException("ContainerRunning", ErrorKind.InvalidOperation,
                    $"The container {c.Name} is {(c.State switch { ContainerState.Created => "starting", ContainerState.Unknown => "running without its supervisor", ContainerState.Restarting => "restarting", _ => "running" })}. Stop it first (Stop-UnicornContainer), or use -Force to kill it.", c.Name);
            log?.Invoke(c.Pid is null ? $"Killing {c.Name}, whose processes no start record names." : $"Killing {c.Name} (pid {c.Pid}).");
            Stop(c.Id, Signals.SIGKILL, TimeSpan.Zero); // does not wait on a stopped or hung supervisor
            if (c.Pid is null && c.State is ContainerState.Created or ContainerState.Unknown) // no start record (yet) names its processes
                KillUnrecorded(c.Id, c.Rootfs, log);
        }
        EndStrandedSupervisor(c.Id, log);

        using (Files.Lock(Paths))
        {
            Networks.Release(c.Id, log);
            if (CgroupOf(c.Id) is { } cgroup)
            {
                log?.Invoke($"Removing the cgroup of {c.Name}.");
                cgroup.Remove(c.Id);
            }
            if (c.RootfsId is { } rootfsId)
            {
                log?.Invoke($"Removing rootfs {Ids.Short(rootfsId)}.");
                Rootfs.Remove(rootfsId, owner: c.Id);
            }
            // The record before the name: a crash in between leaves a name that points at no record,
            // which a new claim takes over, never a record whose name another container can claim.
            Files.DeleteTree(Paths.ContainerDir(c.Id));
            if (NameTarget(c.Name) == c.Id)
                File.Delete(Path.Combine(NamesDir, c.Name));
            Files.DeleteTree(Paths.ContainerDataDir(c.Id));
        }
    }

}
