namespace Unicorn.Runtime;

/// <summary>How a container's processes are confined, as the launcher is told it: the
/// capabilities kept (a bit each), no_new_privs, the seccomp filter's file (null: none),
/// rlimits; for its root, tmpfs mounts, masked and read-only paths, device nodes allowed, a
/// read-only root.</summary>
public sealed record Confinement(
    ulong Capabilities,
    bool NoNewPrivileges,
    string? SeccompFilter,
    IReadOnlyList<(int Resource, ulong Soft, ulong Hard)> Rlimits,
    IReadOnlyList<string> Tmpfs,
    IReadOnlyList<string> MaskedPaths,
    IReadOnlyList<string> ReadOnlyPaths,
    bool Devices,
    bool RootReadOnly);
