using System.Runtime.InteropServices;
using Unicorn.Native;
using Unicorn.Runtime;

namespace Unicorn.Oci;

public sealed partial class OciRuntime
{
    /// <summary>Signals a process in the foreground passes on to the container (runc's list).</summary>
    static readonly PosixSignal[] Forwarded =
        [PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP, PosixSignal.SIGQUIT, (PosixSignal)10 /* USR1 */, (PosixSignal)12 /* USR2 */];

    /// <summary>runc run: create and start; detached, return at once (the init is our caller's to
    /// reap); else become the init's reaper, pass signals on, and once it has ended delete the
    /// container and return its exit code. On a terminal without a console socket, the launcher
    /// relays it (and reaps the init) meanwhile, as runc does itself.</summary>
    public int Run(string id, string bundle, CreateOptions options, bool detach, Action<string>? log = null)
    {
        if (!detach)
            Libc.BecomeSubreaper(); // before the launcher ends: its orphan, the init, comes to us
        var (record, relay) = Create(id, bundle, options, foreground: !detach, log);
        using var relaying = relay; // disposed last: it ends once the init has (Delete kills it)
        try
        {
            Start(record);
        }
        catch
        {
            Delete(id, force: true);
            throw;
        }
        if (detach)
            return 0;
        int code;
        using (Forward(sig => KillInit(record, sig)))
            code = relay?.ReadExitCode() ?? Libc.WaitExitCode(record.Pid);
        Delete(id, force: true);
        return code;
    }

    /// <summary>Passes the signals a foreground runtime gets on to send (until disposed).</summary>
    static IDisposable Forward(Action<int> send)
    {
        var registrations = Forwarded.Select(s => PosixSignalRegistration.Create(s, context =>
        {
            context.Cancel = true;
            send((int)context.Signal switch
            {
                // .NET's own numbers for the signals it names; raw numbers pass as they are.
                (int)PosixSignal.SIGTERM => Signals.SIGTERM,
                (int)PosixSignal.SIGINT => 2,
                (int)PosixSignal.SIGHUP => 1,
                (int)PosixSignal.SIGQUIT => 3,
                var raw => raw,
            });
        })).ToList();
        return new Disposer(() => registrations.ForEach(r => r.Dispose()));
    }

    sealed class Disposer(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }

    /// <summary>The process container id was created with (the base of an exec given as arguments).</summary>
    public OciProcess ProcessOf(string id) => OciConfig.Load(Load(id).Bundle).Process!;

    /// <summary>What exec takes besides the process (runc's flags).</summary>
    public sealed record ExecOptions(string? PidFile = null, string? ConsoleSocket = null, int PreserveFds = 0, bool Detach = false);

    /// <summary>runc exec: a process in a running container, under the container's confinement
    /// (its seccomp filter, its cgroup) with the process's own user, capabilities and rlimits.
    /// Detached, returns once it runs (the caller's subreaper reaps it); else its exit code.</summary>
    public int Exec(string id, OciProcess process, ExecOptions options)
    {
        if (process.Terminal && options.ConsoleSocket is null && options.Detach)
            throw TerminalNeedsConsoleSocket(id);
        var r = Load(id);
        var status = Status(r);
        if (status != "running")
            throw new UnicornException("OciContainerNotRunning", ErrorKind.InvalidOperation,
                status == "paused" ? "cannot exec in a paused container" : $"cannot exec in a {status} container", id);
        var dir = Dir(id);
        var config = OciConfig.Load(r.Bundle); // the bundle lives as long as the container (runc keeps a copy)
        var spec = OciSpec.ForExec(process, config, r.Bundle, dir).Cgroup(Cgroups(r), r.CgroupName).PreserveFds(options.PreserveFds);
        if (options.ConsoleSocket is { } socket)
            spec.ConsoleSocket(Path.GetFullPath(socket));
        if (options.Detach)
            spec.Detach();
        var specFile = Path.Combine(dir, $"exec-{Ids.New()[..12]}.spec");
        Files.WritePrivate(specFile, spec.ToArray());
        try
        {
            using var launcher = Launcher.ExecOci(LauncherBinary, r.Pid, r.PidStartTime, specFile, Launcher.PreservedInPlace(options.PreserveFds));
            using var forward = options.Detach ? null : Forward(launcher.Signal);
            var command = process.Args![0];
            var pid = RuncWords(() => launcher.ReadPid(command, id), command);
            if (options.PidFile is { } pidFile)
                WritePidFile(pidFile, pid.Pid);
            RuncWords(() => launcher.ExpectStarted(command, id), command);
            if (!options.Detach)
                return launcher.ReadExitCode();
            launcher.Drain(); // the launcher ends at once; the process is our subreaper's
            return 0;
        }
        finally
        {
            File.Delete(specFile);
        }
    }
}
