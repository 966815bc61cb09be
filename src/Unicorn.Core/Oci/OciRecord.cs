namespace Unicorn.Oci;

/// <summary>What `unicorn create` keeps of a container in &lt;root&gt;/&lt;id&gt;/state.json: its
/// init (pid and start time, so that a reused pid is never taken for it), its bundle and root,
/// and its cgroup. Its status is not kept: it is read from the kernel each time (see
/// <see cref="OciRuntime.Status"/>).</summary>
public sealed record OciRecord(
    string Id,
    int Pid,
    ulong PidStartTime,
    string Command,
    string Bundle,
    string Rootfs,
    DateTime Created,
    string CgroupParent,
    string CgroupName,
    Dictionary<string, string>? Annotations);
