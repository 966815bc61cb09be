using System.Globalization;
using System.Text;
using System.Text.Json;
using Unicorn.Runtime;

namespace Unicorn.Oci;

/// <summary>The commands: parse what runc's flags say, call the runtime, print what runc prints.</summary>
static class Commands
{
    public static int Run(CommandLine line)
    {
        if (line.Value("rootless") is "true")
            throw new UnicornException("OciRootlessUnsupported", ErrorKind.NotImplemented,
                "rootless containers are not supported yet: run unicorn as root (--rootless false or auto)", null);
        switch (line.Command)
        {
            case "features":
                Output.Out(OciFeatures.Json() + "\n");
                return 0;
            case "spec":
                return Spec(line);
        }
        if (line.Has("systemd-cgroup") && line.Command is "create" or "run")
            throw new UnicornException("OciSystemdCgroup", ErrorKind.NotImplemented, Directory.Exists("/run/systemd/system")
                ? "--systemd-cgroup: the systemd cgroup driver is not supported yet; drop the flag (cgroupfs paths work)"
                : "--systemd-cgroup needs systemd, which this machine does not run (no /run/systemd/system); drop the flag (cgroupfs paths work)", null);
        if (Native.Libc.EffectiveUid != 0)
            throw new UnicornException("RootRequired", ErrorKind.PermissionDenied,
                $"unicorn needs root (it mounts, makes namespaces and cgroups); uid {Native.Libc.EffectiveUid} may not", null);
        var runtime = new OciRuntime(line.Value("root") ?? OciRuntime.DefaultRoot,
            Path.Combine(AppContext.BaseDirectory, "..")); // out/Unicorn/bin/unicorn: the launcher is in out/Unicorn
        switch (line.Command)
        {
            case "create":
                runtime.Create(line.Id, line.Value("bundle") ?? ".", CreateOptions(line));
                return 0;
            case "run":
                return runtime.Run(line.Id, line.Value("bundle") ?? ".", CreateOptions(line), line.Has("detach"));
            case "start":
                runtime.Start(line.Id);
                return 0;
            case "state":
                Output.Out(JsonSerializer.Serialize(runtime.State(line.Id), OciStateJson.Default.OciState) + "\n");
                return 0;
            case "kill":
                runtime.Kill(line.Id, Signals.Parse(line.Arguments.Count > 1 ? line.Arguments[1] : "TERM"), line.Has("all"));
                return 0;
            case "delete":
                runtime.Delete(line.Id, line.Has("force"));
                return 0;
            case "exec":
                return runtime.Exec(line.Id, ExecProcess(runtime, line), new OciRuntime.ExecOptions(line.Value("pid-file"),
                    line.Value("console-socket"), line.Int("preserve-fds"), line.Has("detach")));
            case "ps":
                return Ps(runtime, line);
            case "pause":
            case "resume":
                runtime.Pause(line.Id, line.Command == "pause");
                return 0;
            case "update":
                runtime.Update(line.Id, UpdateLimits(line));
                return 0;
            case "list":
                return List(runtime, line);
            default:
                throw CommandLine.Usage($"unknown command '{line.Command}'");
        }
    }

    static OciRuntime.CreateOptions CreateOptions(CommandLine line) =>
        new(line.Value("pid-file"), line.Value("console-socket"), line.Int("preserve-fds"), line.Has("no-pivot"));

    /// <summary>exec's process: --process's file, or (runc's other form) the container's own
    /// process with the arguments after the id, and --cwd, --env, --user, --tty on top.</summary>
    static OciProcess ExecProcess(OciRuntime runtime, CommandLine line)
    {
        if (line.Value("process") is { } file)
            return OciProcess.Load(file);
        if (line.Arguments.Count < 2)
            throw CommandLine.Usage("exec needs a command after the container id, or --process <process.json>");
        var user = line.Value("user") is { } u ? u.Split(':') : null;
        uint id(string text) => uint.TryParse(text, CultureInfo.InvariantCulture, out var n) ? n
            : throw CommandLine.Usage($"invalid user or group \"{text}\": give numbers (uid[:gid])");
        var process = runtime.ProcessOf(line.Id);
        process = process with
        {
            Args = line.Arguments.Skip(1).ToArray(),
            Env = [.. process.Env ?? [], .. line.Values("env")],
            Cwd = line.Value("cwd") ?? process.Cwd,
            Terminal = line.Has("tty"),
            NoNewPrivileges = process.NoNewPrivileges || line.Has("no-new-privs"),
            User = user is null ? process.User : process.User with
            {
                Uid = id(user[0]),
                Gid = user.Length > 1 ? id(user[1]) : 0,
                AdditionalGids = [.. line.Values("additional-gids").Select(id)],
            },
        };
        OciValidation.Process(process, "");
        return process;
    }

