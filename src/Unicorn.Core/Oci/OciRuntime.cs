using System.Globalization;
using System.Text.RegularExpressions;
using Unicorn.Cgroups;
using Unicorn.Native;
using Unicorn.Runtime;

namespace Unicorn.Oci;

/// <summary>The OCI runtime (runc's command line, which `unicorn` is): containers of a bundle's
/// config.json, kept under a root of their own (--root), with no supervisor: the caller (conmon,
/// the containerd shim) is the subreaper that reaps the init. <see cref="Create"/> leaves the
/// init parked, set up and waiting on &lt;root&gt;/&lt;id&gt;/start.sock; <see cref="Start"/> lets
/// it run its command. The confinement is the engine's: the same launcher, spec and filters as
/// Start-UnicornContainer.</summary>
public sealed partial class OciRuntime(string root, string? launcherDirectory = null)
{
    /// <summary>runc's default is /run/runc; ours stays apart from the module's state (/run/unicorn).</summary>
    public const string DefaultRoot = "/run/unicorn-oci";

    /// <summary>The runtime-spec version this runtime implements.</summary>
    public const string OciVersion = "1.1.0";

    public string Root { get; } = Path.GetFullPath(root);

    string LauncherBinary => Launcher.BinaryPath(launcherDirectory);

    string Dir(string id) => Path.Combine(Root, CheckId(id));
    string RecordPath(string id) => Path.Combine(Dir(id), "state.json");

    /// <summary>runc's rule for ids: letters, digits, _ + - and dots, no path.</summary>
    [GeneratedRegex(@"\A[\w+\-.]+\z")]
    private static partial Regex IdPattern();

    static string CheckId(string id) =>
        IdPattern().IsMatch(id) && id is not "." and not ".." ? id
        : throw new UnicornException("OciInvalidId", ErrorKind.InvalidArgument,
            $"invalid container id '{id}': use letters, digits, '_', '+', '-' and '.' only", id);

    static UnicornException NotExist(string id) =>
        new("OciContainerNotFound", ErrorKind.ObjectNotFound, $"container \"{id}\" does not exist", id);

    /// <summary>The record of container id (its init, bundle and cgroup), or a "does not exist"
    /// error (the words podman and containerd look for).</summary>
    public OciRecord Load(string id)
    {
        try
        {
            return ReadRecord(id) ?? throw NotExist(id);
        }
        catch (CorruptStateException e) when (e.ContainerId is null)
        {
            throw new CorruptStateException(e.Path, e.Reason, $"Remove the container with 'unicorn delete --force {id}'.", e) { ContainerId = id };
        }
    }

    OciRecord? ReadRecord(string id) => Files.Read(RecordPath(id), bytes => JsonFields.Parse(bytes, OciRecord.From));

    /// <summary>The ids of the containers under this root.</summary>
    public IEnumerable<string> List() => Directory.Exists(Root)
        ? Directory.EnumerateDirectories(Root).Select(d => Path.GetFileName(d)).Where(d => File.Exists(Path.Combine(Root, d, "state.json")))
        : [];

    CgroupManager Cgroups(OciRecord r) => CgroupManager.FromEnvironment().WithParent(r.CgroupParent);

    /// <summary>created (parked, waiting for start), running, paused (frozen) or stopped, read from
    /// the kernel: the init by pid and start time (a zombie not yet reaped has stopped).</summary>
    public string Status(OciRecord r)
    {
        if (!ProcFs.IsAlive(r.Pid, r.PidStartTime))
            return "stopped";
        if (File.Exists(Path.Combine(Dir(r.Id), Launcher.StartSocket)))
            return "created";
        return Cgroups(r).IsFrozen(r.CgroupName) ? "paused" : "running";
    }

    /// <summary>The state document (runtime-spec state.md): pid 0 once stopped, as runc shows it.</summary>
    public OciState State(string id)
    {
        var r = Load(id);
        var status = Status(r);
        return new OciState(OciVersion, r.Id, status, status == "stopped" ? 0 : r.Pid, r.Bundle, r.Rootfs, r.Created, "", r.Annotations);
    }

