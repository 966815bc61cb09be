using System.Globalization;
using System.Text;
using Unicorn.Cgroups;
using Unicorn.Oci;

namespace Unicorn.Runtime;

/// <summary>Writes the launcher's spec: NUL-terminated strings, each key followed by its
/// values (src/launcher/README.md). The one writer of spec keys: every key is a
/// <see cref="SpecKey"/>, every record a typed method.</summary>
public sealed class SpecFile
{
    /// <summary>The spec's keys, as the launcher spells them: the member's name in lower case
    /// (src/launcher/spec.c reads exactly these; a test holds the two and the README together).</summary>
    internal enum SpecKey
    {
        Rootfs, Hostname, Cwd, Arg, Env, Log, LogMaxSize, LogMaxFiles, Attach, Init, Tty, User,
        Cgroup2, Cgroup, Caps, NoNewPrivs, Seccomp, Rlimit, Mask, ReadOnly, Tmpfs, RootReadOnly, Devices,
        Restart, ExitArg, ExitEnv,
        // The OCI face (runtime-spec config.json), which the launcher's create mode runs:
        Mount, Device, Namespace, Sysctl, OomScoreAdj, Umask, ConsoleSocket, ConsoleSize, RootPropagation,
        NoPivot, PreserveFds, Detach,
        // exec, for the process alone:
        PrivateBind,
    }

    static readonly string[] KeyNames = [.. Enum.GetNames<SpecKey>().Select(n => n.ToLowerInvariant())];

    /// <summary>Every key the engine can write.</summary>
    internal static IReadOnlyList<string> Keys => KeyNames;

    readonly MemoryStream _bytes = new();

    /// <summary>Adds a record. A NUL inside a value would end it early and start a record of
    /// the caller's choosing (an image's Env "X=1\0bind\0/\0/host\0rw" binds the host's root),
    /// so it is refused here, the one place every value passes, whatever its source.</summary>
    SpecFile Add(SpecKey key, params string[] values)
    {
        var name = KeyNames[(int)key];
        foreach (var v in values)
            if (v.Contains('\0'))
                throw new UnicornException("InvalidCharacter", ErrorKind.InvalidArgument,
                    $"The value '{v.Replace('\0', '?')}' for '{name}' holds a NUL character, which no program can receive. Remove it (check the image's config and the parameters).", v);
        foreach (var s in values.Prepend(name))
        {
            _bytes.Write(Encoding.UTF8.GetBytes(s));
            _bytes.WriteByte(0);
        }
        return this;
    }

    SpecFile Flag(SpecKey key, bool on = true) => on ? Add(key, "1") : this;

