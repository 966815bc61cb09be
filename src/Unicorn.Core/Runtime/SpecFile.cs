using System.Text;

namespace Unicorn;

/// <summary>Writes the launcher's spec: NUL-terminated strings, each key followed by its
/// values (src/launcher/README.md).</summary>
public sealed class SpecFile
{
    readonly MemoryStream _bytes = new();

    /// <summary>Adds a record. A NUL inside a value would end it early and start a record of
    /// the caller's choosing (an image's Env "X=1\0bind\0/\0/host\0rw" binds the host's root),
    /// so it is refused here, the one place every value passes, whatever its source.</summary>
    public SpecFile Add(string key, params string[] values)
    {
        foreach (var v in values)
            if (v.Contains('\0'))
                throw new UnicornException("InvalidCharacter", ErrorKind.InvalidArgument,
                    $"The value '{v.Replace('\0', '?')}' for '{key}' holds a NUL character, which no program can receive. Remove it (check the image's config and the parameters).", v);
        foreach (var s in values.Prepend(key))
        {
            _bytes.Write(Encoding.UTF8.GetBytes(s));
            _bytes.WriteByte(0);
        }
        return this;
    }

    public byte[] ToArray() => _bytes.ToArray();

    /// <summary>The spec of a container (launcher run mode).</summary>
    public static SpecFile For(ContainerConfig c, IEnumerable<VolumeMount> binds, string log, bool attach, bool init, bool tty)
    {
        var spec = Process(c.Command, c.Environment, c.WorkingDirectory)
            .Add("rootfs", c.RootfsPath).Add("hostname", c.Hostname).Add("log", log);
        if (attach)
            spec.Add("attach", "1");
        if (init)
            spec.Add("init", "1");
        if (tty)
            spec.Add("tty", "1");
        foreach (var v in binds)
            spec.Add("bind", v.Source, v.Destination, v.ReadOnly ? "ro" : "rw");
        return spec;
    }

    /// <summary>The log's rotation: past maxSize bytes (0: never) container.log becomes
    /// container.log.1, and so on, maxFiles files in all.</summary>
    public SpecFile LogRotation(long maxSize, int maxFiles) =>
        Add("logmaxsize", maxSize.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Add("logmaxfiles", maxFiles.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>What the supervisor runs once the container's end is recorded (a -Rm container's
    /// removal): the program and its arguments, and its whole environment.</summary>
    public SpecFile ExitCommand(IEnumerable<string> command, IEnumerable<string> environment)
    {
        foreach (var a in command)
            Add("exitarg", a);
        foreach (var e in environment)
            Add("exitenv", e);
        return this;
    }

    /// <summary>The user the process runs as (numbers resolved from the rootfs), if not root.</summary>
    public SpecFile User(string? user, string[]? groupAdd, string rootfs) =>
        user is null && groupAdd is not { Length: > 0 } ? this : Add("user", UserSpec.Resolve(user ?? "0", rootfs, groupAdd).SpecValue);

    /// <summary>The container's cgroup, which the process is in before its first instruction:
    /// the v2 directory it is born in, the v1 directories it joins.</summary>
    public SpecFile Cgroup(CgroupManager? cgroups, string id)
    {
        if (cgroups is null)
            return this;
        var v2 = cgroups.V2Dir(id);
        foreach (var dir in cgroups.ExistingDirs(id))
            Add(dir == v2 ? "cgroup2" : "cgroup", dir);
        return this;
    }

    /// <summary>A process's command, environment and working directory (all exec mode reads).</summary>
    public static SpecFile Process(IEnumerable<string> command, IEnumerable<string> environment, string workingDirectory)
    {
        var spec = new SpecFile().Add("cwd", workingDirectory);
        foreach (var a in command)
            spec.Add("arg", a);
        foreach (var e in environment)
            spec.Add("env", e);
        return spec;
    }
}