    /// <summary>What create and run take besides the bundle (runc's flags).</summary>
    public sealed record CreateOptions(string? PidFile = null, string? ConsoleSocket = null, int PreserveFds = 0, bool NoPivot = false);

    /// <summary>runc create: the container's cgroup, and its init set up in its namespaces and
    /// parked (created), a child of ours until we end and then of our subreaper. Its stdio is
    /// ours. A failure leaves nothing: no cgroup, no state, no process.</summary>
    public OciRecord Create(string id, string bundle, CreateOptions options, Action<string>? log = null) =>
        Create(id, bundle, options, foreground: false, log).Record;

    /// <summary><see cref="Create(string, string, CreateOptions, Action{string}?)"/>; in the
    /// foreground (run without --detach) a terminal without a console socket is ours, as runc
    /// gives it: the launcher stays, the init's parent, relays the terminal to our stdin and
    /// stdout (raw while it runs) and reports the exit: Relay (else null).</summary>
    (OciRecord Record, Launcher? Relay) Create(string id, string bundle, CreateOptions options, bool foreground, Action<string>? log)
    {
        bundle = Path.GetFullPath(bundle);
        var config = OciConfig.Load(bundle);
        bool relay = config.Process!.Terminal && options.ConsoleSocket is null;
        if (relay && !foreground)
            throw TerminalNeedsConsoleSocket(id);
        Directory.CreateDirectory(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var dir = Dir(id);
        // mkdir, not CreateDirectory: the one create of an id that may make it.
        if (Libc.TryMkdirAt(Libc.AtCwd, dir, 0b111_000_000) is var err and not 0)
            throw err == Errno.EEXIST
                ? new UnicornException("OciContainerExists", ErrorKind.ResourceExists, $"container with id exists: {id}", id)
                : new NativeException(err, "mkdir", dir);
        using var undo = new Rollback(log);
        undo.Push(() => Files.DeleteTree(dir));
        Launcher? launcher = null;
        undo.Push(() => launcher?.Dispose()); // after the cgroup's removal, which ends a relaying launcher's init

        // Recorded before anything else is made, without a pid: a create killed from here on
        // leaves a container that delete finds, and whose cgroup it empties (a parked init included).
        var (parent, name) = config.CgroupPath(id);
        var command = config.Process!.Args![0];
        var record = new OciRecord(id, 0, 0, command, bundle, OciSpec.RootfsPath(config, bundle), DateTime.UtcNow, parent, name, config.Annotations);
        Save(record);

        var cgroups = CgroupManager.FromEnvironment().WithParent(parent);
        // Every container has a cgroup in every hierarchy, limits or not: kill --all, ps, pause
        // (the freezer) and the container's own /sys/fs/cgroup work on it.
        cgroups.Create(name, OciResources.Limits(config.Linux?.Resources), everyController: true);
        undo.Push(() => cgroups.Remove(name));
        cgroups.ApplyDeviceRules(name, OciResources.DeviceRules(config.Linux?.Resources));

        var spec = OciSpec.ForInit(config, bundle, dir, cgroups, name).Cgroup(cgroups, name).PreserveFds(options.PreserveFds);
        if (options.ConsoleSocket is { } socket)
            spec.ConsoleSocket(Path.GetFullPath(socket));
        if (options.NoPivot)
            spec.NoPivot();
        Files.WritePrivate(Path.Combine(dir, "spec"), spec.ToArray());

        launcher = Launcher.Create(LauncherBinary, dir, options.PreserveFds);
        var pid = RuncWords(() => launcher.ReadPid(command, id), command);
        RuncWords(() => launcher.ExpectCreated(command, id, relay), command);
        record = record with { Pid = pid.Pid, PidStartTime = pid.StartTime };
        Save(record);
        if (options.PidFile is { } pidFile)
            WritePidFile(pidFile, pid.Pid);
        undo.Commit();
        if (relay)
            return (record, launcher);
        launcher.Dispose();
        return (record, null);
    }

    /// <summary>A terminal with no console socket to send it to, and no one to relay it: runc's words.</summary>
    static UnicornException TerminalNeedsConsoleSocket(string id) => new("OciTerminalNeedsConsoleSocket", ErrorKind.InvalidArgument,
        "cannot allocate tty if unicorn will detach without setting console socket: give --console-socket, "
        + "run in the foreground (without --detach), or set process.terminal to false", id);

    /// <summary>The record, replaced whole. Not durable: it lives in /run, as the processes it names.</summary>
    void Save(OciRecord r) => Files.WriteJson(RecordPath(r.Id), r, OciStateJson.Default.OciRecord, durable: false);

    /// <summary>A command that could not be executed, in runc's words: podman maps them to its
    /// exit codes (127 for "no such file or directory" and "executable file not found", 126 for
    /// "permission denied"), containerd shows them.</summary>
    static T RuncWords<T>(Func<T> launch, string command)
    {
        try
        {
            return launch();
        }
        catch (UnicornException e) when (e.ErrorId is "ExecutableNotFound" or "ExecutableNotExecutable")
        {
            var why = e.ErrorId == "ExecutableNotExecutable" ? "permission denied"
                : command.Contains('/') ? $"stat {command}: no such file or directory"
                : "executable file not found in $PATH";
            throw new UnicornException(e.ErrorId, e.Kind, $"unable to start container process: exec: \"{command}\": {why}", command, e);
        }
    }

    static void RuncWords(Action launch, string command) => RuncWords(() => { launch(); return 0; }, command);

    /// <summary>The pid file conmon and the shim read: written whole (a rename), as runc does.</summary>
    public static void WritePidFile(string path, int pid) =>
        Files.WriteAtomic(Path.GetFullPath(path), System.Text.Encoding.ASCII.GetBytes(pid.ToString(CultureInfo.InvariantCulture)), durable: false);

    /// <summary>runc start: the parked init runs the container's command.</summary>
    public void Start(string id) => Start(Load(id));

    void Start(OciRecord r)
    {
        switch (Status(r))
        {
            case "created":
                RuncWords(() => Launcher.Go(Dir(r.Id), r.Command, r.Id), r.Command);
                return;
            case "stopped":
                throw NotCreated(r.Id, "cannot start a container that has stopped");
            default:
                throw NotCreated(r.Id, "cannot start an already running container");
        }
    }

    static UnicornException NotCreated(string id, string message) => new("OciContainerNotCreated", ErrorKind.InvalidOperation, message, id);

    /// <summary>runc kill: signal the init (--all: every process of its cgroup, frozen meanwhile so
    /// that none forks away). A stopped container: "container not running", as runc says it.</summary>
    public void Kill(string id, int signal, bool all)
    {
        var r = Load(id);
        if (all)
        {
            KillAll(r, signal);
            return;
        }
        if (!KillInit(r, signal))
            throw new UnicornException("OciContainerNotRunning", ErrorKind.InvalidOperation, "container not running", id);
    }

    /// <summary>Signals the init through a pidfd (never a later process that took its pid).
    /// False if it has ended.</summary>
    static bool KillInit(OciRecord r, int signal)
    {
        int fd = Libc.PidfdOpenChecked(r.Pid, r.PidStartTime);
        if (fd < 0)
            return false;
        try { return ProcFs.IsAlive(r.Pid, r.PidStartTime) && Libc.PidfdSignal(fd, signal); }
        finally { Libc.Close(fd); }
    }

    void KillAll(OciRecord r, int signal)
    {
        var cgroups = Cgroups(r);
        bool freeze = signal != Signals.SIGKILL && !cgroups.IsFrozen(r.CgroupName);
        if (freeze)
            cgroups.Freeze(r.CgroupName, true);
        try
        {
            foreach (var pid in Processes(r))
            {
                int fd = Libc.PidfdOpen(pid);
                if (fd < 0)
                    continue;
                Libc.PidfdSignal(fd, signal);
                Libc.Close(fd);
            }
        }
        finally
        {
            if (freeze)
                cgroups.Freeze(r.CgroupName, false);
        }
    }

    /// <summary>The container's processes: every pid in its cgroup (host pids).</summary>
    public int[] Processes(OciRecord r) => Cgroups(r).ExistingDirs(r.CgroupName)
        .SelectMany(d => File.Exists(Path.Combine(d, "cgroup.procs")) ? File.ReadAllLines(Path.Combine(d, "cgroup.procs")) : [])
        .Select(l => int.Parse(l, CultureInfo.InvariantCulture)).Distinct().Order().ToArray();

    /// <summary>runc ps: the pids of container id.</summary>
    public int[] Processes(string id) => Processes(Load(id));

    /// <summary>runc delete: the cgroup and the state go. A container that runs is refused
    /// unless force (then every process is killed first); a created one is killed, as runc does.</summary>
    public void Delete(string id, bool force)
    {
        OciRecord? r;
        try
        {
            r = ReadRecord(id);
        }
        catch (CorruptStateException) when (force)
        {
            r = null;
        }
        if (r is null)
        {
            if (!force)
                throw NotExist(id);
            if (!Directory.Exists(Dir(id)))
                return; // gone already: runc's delete --force says nothing, and the shim counts on it
            // Damaged, or never written (a create killed at once): the cgroup the launcher's spec names, if any.
            r = RecordFromSpec(id);
            if (r is null)
            {
                Files.DeleteTree(Dir(id));
                return;
            }
        }
        var status = Status(r);
        if (status is "running" or "paused" && !force)
            throw new UnicornException("OciContainerRunning", ErrorKind.InvalidOperation,
                $"cannot delete container {id} that is not stopped: {status}", id);
        var cgroups = Cgroups(r);
        if (status != "stopped" || r.Pid == 0) // (a create that was killed: its init may be parked)
        {
            KillAll(r, Signals.SIGKILL);
            if (cgroups.IsFrozen(r.CgroupName)) // SIGKILL is taken by frozen tasks only once thawed
                cgroups.Freeze(r.CgroupName, false);
        }
        cgroups.Remove(r.CgroupName); // waits for the processes to go, killing them again
        Files.DeleteTree(Dir(id));
    }

    /// <summary>A stand-in record (no pid) for a container whose own cannot be read: its cgroup
    /// from the cgroup directories its launcher spec names (only those of this machine's
    /// hierarchies). Null without a spec, or a cgroup in it.</summary>
    OciRecord? RecordFromSpec(string id)
    {
        var spec = Path.Combine(Dir(id), "spec");
        if (!File.Exists(spec))
            return null;
        var layout = CgroupManager.FromEnvironment().Layout;
        foreach (var dir in SpecFile.CgroupDirs(File.ReadAllBytes(spec)))
            foreach (var c in layout.Controllers)
                if (dir.StartsWith(c.Mount.TrimEnd('/') + "/", StringComparison.Ordinal)
                    && Path.GetRelativePath(c.Mount, dir) is var relative && Path.GetFileName(relative) is { Length: > 0 } name)
                    return new OciRecord(id, 0, 0, "", "", "", default, Path.GetDirectoryName(relative) ?? "", name, null);
        return null;
    }

    /// <summary>runc pause and resume: the cgroup's freezer.</summary>
    public void Pause(string id, bool paused)
    {
        var r = Load(id);
        var status = Status(r);
        if (status is not ("running" or "paused"))
            throw new UnicornException("OciContainerNotRunning", ErrorKind.InvalidOperation, "container not running", id);
        Cgroups(r).Freeze(r.CgroupName, paused);
    }

    /// <summary>runc update: new limits on a container's cgroup.</summary>
    public void Update(string id, CgroupLimits limits)
    {
        var r = Load(id);
        if (Status(r) == "stopped")
            throw new UnicornException("OciContainerNotRunning", ErrorKind.InvalidOperation, "container not running", id);
        limits.Validate();
        Cgroups(r).Apply(r.CgroupName, limits);
    }
}
