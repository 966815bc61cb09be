using System.Text.Json;
using System.Text.Json.Serialization;

namespace Unicorn.Oci;

// The runtime-spec 1.1 config.json (config.md, config-linux.md), as records: the JSON's names in
// camelCase (OciJson), null for what the config leaves out. Fields the spec defines that Unicorn
// cannot honour are kept (some as raw JSON) only so that validation can refuse them.

public sealed record OciConsoleSize
{
    public uint Height { get; init; }
    public uint Width { get; init; }
}

public sealed record OciUser
{
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public uint? Umask { get; init; }
    public IReadOnlyList<uint>? AdditionalGids { get; init; }
    /// <summary>Windows only; ignored.</summary>
    public string? Username { get; init; }
}

public sealed record OciCapabilities
{
    public IReadOnlyList<string>? Bounding { get; init; }
    public IReadOnlyList<string>? Effective { get; init; }
    public IReadOnlyList<string>? Inheritable { get; init; }
    public IReadOnlyList<string>? Permitted { get; init; }
    public IReadOnlyList<string>? Ambient { get; init; }
}

public sealed record OciRlimit
{
    public string Type { get; init; } = "";
    public ulong Soft { get; init; }
    public ulong Hard { get; init; }
}

public sealed record OciRoot
{
    public string? Path { get; init; }
    public bool Readonly { get; init; }
}

public sealed record OciMount
{
    public string Destination { get; init; } = "";
    public string? Type { get; init; }
    public string? Source { get; init; }
    public IReadOnlyList<string>? Options { get; init; }
    public IReadOnlyList<JsonElement>? UidMappings { get; init; }
    public IReadOnlyList<JsonElement>? GidMappings { get; init; }
}

public sealed record OciHook
{
    public string Path { get; init; } = "";
    public IReadOnlyList<string>? Args { get; init; }
    public IReadOnlyList<string>? Env { get; init; }
    public int? Timeout { get; init; }
}

public sealed record OciHooks
{
    public IReadOnlyList<OciHook>? Prestart { get; init; }
    public IReadOnlyList<OciHook>? CreateRuntime { get; init; }
    public IReadOnlyList<OciHook>? CreateContainer { get; init; }
    public IReadOnlyList<OciHook>? StartContainer { get; init; }
    public IReadOnlyList<OciHook>? Poststart { get; init; }
    public IReadOnlyList<OciHook>? Poststop { get; init; }

    [JsonIgnore]
    public int Count => new[] { Prestart, CreateRuntime, CreateContainer, StartContainer, Poststart, Poststop }.Sum(h => h?.Count ?? 0);
}

public sealed record OciNamespace
{
    public string Type { get; init; } = "";
    public string? Path { get; init; }
}

public sealed record OciIdMapping
{
    [JsonPropertyName("containerID")] public uint ContainerId { get; init; }
    [JsonPropertyName("hostID")] public uint HostId { get; init; }
    public uint Size { get; init; }
}

public sealed record OciDevice
{
    public string Type { get; init; } = "";
    public string Path { get; init; } = "";
    public long? Major { get; init; }
    public long? Minor { get; init; }
    public uint? FileMode { get; init; }
    public uint? Uid { get; init; }
    public uint? Gid { get; init; }
}

public sealed record OciDeviceCgroup
{
    public bool Allow { get; init; }
    public string? Type { get; init; }
    public long? Major { get; init; }
    public long? Minor { get; init; }
    public string? Access { get; init; }
}

public sealed record OciMemory
{
    public long? Limit { get; init; }
    public long? Reservation { get; init; }
    public long? Swap { get; init; }
    public long? Kernel { get; init; }
    [JsonPropertyName("kernelTCP")] public long? KernelTcp { get; init; }
    public ulong? Swappiness { get; init; }
    [JsonPropertyName("disableOOMKiller")] public bool? DisableOomKiller { get; init; }
    public bool? UseHierarchy { get; init; }
    public bool? CheckBeforeUpdate { get; init; }
}

