using System.Text.Json;
using Unicorn.Cgroups;
using Unicorn.Runtime;
using Unicorn.Runtime.Seccomp;

namespace Unicorn.Oci;

/// <summary>A checked OCI config as the launcher's spec (SpecFile): the container's init
/// (create) and a process run in it (exec). The cgroup records are the caller's: it adds them
/// with spec.Cgroup(...) once it has made the cgroup.</summary>
public static class OciSpec
{
    /// <summary>root.path as a host path (relative: the bundle's).</summary>
    public static string RootfsPath(OciConfig c, string bundleDir) =>
        Path.GetFullPath(Path.Combine(Path.GetFullPath(bundleDir), c.Root?.Path ?? ""));

    /// <summary>The init's spec. A cgroup mount needs the container's cgroup made first: pass
    /// the manager that made it and the cgroup's name (the Name of OciConfig.CgroupPath); on a
    /// v1 host it becomes a tmpfs with each hierarchy's directory of the container bound
    /// read-only under it (as runc does), on a v2 host a cgroup2 mount (with a cgroup
    /// namespace) or the container's directory bound.</summary>
    public static SpecFile ForInit(OciConfig c, string bundleDir, string stateDir, CgroupManager? cgroups = null, string? cgroupName = null)
    {
        var p = c.Process!;
        var linux = c.Linux!;
        var rootfs = RootfsPath(c, bundleDir);
        var spec = ProcessSpec(p, c, rootfs, stateDir).Rootfs(rootfs);
        spec.Umask((int)(p.User.Umask ?? 0x12)); // 0022, runc's default
        if (p.OomScoreAdj is { } oom)
            spec.OomScoreAdj(oom);

        var namespaces = linux.Namespaces ?? [];
        foreach (var ns in namespaces)
            spec.Namespace(OciValidation.Namespaces[ns.Type]!, string.IsNullOrEmpty(ns.Path) ? null : ns.Path);
        if (!string.IsNullOrEmpty(c.Hostname))
            spec.Hostname(c.Hostname);
        // No record of its own for the domain name: the UTS namespace's sysctl is it.
        if (!string.IsNullOrEmpty(c.Domainname))
            spec.Sysctl("kernel.domainname", c.Domainname);
        foreach (var (name, value) in linux.Sysctl ?? [])
            spec.Sysctl(name, value);
        // runc's default is rslave: mounts the host makes later under the root reach the container.
        spec.RootPropagation(string.IsNullOrEmpty(linux.RootfsPropagation) ? "rslave" : linux.RootfsPropagation);

        bool cgroupNamespace = namespaces.Any(n => n.Type == "cgroup");
        foreach (var (m, i) in (c.Mounts ?? []).Select((m, i) => (m, i)))
        {
            var plan = OciMounts.Plan(m, i, bundleDir);
            foreach (var mount in plan.IsCgroup ? CgroupMounts(plan, cgroups, cgroupName, cgroupNamespace) : [plan])
                spec.Mount(mount.Type, mount.Source, mount.Destination, mount.Flags, mount.Data);
        }
        foreach (var d in linux.Devices ?? [])
            spec.Device(d.Path, d.Type == "u" ? 'c' : d.Type[0], d.Major ?? 0, d.Minor ?? 0, (int)((d.FileMode ?? 0x1B6) & 0xFFF), d.Uid ?? 0, d.Gid ?? 0);

        Confinement(p, c, stateDir, linux.MaskedPaths ?? [], linux.ReadonlyPaths ?? [],
            devices: DeviceRule.AllowsAll(OciResources.DeviceRules(linux.Resources)), rootReadOnly: c.Root!.Readonly).AddTo(spec, mounts: true);
        return spec;
    }

    /// <summary>An exec's spec: its process, as the user it names, with its capabilities,
    /// no_new_privs and rlimits, under the container's seccomp filter.</summary>
    public static SpecFile ForExec(OciProcess p, OciConfig container, string bundleDir, string stateDir)
    {
        var spec = ProcessSpec(p, container, RootfsPath(container, bundleDir), stateDir);
        return Confinement(p, container, stateDir, [], [], devices: false, rootReadOnly: false).AddTo(spec, mounts: false);
    }

