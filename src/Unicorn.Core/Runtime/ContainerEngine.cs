using Unicorn.Cgroups;
using Unicorn.Native;

namespace Unicorn.Runtime;

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

    /// <summary>Starts a container: <see cref="Create"/>, then <see cref="Parked.Start"/>.
    /// Returns once its command runs (or failed to start, which throws and leaves nothing
    /// behind). Call <see cref="Started.WaitForExit"/> to wait.</summary>
    public Started Start(StartOptions options, Action<string>? log = null)
    {
        using var parked = Create(options, log);
        return parked.Start();
    }

    /// <summary>Creates a container up to its parked init: its name, record, rootfs, cgroup,
    /// supervisor, and the init cloned in its namespaces and connected to its networks, waiting
    /// for the go-ahead (Created). Nothing of the command runs before <see cref="Parked.Start"/>;
    /// disposing the parked container without starting it undoes everything made here.</summary>
    public Parked Create(StartOptions options, Action<string>? log = null)
    {
        if (options.Bundle is not null)
            LoadBundle(options);
        options.Validate();
        var volumes = options.ParseVolumes();
        var id = Ids.New();
        var undo = new Rollback(log); // what this start made, undone in reverse on failure
        int held = -1; // the record's lock: ours until the supervisor holds it too (Created, not Dead)
        // A name held by a -Rm container that has ended is free: it is swept now, not at the clash.
        if (options.Name is { } wanted && NameTarget(wanted) is { } holder && Load(holder) is { } previous)
            Swept(previous);
        try
        {
            var rootfsId = RootfsFor(options, undo, log);
            // What the image says, where the caller did not say otherwise (read before anything
            // is claimed: a user the image lacks is bad input).
            var source = rootfsId is not null ? Rootfs.Get(rootfsId) : null;
            var imageConfig = source?.ImageId is { } imageId ? Images.Find(imageId)?.Config : null;
            imageConfig?.Validate(); // checked at import too; a record on disk may be older, or tampered with
            // (A rootfs not mounted now, after a reboot, is checked for its user once mounted.)
            var process = ResolveProcess(options, imageConfig, source is { Mounted: false } ? null : source?.Path ?? Path.GetFullPath(options.RootfsPath!));
            // Devices are confined by the devices cgroup (v1), or not made at all (v2, no MKNOD).
            options.Security.NoDevicesCgroup = !options.Security.Privileged && !Cgroups.CanRestrictDevices;
            var config = Record(id, options, rootfsId, process, imageConfig, volumes, ref held, undo);
            Directory.CreateDirectory(Paths.ContainerDataDir(id));
            undo.Push(() => Files.DeleteTree(Paths.ContainerDataDir(id)));
            return Park(config, ref held, options.Attach || options.Interactive, config.Network is { } n ? [n] : [], undo, log);
        }
        catch
        {
            if (held >= 0)
                Libc.Close(held);
            undo.Dispose();
            throw;
        }
    }

    /// <summary>The rootfs the container runs on: the one given, or a fresh one over its image
    /// or over the default rootfs (as New-UnicornRootfs | Start-UnicornContainer would), which
    /// the container owns like a piped one; null for a -RootfsPath directory.</summary>
    string? RootfsFor(StartOptions options, Rollback undo, Action<string>? log)
    {
        if (options.Image is null && (options.RootfsId is not null || options.RootfsPath is not null))
            return options.RootfsId;
        var fresh = options.Image is { } image ? Rootfs.CreateFromImage(Images.Get(image), log) : Rootfs.Create(null, log);
        undo.Push(() => Rootfs.Remove(fresh.Id));
        return fresh.Id;
    }

    /// <summary>Under the engine lock: the name claimed, the container's directory made, the
    /// rootfs claimed (a failed start removes it from then on), and the record written, its lock
    /// held (in held) from before it has its name.</summary>
    ContainerConfig Record(string id, StartOptions options, string? rootfsId, (string[] Command, string WorkingDirectory, string? User) process,
        Images.ImageConfig? imageConfig, VolumeMount[] volumes, ref int held, Rollback undo)
    {
        var dir = Paths.ContainerDir(id);
        using var _ = Files.Lock(Paths);
        // The name first: a clash is bad input, refused before the rootfs is touched.
        var name = options.Name ?? Ids.Short(id);
        ClaimName(name, id, rootfsGiven: options.RootfsId);
        undo.Push(() => File.Delete(Path.Combine(NamesDir, name)));
        Directory.CreateDirectory(dir);
        undo.Push(() => Files.DeleteTree(dir));

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
        var config = new ContainerConfig(id, name, hostname, process.Command, Environment(options, imageConfig, hostname),
            process.WorkingDirectory, volumes, rootfsPath, rootfsId, image, DateTime.UtcNow, process.User, options.Security, options.GroupAdd,
            options.AutoRemove, options.Restart.Mode == RestartMode.No ? null : options.Restart,
            options.Init, options.Interactive, options.LogMaxSize, options.LogMaxFiles,
            options.Limits.IsEmpty ? null : options.Limits, options.Network,
            options.AutoRemove ? options.ExitCommand?.Invoke(id) : null, options.Bundle);
        // Above the descriptors the launcher is given (0 to 5), which its spawn overwrites.
        held = Libc.DupAbove(Files.WriteAtomicHeld(Paths.ContainerRecord(id), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(config, Json.Default.ContainerConfig)), 10);
        return config;
    }

    static UnicornException RootfsPathNotFound(string path) => new("RootfsNotFound", ErrorKind.ObjectNotFound,
        $"The root filesystem '{path}' does not exist. Give a directory, or pipe in New-UnicornRootfs.", path);

    /// <summary>Parks the init of a container whose record exists (just created, or ended and
    /// to be started again): its spec, cgroup, supervisor and init, connected to networks,
    /// waiting for the go-ahead. held is the record's lock, handed to the supervisor (and -1
    /// once it is). What it makes goes onto undo, which the parked container owns from then
    /// on; when it throws, nothing of the launch runs or writes any more (undo is the caller's).</summary>
    Parked Park(ContainerConfig config, ref int held, bool attach, IReadOnlyList<Network.BridgeOptions> networks, Rollback undo, Action<string>? log)
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
            SpecFile spec;
            if (config.Bundle is { } bundle) // its config's process, mounts, confinement and cgroup
            {
                devices = false; // the config's device rules are in place already
                spec = BundleSpec(config, bundle, attach, undo);
            }
            else
            {
                var binds = config.Volumes.Concat(new[] { "hostname", "hosts", "resolv.conf" }
                    .Select(f => new VolumeMount(Path.Combine(dir, f), "/etc/" + f, ReadOnly: false)));
                // Limits hold from the command's first instruction: the launcher puts its init into
                // the cgroup without a process migration (see SpecFile.Cgroup).
                spec = SpecFile.For(config, binds, Paths.LogFile(id), attach, config.Init, config.Interactive)
                    .LogRotation(config.LogMaxSize, config.LogMaxFiles);
                spec.User(config.User, config.GroupAdd, config.RootfsPath).Restart(config.Restart);
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
            }
            // Detached only: an engine that waits removes the container itself once it has ended.
            if (!attach && config.ExitCommand is { Length: > 0 } exit)
                spec.ExitCommand(exit, ExitCommandEnvironment());
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
            return new Parked(this, config, launcher, (pid.Pid, pid.StartTime), attach, undo, log);
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

    /// <summary>A created container whose init waits for the go-ahead (see <see cref="Create"/>).</summary>
    public sealed class Parked : IDisposable
    {
        readonly ContainerEngine engine;
        readonly ContainerConfig config;
        readonly Launcher launcher;
        readonly (int Pid, ulong StartTime) init;
        readonly bool attach;
        readonly Rollback undo;
        readonly Action<string>? log;
        bool ended;

        internal Parked(ContainerEngine engine, ContainerConfig config, Launcher launcher, (int, ulong) init, bool attach, Rollback undo, Action<string>? log) =>
            (this.engine, this.config, this.launcher, this.init, this.attach, this.undo, this.log) = (engine, config, launcher, init, attach, undo, log);

        public string Id => config.Id;

        /// <summary>The init's pid on the host.</summary>
        public int Pid => init.Pid;

        /// <summary>The go-ahead: the init runs the command. Returns once it has (the supervisor
        /// has written the start record, so the container is Running whatever becomes of this
        /// process; before, the init may still be setting up, with the host's root in its mount
        /// namespace, where no exec may join). A failure undoes everything and throws.</summary>
        public Started Start()
        {
            try
            {
                launcher.Go();
                launcher.ExpectStarted(config.Command[0], config.Name);
            }
            catch
            {
                Dispose();
                throw;
            }
            ended = true;
            undo.Commit();
            log?.Invoke($"{config.Name} runs as pid {init.Pid}.");
            return new Started(engine, Id, launcher, attach);
        }

        /// <summary>Not started: the init is killed (the command must not run unrecorded), and
        /// all that its creation made is undone.</summary>
        public void Dispose()
        {
            if (ended)
                return;
            ended = true;
            SignalProcess(init.Pid, init.StartTime, Signals.SIGKILL);
            launcher.Abort();
            launcher.Dispose();
            undo.Dispose();
        }
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
}
