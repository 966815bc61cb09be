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
    Dictionary<string, string>? Annotations)
{
    public static OciRecord From(JsonFields f) => new(
        f.String("Id") ?? "",
        (int)(f.Signed("Pid", 0, int.MaxValue) ?? 0),
        f.Unsigned("PidStartTime") ?? 0,
        f.String("Command") ?? "",
        f.String("Bundle") ?? "",
        f.String("Rootfs") ?? "",
        f.Time("Created") ?? default,
        f.String("CgroupParent") ?? "",
        f.String("CgroupName") ?? "",
        f.StringMap("Annotations"));
}