    static SpecFile ProcessSpec(OciProcess p, OciConfig c, string rootfs, string stateDir)
    {
        var spec = SpecFile.Process(p.Args!, p.Env ?? [], p.Cwd!);
        var u = p.User;
        // The numbers as given; groups: additionalGids (and those /etc/group gives the uid's user).
        if (u.Uid != 0 || u.Gid != 0 || u.AdditionalGids is { Count: > 0 })
            spec.User($"{u.Uid}:{u.Gid}", [.. (u.AdditionalGids ?? []).Select(g => g.ToString(System.Globalization.CultureInfo.InvariantCulture))], rootfs);
        spec.Tty(p.Terminal);
        if (p.Terminal && p.ConsoleSize is { } size)
            spec.ConsoleSize((int)size.Height, (int)size.Width);
        return spec;
    }

    static Confinement Confinement(OciProcess p, OciConfig c, string stateDir, IReadOnlyList<string> masked, IReadOnlyList<string> readOnly, bool devices, bool rootReadOnly)
    {
        // No capabilities object: runc leaves the process every capability it has.
        var sets = p.Capabilities is null ? (Capabilities.All, Capabilities.All, Capabilities.All, 0UL, 0UL) : OciValidation.Capabilities(p.Capabilities, "process.");
        var filter = c.Linux?.Seccomp is { } seccomp ? SeccompFile(seccomp, stateDir) : null;
        return new Confinement(sets.Item1, p.NoNewPrivileges, filter, OciValidation.Rlimits(p.Rlimits, "process."), [], masked, readOnly, devices, rootReadOnly)
        {
            CapabilitySets = sets,
        };
    }

    /// <summary>linux.seccomp compiled for this machine (the checks of OciConfig.Load first).</summary>
    public static (byte[] Filter, List<string> Warnings) CompileSeccomp(OciSeccomp seccomp) =>
        SeccompCompiler.Compile(seccomp.Document, "linux.seccomp", capabilities: 0);

    /// <summary>The container's filter, &lt;stateDir&gt;/seccomp.bpf, compiled by its create and
    /// kept for its execs.</summary>
    static string SeccompFile(OciSeccomp seccomp, string stateDir)
    {
        var path = Path.Combine(stateDir, "seccomp.bpf");
        if (!File.Exists(path))
            Files.WriteAtomic(path, CompileSeccomp(seccomp).Filter, durable: false);
        return path;
    }

    static IEnumerable<OciMountPlan> CgroupMounts(OciMountPlan m, CgroupManager? cgroups, string? name, bool cgroupNamespace)
    {
        if (cgroups is null || name is null)
            throw new UnicornException("OciCgroupMountNeedsCgroup", ErrorKind.InvalidOperation,
                $"The cgroup mount at {m.Destination} shows the container's cgroup: make the cgroup first and give OciSpec.ForInit its manager and name.", m.Destination);
        var flags = m.Flags.Where(f => f is not ("bind" or "rbind")).ToList();
        var v1 = cgroups.Layout.Controllers.Where(c => c.Version == 1).ToList();
        if (v1.Count == 0)
        {
            if (cgroupNamespace) // the namespace's root is the container's cgroup
                yield return m with { Type = "cgroup2", Source = "cgroup2", Flags = flags, Data = [] };
            else if (cgroups.V2Dir(name) is { } dir)
                yield return m with { Type = "bind", Source = dir, Flags = ["rbind", .. flags], Data = [] };
            yield break;
        }
        // v1 (and hybrid): a tmpfs, left writable so that the hierarchies' mount points can be
        // made in it, and each hierarchy's directory of the container bound under it.
        yield return m with { Type = "tmpfs", Source = "tmpfs", Flags = [.. flags.Where(f => f != "ro")], Data = ["mode=755"] };
        foreach (var hierarchy in v1.GroupBy(c => c.Mount))
        {
            var dir = cgroups.Dir(hierarchy.First(), name);
            if (Directory.Exists(dir))
                yield return new OciMountPlan("bind", dir, m.Destination.TrimEnd('/') + "/" + Path.GetFileName(hierarchy.Key), ["rbind", .. flags], []);
        }
    }
}
