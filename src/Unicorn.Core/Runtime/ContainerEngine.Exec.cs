using Unicorn.Native;

namespace Unicorn.Runtime;

public sealed partial class ContainerEngine
{
    /// <summary>Starts a process in a running container: in its namespaces, with its
    /// environment (plus options.Environment) and working directory. Throws when the container
    /// is not running or the command cannot be run; leaves nothing behind then.</summary>
    public ExecProcess Exec(string nameOrId, ExecOptions options)
    {
        var (c, start, specFile) = PrepareExec(nameOrId, options, tty: false);
        var (outRead, outWrite) = Libc.Pipe();
        var (errRead, errWrite) = Libc.Pipe();
        var (inRead, inWrite) = options.Stdin ? Libc.Pipe() : (-1, -1);
        Launcher? launcher = null;
        try
        {
            launcher = Launcher.Exec(LauncherBinary, start.Pid, start.PidStartTime, specFile, outWrite, errWrite, inRead >= 0 ? inRead : null);
            // The process's ends are its own now: ours closed, so that EOF comes when it (or we) close theirs.
            foreach (var fd in new[] { outWrite, errWrite, inRead }.Where(fd => fd >= 0))
                Libc.Close(fd);
            outWrite = errWrite = inRead = -1;
            var pid = AwaitExecStart(launcher, options, c);
            return new ExecProcess(launcher, specFile, pid.Pid, pid.StartTime, outRead, errRead, inWrite);
        }
        catch
        {
            launcher?.Dispose();
            foreach (var fd in new[] { outRead, errRead, outWrite, errWrite, inRead, inWrite }.Where(fd => fd >= 0))
                Libc.Close(fd);
            File.Delete(specFile);
            throw;
        }
    }

    /// <summary>An interactive session: the command on a pseudo-terminal of the container's own,
    /// relayed to our terminal until it exits. Returns its exit code.</summary>
    public int Enter(string nameOrId, ExecOptions options)
    {
        var (c, start, specFile) = PrepareExec(nameOrId, options, tty: true);
        try
        {
            using var launcher = Launcher.Exec(LauncherBinary, start.Pid, start.PidStartTime, specFile, null, null);
            AwaitExecStart(launcher, options, c);
            return launcher.ReadExitCode();
        }
        finally
        {
            File.Delete(specFile);
        }
    }

    (Container, StartRecord, string SpecFile) PrepareExec(string nameOrId, ExecOptions options, bool tty)
    {
        StartOptions.ValidateProcess(options.Command, options.Environment, options.WorkingDirectory);
        var c = Get(nameOrId);
        if (c.State != ContainerState.Running || ReadStart(c.Id) is not { } start)
            throw NotRunning(c.Name);
        var config = Files.ReadJson(Path.Combine(Paths.ContainerDir(c.Id), "config.json"), Json.Default.ContainerConfig) ?? throw NotFound(nameOrId);

        var env = config.Environment.Select(e => e.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");
        foreach (var (k, v) in options.Environment)
            env[k] = v;
        if (tty)
            env.TryAdd("TERM", TtyTerm);
        var spec = SpecFile.Process(options.Command, env.Select(kv => $"{kv.Key}={kv.Value}"), options.WorkingDirectory ?? config.WorkingDirectory);
        spec.Tty(tty).User(config.User, config.GroupAdd, config.RootfsPath).Cgroup(CgroupOf(c.Id), c.Id);
        config.Security?.AddTo(spec, Paths.StateRoot, Paths.ContainerDir(c.Id), mounts: false); // as confined as the container
        foreach (var (source, destination) in options.PrivateBinds)
            spec.PrivateBind(source, destination);
        var specFile = Path.Combine(Paths.ContainerDir(c.Id), $"exec-{Ids.Short(Ids.New())}.spec");
        Files.WritePrivate(specFile, spec.ToArray());
        return (c, start, specFile);
    }

    static (int Pid, ulong StartTime, int Supervisor) AwaitExecStart(Launcher launcher, ExecOptions options, Container c)
    {
        var pid = launcher.ReadPid(options.Command[0], c.Name);
        launcher.ExpectStarted(options.Command[0], c.Name);
        return pid;
    }
}