public sealed record OciCpu
{
    public ulong? Shares { get; init; }
    public long? Quota { get; init; }
    public ulong? Burst { get; init; }
    public ulong? Period { get; init; }
    public long? RealtimeRuntime { get; init; }
    public ulong? RealtimePeriod { get; init; }
    public string? Cpus { get; init; }
    public string? Mems { get; init; }
    public long? Idle { get; init; }
}

public sealed record OciPids
{
    public long Limit { get; init; }
}

public sealed record OciBlockIo
{
    public ushort? Weight { get; init; }
    public ushort? LeafWeight { get; init; }
    public IReadOnlyList<JsonElement>? WeightDevice { get; init; }
    public IReadOnlyList<JsonElement>? ThrottleReadBpsDevice { get; init; }
    public IReadOnlyList<JsonElement>? ThrottleWriteBpsDevice { get; init; }
    [JsonPropertyName("throttleReadIOPSDevice")] public IReadOnlyList<JsonElement>? ThrottleReadIopsDevice { get; init; }
    [JsonPropertyName("throttleWriteIOPSDevice")] public IReadOnlyList<JsonElement>? ThrottleWriteIopsDevice { get; init; }
}

public sealed record OciNetworkResources
{
    [JsonPropertyName("classID")] public uint? ClassId { get; init; }
    public IReadOnlyList<JsonElement>? Priorities { get; init; }
}

/// <summary>linux.resources: what the container's cgroup is given.</summary>
public sealed record LinuxResources
{
    public IReadOnlyList<OciDeviceCgroup>? Devices { get; init; }
    public OciMemory? Memory { get; init; }
    public OciCpu? Cpu { get; init; }
    public OciPids? Pids { get; init; }
    [JsonPropertyName("blockIO")] public OciBlockIo? BlockIo { get; init; }
    public IReadOnlyList<JsonElement>? HugepageLimits { get; init; }
    public OciNetworkResources? Network { get; init; }
    public Dictionary<string, JsonElement>? Rdma { get; init; }
    public Dictionary<string, string>? Unified { get; init; }
}

public sealed record OciSeccompArg
{
    public uint Index { get; init; }
    public ulong Value { get; init; }
    public ulong? ValueTwo { get; init; }
    public string Op { get; init; } = "";
}

public sealed record OciSyscall
{
    public IReadOnlyList<string> Names { get; init; } = [];
    public string Action { get; init; } = "";
    public uint? ErrnoRet { get; init; }
    public IReadOnlyList<OciSeccompArg>? Args { get; init; }
}

public sealed record OciSeccomp
{
    public string DefaultAction { get; init; } = "";
    public uint? DefaultErrnoRet { get; init; }
    public IReadOnlyList<string>? Architectures { get; init; }
    public IReadOnlyList<string>? Flags { get; init; }
    public string? ListenerPath { get; init; }
    public string? ListenerMetadata { get; init; }
    public IReadOnlyList<OciSyscall>? Syscalls { get; init; }
}

public sealed record OciPersonality
{
    public string Domain { get; init; } = "";
    public IReadOnlyList<string>? Flags { get; init; }
}

public sealed record OciLinux
{
    public IReadOnlyList<OciNamespace>? Namespaces { get; init; }
    public IReadOnlyList<OciIdMapping>? UidMappings { get; init; }
    public IReadOnlyList<OciIdMapping>? GidMappings { get; init; }
    public Dictionary<string, JsonElement>? TimeOffsets { get; init; }
    public IReadOnlyList<OciDevice>? Devices { get; init; }
    public string? CgroupsPath { get; init; }
    public LinuxResources? Resources { get; init; }
    public Dictionary<string, string>? Sysctl { get; init; }
    public OciSeccomp? Seccomp { get; init; }
    public string? RootfsPropagation { get; init; }
    public IReadOnlyList<string>? MaskedPaths { get; init; }
    public IReadOnlyList<string>? ReadonlyPaths { get; init; }
    public string? MountLabel { get; init; }
    public JsonElement? IntelRdt { get; init; }
    public OciPersonality? Personality { get; init; }
}
