using Unicorn.Runtime;

namespace Unicorn.Oci;

/// <summary>A config's mount as the launcher makes it: a bind of a host path, a new filesystem
/// of a type it knows, or the cgroup hierarchies (which depend on the host's cgroups).</summary>
public sealed record OciMountPlan(string Type, string Source, string Destination, IReadOnlyList<string> Flags, IReadOnlyList<string> Data)
{
    public bool IsBind => Flags.Contains("bind") || Flags.Contains("rbind");
    public bool IsCgroup => Type == "cgroup";
}

public static class OciMounts
{
    /// <summary>The filesystems the launcher makes itself; cgroup is the v1 hierarchies (or cgroup2).</summary>
    static readonly HashSet<string> Types = ["proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"];

    /// <summary>Words that ask for what a new mount is anyway (rw, suid, dev, exec, atime...): dropped.</summary>
    static readonly HashSet<string> Defaults =
        ["rw", "suid", "dev", "exec", "atime", "diratime", "norelatime", "nostrictatime", "defaults", "async", "loud", "symfollow", "nolazytime", "nomand"];

    /// <summary>Mount flags (and runc/crun extensions) the launcher does not make: refused rather
    /// than passed as filesystem data, which would mean something else or nothing.</summary>
    static readonly HashSet<string> Refused =
    [
        "sync", "dirsync", "mand", "lazytime", "iversion", "noiversion", "silent", "nosymfollow", "remount", "acl", "noacl",
        "rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime", "rdiratime", "rrelatime", "rnorelatime",
        "rnoatime", "ratime", "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow", "idmap", "ridmap", "copy-symlink",
    ];

    /// <summary>The option words Unicorn takes (for `features`).</summary>
    public static IEnumerable<string> KnownOptions => SpecFile.MountFlags.Concat(Defaults).Order(StringComparer.Ordinal);

    /// <summary>A mount's options split into the launcher's flags (<see cref="SpecFile.MountFlags"/>)
    /// and the filesystem's data (mode=755, size=65536k); defaults dropped, the rest refused.</summary>
    public static (List<string> Flags, List<string> Data) SplitOptions(IEnumerable<string>? options, string field)
    {
        List<string> flags = [], data = [];
        foreach (var o in options ?? [])
        {
            if (SpecFile.MountFlags.Contains(o))
            {
                if (!flags.Contains(o))
                    flags.Add(o);
            }
            else if (Refused.Contains(o))
                throw OciResources.Unsupported(field, $"the mount option '{o}' is not supported; remove it");
            else if (!Defaults.Contains(o))
            {
                if (o.Length == 0 || o.Contains(','))
                    throw OciResources.Invalid(field, $"'{o}' is not a mount option (one word, or key=value, each its own string)");
                data.Add(o);
            }
        }
        return (flags, data);
    }

    /// <summary>Checks a config's mount and says how it is made; a relative bind source is the
    /// bundle's.</summary>
    public static OciMountPlan Plan(OciMount m, int index, string bundleDir)
    {
        var field = $"mounts[{index}]";
        if (!m.Destination.StartsWith('/'))
            throw OciResources.Invalid(field + ".destination", $"'{m.Destination}' is not an absolute path inside the container");
        if (m.UidMappings is { Count: > 0 } || m.GidMappings is { Count: > 0 })
            throw OciResources.Unsupported(field, "id-mapped mounts are not supported yet; remove uidMappings and gidMappings");
        var (flags, data) = SplitOptions(m.Options, field + ".options");
        var type = m.Type ?? "";
        bool bind = flags.Contains("bind") || flags.Contains("rbind") || type == "bind";
        if (flags.Contains("tmpcopyup") && (bind || type != "tmpfs"))
            throw OciResources.Unsupported(field + ".options", $"'tmpcopyup' fills a new tmpfs only, not a {(bind ? "bind" : $"'{type}'")} mount; remove it");
        if (bind)
        {
            if (!flags.Contains("bind") && !flags.Contains("rbind"))
                flags.Insert(0, "bind");
            if (string.IsNullOrEmpty(m.Source))
                throw OciResources.Invalid(field + ".source", "a bind mount needs the host path to bind");
            var source = Path.IsPathRooted(m.Source) ? m.Source : Path.GetFullPath(Path.Combine(bundleDir, m.Source));
            return new OciMountPlan("bind", source, m.Destination, flags, data);
        }
        if (!Types.Contains(type))
            throw OciResources.Unsupported(field + ".type", $"'{type}' filesystems are not supported: give a bind mount, or proc, sysfs, tmpfs, devpts, mqueue, cgroup or cgroup2");
        return new OciMountPlan(type, string.IsNullOrEmpty(m.Source) ? type : m.Source, m.Destination, flags, data);
    }
}
