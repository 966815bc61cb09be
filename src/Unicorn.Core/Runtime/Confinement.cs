namespace Unicorn.Runtime;

/// <summary>How a container's processes are confined, as the launcher is told it: the
/// capabilities kept (a bit each), no_new_privs, the seccomp filter's file (null: none),
/// rlimits; for its root, tmpfs mounts, masked and read-only paths, device nodes allowed, a
/// read-only root. Both faces end here: the PowerShell face's SecurityOptions and an OCI
/// config.json are each resolved to one, and only this writes it into a spec.</summary>
public sealed record Confinement(
    ulong Capabilities,
    bool NoNewPrivileges,
    string? SeccompFilter,
    IReadOnlyList<(int Resource, ulong Soft, ulong Hard)> Rlimits,
    IReadOnlyList<string> Tmpfs,
    IReadOnlyList<string> MaskedPaths,
    IReadOnlyList<string> ReadOnlyPaths,
    bool Devices,
    bool RootReadOnly)
{
    /// <summary>OCI's five capability sets, when a config gives them; null: Capabilities is
    /// bounding, permitted and effective, and nothing is inheritable or ambient.</summary>
    public (ulong Bounding, ulong Effective, ulong Permitted, ulong Inheritable, ulong Ambient)? CapabilitySets { get; init; }

    /// <summary>Adds the confinement to a spec: what every process of the container gets
    /// (run and exec), and, with mounts, what its root gets (run only).</summary>
    public SpecFile AddTo(SpecFile spec, bool mounts)
    {
        if (CapabilitySets is var (bounding, effective, permitted, inheritable, ambient))
            spec.Capabilities(bounding, effective, permitted, inheritable, ambient);
        else
            spec.Capabilities(Capabilities);
        if (NoNewPrivileges)
            spec.NoNewPrivileges();
        if (SeccompFilter is { } filter)
            spec.Seccomp(filter);
        foreach (var (resource, soft, hard) in Rlimits)
            spec.Rlimit(resource, soft, hard);
        if (!mounts)
            return spec;
        foreach (var t in Tmpfs)
            spec.Tmpfs(t);
        foreach (var p in MaskedPaths)
            spec.Mask(p);
        foreach (var p in ReadOnlyPaths)
            spec.ReadOnlyPath(p);
        if (Devices) // device nodes on its root work; otherwise the root is nodev
            spec.Devices();
        if (RootReadOnly)
            spec.RootReadOnly();
        return spec;
    }
}