    static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);

    public byte[] ToArray() => _bytes.ToArray();

    /// <summary>The directories of a spec's cgroup and cgroup2 records: what the cleanup of a
    /// container whose own record is damaged still finds. A value is not told from a key here
    /// (an argument may read "cgroup"), so the caller takes only directories it can vouch for.</summary>
    public static IEnumerable<string> CgroupDirs(byte[] spec)
    {
        var words = Encoding.UTF8.GetString(spec).Split('\0');
        for (int i = 0; i + 1 < words.Length; i++)
            if (words[i] == KeyNames[(int)SpecKey.Cgroup] || words[i] == KeyNames[(int)SpecKey.Cgroup2])
                yield return words[i + 1];
    }

    /// <summary>The spec of a container (launcher run mode).</summary>
    public static SpecFile For(ContainerConfig c, IEnumerable<VolumeMount> binds, string log, bool attach, bool init, bool tty)
    {
        var spec = Process(c.Command, c.Environment, c.WorkingDirectory)
            .Rootfs(c.RootfsPath).Hostname(c.Hostname).Supervised(log, attach, init).Tty(tty)
            .Mounts(DefaultMounts);
        foreach (var v in binds) // Docker's volumes: the mounts below the source too, ro all the way down
            spec.OciMount("bind", v.Source, v.Destination, ["rbind", v.ReadOnly ? "ro" : "rw"]);
        return spec;
    }

    /// <summary>What the supervisor does with the container's output (run mode): its log, and with
    /// attach ours too; with init, a tiny init as pid 1.</summary>
    public SpecFile Supervised(string log, bool attach, bool init) => Log(log).Flag(SpecKey.Attach, attach).Flag(SpecKey.Init, init);

    /// <summary>A process's command, environment and working directory (all exec mode reads).</summary>
    public static SpecFile Process(IEnumerable<string> command, IEnumerable<string> environment, string workingDirectory)
    {
        var spec = new SpecFile().Add(SpecKey.Cwd, workingDirectory);
        foreach (var a in command)
            spec.Add(SpecKey.Arg, a);
        foreach (var e in environment)
            spec.Add(SpecKey.Env, e);
        return spec;
    }

    /// <summary>exec: the host directory source bound read-only (nosuid, nodev) at destination
    /// (inside the container, made if missing) for this process alone, in a mount namespace of
    /// its own: neither the container nor another exec sees it.</summary>
    public SpecFile PrivateBind(string source, string destination) => Add(SpecKey.PrivateBind, source, destination);

    /// <summary>The root filesystem (a host path; run mode).</summary>
    public SpecFile Rootfs(string path) => Add(SpecKey.Rootfs, path);

    /// <summary>The container's hostname (it needs a UTS namespace of its own).</summary>
    public SpecFile Hostname(string name) => Add(SpecKey.Hostname, name);

    /// <summary>The log file the supervisor writes the container's output to.</summary>
    public SpecFile Log(string path) => Add(SpecKey.Log, path);

    /// <summary>The process on a pseudo-terminal of the container's, relayed to the launcher's stdio.</summary>
    public SpecFile Tty(bool tty = true) => Flag(SpecKey.Tty, tty);

    /// <summary>The log's rotation: past maxSize bytes (0: never) container.log becomes
    /// container.log.1, and so on, maxFiles files in all.</summary>
    public SpecFile LogRotation(long maxSize, int maxFiles) =>
        Add(SpecKey.LogMaxSize, Number(maxSize)).Add(SpecKey.LogMaxFiles, Number(maxFiles));

    /// <summary>The restart policy the supervisor carries out; none when null.</summary>
    public SpecFile Restart(RestartPolicy? policy) =>
        policy?.SpecValue is { } value ? Add(SpecKey.Restart, value) : this;

    /// <summary>What the supervisor runs once the container's end is recorded (a -Rm container's
    /// removal): the program and its arguments, and its whole environment.</summary>
    public SpecFile ExitCommand(IEnumerable<string> command, IEnumerable<string> environment)
    {
        foreach (var a in command)
            Add(SpecKey.ExitArg, a);
        foreach (var e in environment)
            Add(SpecKey.ExitEnv, e);
        return this;
    }

    /// <summary>The user the process runs as (numbers resolved from the rootfs), if not root.</summary>
    public SpecFile User(string? user, string[]? groupAdd, string rootfs) =>
        user is null && groupAdd is not { Length: > 0 } ? this : Add(SpecKey.User, UserSpec.Resolve(user ?? "0", rootfs, groupAdd).SpecValue);

    /// <summary>The container's cgroup, which the process is in before its first instruction:
    /// the v2 directory it is born in, the v1 directories it joins.</summary>
    public SpecFile Cgroup(CgroupManager? cgroups, string id)
    {
        if (cgroups is null)
            return this;
        var v2 = cgroups.V2Dir(id);
        foreach (var dir in cgroups.ExistingDirs(id))
            if (dir == v2)
                CgroupV2(dir);
            else
                CgroupV1(dir);
        return this;
    }

    /// <summary>A cgroup v2 directory the process is born in (clone3 CLONE_INTO_CGROUP).</summary>
    public SpecFile CgroupV2(string dir) => Add(SpecKey.Cgroup2, dir);

    /// <summary>A cgroup v1 directory the process joins before anything else.</summary>
    public SpecFile CgroupV1(string dir) => Add(SpecKey.Cgroup, dir);

    // The confinement (SecurityOptions.AddTo): what every process of a container gets ...

    /// <summary>The capabilities kept: the same mask bounding, permitted and effective, none
    /// inheritable or ambient (the PowerShell face); without it, all.</summary>
    public SpecFile Capabilities(ulong mask) => Capabilities(mask, mask, mask, 0, 0);

    /// <summary>The five capability sets, as OCI's process.capabilities gives them.</summary>
    public SpecFile Capabilities(ulong bounding, ulong effective, ulong permitted, ulong inheritable, ulong ambient) =>
        Add(SpecKey.Caps, [.. new[] { bounding, effective, permitted, inheritable, ambient }.Select(m => m.ToString("x", CultureInfo.InvariantCulture))]);

    /// <summary>no_new_privs before exec.</summary>
    public SpecFile NoNewPrivileges() => Flag(SpecKey.NoNewPrivs);

    /// <summary>A file of struct sock_filter, loaded last before exec.</summary>
    public SpecFile Seccomp(string filterFile) => Add(SpecKey.Seccomp, filterFile);

    /// <summary>An rlimit set before exec.</summary>
    public SpecFile Rlimit(int resource, ulong soft, ulong hard) =>
        Add(SpecKey.Rlimit, string.Create(CultureInfo.InvariantCulture, $"{resource}:{soft}:{hard}"));

    // ... and what its root gets (run mode only).

    /// <summary>A path masked: /dev/null over a file, an empty read-only tmpfs over a directory.</summary>
    public SpecFile Mask(string path) => Add(SpecKey.Mask, path);

    /// <summary>A path bound read-only on itself.</summary>
    public SpecFile ReadOnlyPath(string path) => Add(SpecKey.ReadOnly, path);

    /// <summary>A fresh tmpfs on a path.</summary>
    public SpecFile Tmpfs(string path) => Add(SpecKey.Tmpfs, path);

    /// <summary>Device nodes on the root work (-Privileged); otherwise its mount is nodev.</summary>
    public SpecFile Devices() => Flag(SpecKey.Devices);

    /// <summary>The root's own mount read-only.</summary>
    public SpecFile RootReadOnly() => Flag(SpecKey.RootReadOnly);

    // The OCI face: what a runtime-spec config.json asks beyond the PowerShell face's defaults.

    /// <summary>The mount flags the launcher knows (OCI's option words); anything else of a
    /// mount's options is the filesystem's data.</summary>
    public static readonly IReadOnlySet<string> MountFlags = new HashSet<string>
    {
        "bind", "rbind", "ro", "nosuid", "nodev", "noexec", "relatime", "noatime", "strictatime", "nodiratime",
        "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable", "tmpcopyup",
    };

    /// <summary>A mount, in the order given, after pivot_root: a new filesystem of type (proc,
    /// sysfs, tmpfs, devpts, mqueue, cgroup2), or with the flag bind/rbind the host path source
    /// bound. flags are words of <see cref="MountFlags"/> (tmpcopyup: a tmpfs that starts with a
    /// copy of what the directory held); data the filesystem's options ("mode=755,size=65536k").</summary>
    public SpecFile Mount(string type, string source, string destination, IEnumerable<string> flags, IEnumerable<string> data) =>
        Add(SpecKey.Mount, type, source, destination, string.Join(',', flags), string.Join(',', data));

    /// <summary>Every container's kernel filesystems, as runc's default config.json has them
    /// (without its cgroup mount; proc nosuid, noexec, nodev): what the PowerShell face mounts,
    /// and what `unicorn spec` writes. /dev being a tmpfs, the launcher makes the default devices
    /// in it.</summary>
    public static readonly IReadOnlyList<OciMount> DefaultMounts =
    [
        new() { Type = "proc", Source = "proc", Destination = "/proc", Options = ["nosuid", "noexec", "nodev"] },
        new() { Type = "tmpfs", Source = "tmpfs", Destination = "/dev", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
        new() { Type = "devpts", Source = "devpts", Destination = "/dev/pts", Options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
        new() { Type = "tmpfs", Source = "tmpfs", Destination = "/dev/shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
        new() { Type = "mqueue", Source = "mqueue", Destination = "/dev/mqueue", Options = ["nosuid", "noexec", "nodev"] },
        new() { Type = "sysfs", Source = "sysfs", Destination = "/sys", Options = ["nosuid", "noexec", "nodev", "ro"] },
    ];

    /// <summary>An OCI mount (config.json's type, source, destination, options) as a mount record:
    /// its option words split by <see cref="OciMounts.SplitOptions"/> (flags of
    /// <see cref="MountFlags"/>, the defaults dropped, the filesystem's data; what the launcher
    /// cannot honour refused); type "bind" is a bind without the word, as in runc and crun.</summary>
    public SpecFile OciMount(string type, string source, string destination, IEnumerable<string> options)
    {
        var (flags, data) = OciMounts.SplitOptions(options, $"the mount on {destination}");
        if (type == "bind" && !flags.Contains("bind") && !flags.Contains("rbind"))
            flags.Insert(0, "bind");
        return Mount(type, source, destination, flags, data);
    }

    /// <summary>OCI mounts, in order (<see cref="OciMount(string, string, string, IEnumerable{string})"/>).</summary>
    public SpecFile Mounts(IEnumerable<OciMount> mounts)
    {
        foreach (var m in mounts)
            OciMount(m.Type ?? "", m.Source ?? "", m.Destination, m.Options ?? []);
        return this;
    }

    /// <summary>A device node made in the container (c, b or p; mode the permission bits).</summary>
    public SpecFile Device(string path, char type, long major, long minor, int mode, uint uid, uint gid) =>
        Add(SpecKey.Device, path, type.ToString(), Number(major), Number(minor), Convert.ToString(mode, 8), Number(uid), Number(gid));

    /// <summary>A namespace of the container (pid, net, mnt, ipc, uts, cgroup): new, or the one
    /// at path joined. With any of these records the container has exactly those namespaces;
    /// without, the PowerShell face's five new ones.</summary>
    public SpecFile Namespace(string type, string? path) => Add(SpecKey.Namespace, type, path ?? "");

    /// <summary>A sysctl (kernel.shmmax) written in the container's /proc/sys before exec.</summary>
    public SpecFile Sysctl(string name, string value) => Add(SpecKey.Sysctl, name, value);

    /// <summary>The process's /proc/self/oom_score_adj.</summary>
    public SpecFile OomScoreAdj(int value) => Add(SpecKey.OomScoreAdj, Number(value));

    /// <summary>The process's umask (OCI: 0022 unless the config says).</summary>
    public SpecFile Umask(int mask) => Add(SpecKey.Umask, Convert.ToString(mask, 8));

    /// <summary>With tty: the pty's master goes to the unix socket at path (SCM_RIGHTS), not to a relay.</summary>
    public SpecFile ConsoleSocket(string path) => Add(SpecKey.ConsoleSocket, path);

    /// <summary>With tty: the pty's first window size.</summary>
    public SpecFile ConsoleSize(int rows, int columns) => Add(SpecKey.ConsoleSize, Number(rows), Number(columns));

    /// <summary>The propagation of the container's root (OCI rootfsPropagation: private, rprivate,
    /// slave, rslave, shared, rshared, unbindable, runbindable); without it, rprivate.</summary>
    public SpecFile RootPropagation(string propagation) => Add(SpecKey.RootPropagation, propagation);

    /// <summary>MS_MOVE and chroot instead of pivot_root (runc --no-pivot: a root on ramfs).</summary>
    public SpecFile NoPivot() => Flag(SpecKey.NoPivot);

    /// <summary>Descriptors 3 to 3+count-1 of the launcher's go on into the process (runc --preserve-fds).</summary>
    public SpecFile PreserveFds(int count) => count > 0 ? Add(SpecKey.PreserveFds, Number(count)) : this;

    /// <summary>exec: the launcher ends once the process runs, which its caller's subreaper reaps (runc exec --detach).</summary>
    public SpecFile Detach() => Flag(SpecKey.Detach);
}