    /// <summary>update's limits: --resources (a file, or - for stdin) of OCI linux.resources, or runc's flags.</summary>
    static Cgroups.CgroupLimits UpdateLimits(CommandLine line)
    {
        if (line.Value("resources") is { } source)
        {
            if (source != "-")
                return OciResources.Limits(OciResources.Load(source));
            using var stdin = new MemoryStream();
            Console.OpenStandardInput().CopyTo(stdin);
            return OciResources.Limits(OciResources.Parse(stdin.ToArray()));
        }
        long? number(string name) => line.Value(name) is { } v
            ? long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw CommandLine.Usage($"invalid value \"{v}\" for flag --{name}")
            : null;
        ulong? positive(string name) => number(name) is { } n ? (ulong)Math.Max(n, 0) : null;
        var resources = new LinuxResources
        {
            Memory = number("memory") is null && number("memory-swap") is null ? null : new OciMemory { Limit = number("memory"), Swap = number("memory-swap") },
            Cpu = new OciCpu { Shares = positive("cpu-shares"), Quota = number("cpu-quota"), Period = positive("cpu-period"), Cpus = line.Value("cpuset-cpus") },
            Pids = number("pids-limit") is { } pids ? new OciPids { Limit = pids } : null,
            BlockIo = number("blkio-weight") is { } weight ? new OciBlockIo { Weight = (ushort)weight } : null,
        };
        return OciResources.Limits(resources);
    }

    static int Ps(OciRuntime runtime, CommandLine line)
    {
        var pids = runtime.Processes(line.Id);
        if (line.Value("format") is "json")
        {
            Output.Out(JsonSerializer.Serialize(pids, OciStateJson.Default.Int32Array) + "\n");
            return 0;
        }
        var table = new StringBuilder("PID     CMD\n");
        foreach (var pid in pids)
        {
            string cmd;
            try { cmd = File.ReadAllText($"/proc/{pid}/cmdline").TrimEnd('\0').Replace('\0', ' '); }
            catch (IOException) { continue; } // ended meanwhile
            table.Append(CultureInfo.InvariantCulture, $"{pid,-7} {cmd}\n");
        }
        Output.Out(table.ToString());
        return 0;
    }

    static int List(OciRuntime runtime, CommandLine line)
    {
        var states = runtime.List().Select(id => { try { return runtime.State(id); } catch (UnicornException) { return null; } })
            .OfType<OciState>().ToList();
        if (line.Has("quiet"))
            states.ForEach(s => Output.Out(s.Id + "\n"));
        else
        {
            var table = new StringBuilder("ID          PID         STATUS      BUNDLE      CREATED                          OWNER\n");
            foreach (var s in states)
                table.Append(CultureInfo.InvariantCulture, $"{s.Id,-11} {s.Pid,-11} {s.Status,-11} {s.Bundle,-11} {s.Created:O} root\n");
            Output.Out(table.ToString());
        }
        return 0;
    }

    static int Spec(CommandLine line)
    {
        if (line.Has("rootless"))
            throw new UnicornException("OciRootlessUnsupported", ErrorKind.NotImplemented, "rootless containers are not supported yet", null);
        var path = Path.Combine(line.Value("bundle") ?? ".", "config.json");
        if (File.Exists(path))
            throw new UnicornException("OciConfigExists", ErrorKind.ResourceExists, "File config.json exists. Remove it first", path);
        File.WriteAllText(path, OciConfig.Default().ToJson() + "\n");
        return 0;
    }

    /// <summary>An error as runc reports it: a line on stderr, and in --log (json: a logrus record,
    /// whose msg the containerd shim shows; text: logrus's text form). Exit code 1.</summary>
    public static int Fail(CommandLine? line, string message)
    {
        Output.Error(message + "\n");
        if (line?.Value("log") is { } log)
        {
            var time = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture);
            var entry = line.Value("log-format") == "json"
                ? $"{{\"level\":\"error\",\"msg\":{Quote(message)},\"time\":\"{time}\"}}\n"
                : $"time=\"{time}\" level=error msg={Quote(message)}\n";
            try { File.AppendAllText(log, entry); }
            catch (IOException) { } // the message is on stderr all the same
        }
        return 1;
    }

    /// <summary>A message quoted as both JSON and logrus's text format (Go's %q) read it:
    /// backslash escapes for quotes, backslashes and control characters, the rest as it is.</summary>
    static string Quote(string text)
    {
        var quoted = new StringBuilder("\"");
        foreach (var c in text)
            quoted.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                < ' ' => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
                _ => c.ToString(),
            });
        return quoted.Append('"').ToString();
    }
}
