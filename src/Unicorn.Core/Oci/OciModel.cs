using System.Text.Json;
using System.Text.Json.Serialization;

namespace Unicorn.Oci;

// The runtime-spec 1.1 config.json (config.md, config-linux.md), as records: the JSON's names in
// camelCase (read by each record's From, written by OciJson), null for what the config leaves out. Fields the spec defines that Unicorn
// cannot honour are kept (some as raw JSON) only so that validation can refuse them.

public sealed record OciConsoleSize
{
    public static OciConsoleSize From(JsonFields f) => new()
    {
        Height = f.UInt32("height") ?? 0,
        Width = f.UInt32("width") ?? 0,
    };

    public uint Height { get; init; }
    public uint Width { get; init; }
}

public sealed record OciUser
{
    public static OciUser From(JsonFields f) => new()
    {
        Uid = f.UInt32("uid") ?? 0,
        Gid = f.UInt32("gid") ?? 0,
        Umask = f.UInt32("umask"),
        AdditionalGids = f.UInt32s("additionalGids"),
        Username = f.String("username"),
    };

    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public uint? Umask { get; init; }
    public IReadOnlyList<uint>? AdditionalGids { get; init; }
    /// <summary>Windows only; ignored.</summary>
    public string? Username { get; init; }
}

public sealed record OciCapabilities
{
    public static OciCapabilities From(JsonFields f) => new()
    {
        Bounding = f.Strings("bounding"),
        Effective = f.Strings("effective"),
        Inheritable = f.Strings("inheritable"),
        Permitted = f.Strings("permitted"),
        Ambient = f.Strings("ambient"),
    };

    public IReadOnlyList<string>? Bounding { get; init; }
    public IReadOnlyList<string>? Effective { get; init; }
    public IReadOnlyList<string>? Inheritable { get; init; }
    public IReadOnlyList<string>? Permitted { get; init; }
    public IReadOnlyList<string>? Ambient { get; init; }
}

public sealed record OciRlimit
{
    public static OciRlimit From(JsonFields f) => new()
    {
        Type = f.String("type") ?? "",
        Soft = f.Unsigned("soft") ?? 0,
        Hard = f.Unsigned("hard") ?? 0,
    };

    public string Type { get; init; } = "";
    public ulong Soft { get; init; }
    public ulong Hard { get; init; }
}

public sealed record OciRoot
{
    public static OciRoot From(JsonFields f) => new()
    {
        Path = f.String("path"),
        Readonly = f.Bool("readonly"),
    };

    public string? Path { get; init; }
    public bool Readonly { get; init; }
}

public sealed record OciMount
{
    public static OciMount From(JsonFields f) => new()
    {
        Destination = f.String("destination") ?? "",
        Type = f.String("type"),
        Source = f.String("source"),
        Options = f.Strings("options"),
        UidMappings = f.Raws("uidMappings"),
        GidMappings = f.Raws("gidMappings"),
    };

    public string Destination { get; init; } = "";
    public string? Type { get; init; }
    public string? Source { get; init; }
    public IReadOnlyList<string>? Options { get; init; }
    public IReadOnlyList<JsonElement>? UidMappings { get; init; }
    public IReadOnlyList<JsonElement>? GidMappings { get; init; }
}

public sealed record OciHook
{
    public static OciHook From(JsonFields f) => new()
    {
        Path = f.String("path") ?? "",
        Args = f.Strings("args"),
        Env = f.Strings("env"),
        Timeout = (int?)f.Signed("timeout", int.MinValue, int.MaxValue),
    };

    public string Path { get; init; } = "";
    public IReadOnlyList<string>? Args { get; init; }
    public IReadOnlyList<string>? Env { get; init; }
    public int? Timeout { get; init; }
}

public sealed record OciHooks
{
    public static OciHooks From(JsonFields f) => new()
    {
        Prestart = f.Objects("prestart", OciHook.From),
        CreateRuntime = f.Objects("createRuntime", OciHook.From),
        CreateContainer = f.Objects("createContainer", OciHook.From),
        StartContainer = f.Objects("startContainer", OciHook.From),
        Poststart = f.Objects("poststart", OciHook.From),
        Poststop = f.Objects("poststop", OciHook.From),
    };

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
    public static OciNamespace From(JsonFields f) => new()
    {
        Type = f.String("type") ?? "",
        Path = f.String("path"),
    };

    public string Type { get; init; } = "";
    public string? Path { get; init; }
}

public sealed record OciIdMapping
{
    public static OciIdMapping From(JsonFields f) => new()
    {
        ContainerId = f.UInt32("containerID") ?? 0,
        HostId = f.UInt32("hostID") ?? 0,
        Size = f.UInt32("size") ?? 0,
    };

    [JsonPropertyName("containerID")] public uint ContainerId { get; init; }
    [JsonPropertyName("hostID")] public uint HostId { get; init; }
    public uint Size { get; init; }
}

public sealed record OciDevice
{
    public static OciDevice From(JsonFields f) => new()
    {
        Type = f.String("type") ?? "",
        Path = f.String("path") ?? "",
        Major = f.Signed("major"),
        Minor = f.Signed("minor"),
        FileMode = f.UInt32("fileMode"),
        Uid = f.UInt32("uid"),
        Gid = f.UInt32("gid"),
    };

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
    public static OciDeviceCgroup From(JsonFields f) => new()
    {
        Allow = f.Bool("allow"),
        Type = f.String("type"),
        Major = f.Signed("major"),
        Minor = f.Signed("minor"),
        Access = f.String("access"),
    };

    public bool Allow { get; init; }
    public string? Type { get; init; }
    public long? Major { get; init; }
    public long? Minor { get; init; }
    public string? Access { get; init; }
}

public sealed record OciMemory
{
    public static OciMemory From(JsonFields f) => new()
    {
        Limit = f.Signed("limit"),
        Reservation = f.Signed("reservation"),
        Swap = f.Signed("swap"),
        Kernel = f.Signed("kernel"),
        KernelTcp = f.Signed("kernelTCP"),
        Swappiness = f.Unsigned("swappiness"),
        DisableOomKiller = f.BoolOrNull("disableOOMKiller"),
        UseHierarchy = f.BoolOrNull("useHierarchy"),
        CheckBeforeUpdate = f.BoolOrNull("checkBeforeUpdate"),
    };

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
    public static OciCpu From(JsonFields f) => new()
    {
        Shares = f.Unsigned("shares"),
        Quota = f.Signed("quota"),
        Burst = f.Unsigned("burst"),
        Period = f.Unsigned("period"),
        RealtimeRuntime = f.Signed("realtimeRuntime"),
        RealtimePeriod = f.Unsigned("realtimePeriod"),
        Cpus = f.String("cpus"),
        Mems = f.String("mems"),
        Idle = f.Signed("idle"),
    };

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
    public static OciPids From(JsonFields f) => new()
    {
        Limit = f.Signed("limit") ?? 0,
    };

    public long Limit { get; init; }
}

public sealed record OciBlockIo
{
    public static OciBlockIo From(JsonFields f) => new()
    {
        Weight = (ushort?)f.Unsigned("weight", ushort.MaxValue),
        LeafWeight = (ushort?)f.Unsigned("leafWeight", ushort.MaxValue),
        WeightDevice = f.Raws("weightDevice"),
        ThrottleReadBpsDevice = f.Raws("throttleReadBpsDevice"),
        ThrottleWriteBpsDevice = f.Raws("throttleWriteBpsDevice"),
        ThrottleReadIopsDevice = f.Raws("throttleReadIOPSDevice"),
        ThrottleWriteIopsDevice = f.Raws("throttleWriteIOPSDevice"),
    };

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
    public static OciNetworkResources From(JsonFields f) => new()
    {
        ClassId = f.UInt32("classID"),
        Priorities = f.Raws("priorities"),
    };

    [JsonPropertyName("classID")] public uint? ClassId { get; init; }
    public IReadOnlyList<JsonElement>? Priorities { get; init; }
}

/// <summary>linux.resources: what the container's cgroup is given.</summary>
public sealed record LinuxResources
{
    public static LinuxResources From(JsonFields f) => new()
    {
        Devices = f.Objects("devices", OciDeviceCgroup.From),
        Memory = f.Object("memory", OciMemory.From),
        Cpu = f.Object("cpu", OciCpu.From),
        Pids = f.Object("pids", OciPids.From),
        BlockIo = f.Object("blockIO", OciBlockIo.From),
        HugepageLimits = f.Raws("hugepageLimits"),
        Network = f.Object("network", OciNetworkResources.From),
        Rdma = f.RawMap("rdma"),
        Unified = f.StringMap("unified"),
    };

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
    public static OciSeccompArg From(JsonFields f) => new()
    {
        Index = f.UInt32("index") ?? 0,
        Value = f.Unsigned("value") ?? 0,
        ValueTwo = f.Unsigned("valueTwo"),
        Op = f.String("op") ?? "",
    };

    public uint Index { get; init; }
    public ulong Value { get; init; }
    public ulong? ValueTwo { get; init; }
    public string Op { get; init; } = "";
}

public sealed record OciSyscall
{
    public static OciSyscall From(JsonFields f) => new()
    {
        Names = f.Strings("names") ?? [],
        Action = f.String("action") ?? "",
        ErrnoRet = f.UInt32("errnoRet"),
        Args = f.Objects("args", OciSeccompArg.From),
    };

    public IReadOnlyList<string> Names { get; init; } = [];
    public string Action { get; init; } = "";
    public uint? ErrnoRet { get; init; }
    public IReadOnlyList<OciSeccompArg>? Args { get; init; }
}

public sealed record OciSeccomp
{
    public static OciSeccomp From(JsonFields f) => new()
    {
        DefaultAction = f.String("defaultAction") ?? "",
        DefaultErrnoRet = f.UInt32("defaultErrnoRet"),
        Architectures = f.Strings("architectures"),
        Flags = f.Strings("flags"),
        ListenerPath = f.String("listenerPath"),
        ListenerMetadata = f.String("listenerMetadata"),
        Syscalls = f.Objects("syscalls", OciSyscall.From),
        Document = f.Json(),
    };

    /// <summary>The object as given: what the seccomp compiler reads.</summary>
    [JsonIgnore]
    public JsonElement Document { get; init; }

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
    public static OciPersonality From(JsonFields f) => new()
    {
        Domain = f.String("domain") ?? "",
        Flags = f.Strings("flags"),
    };

    public string Domain { get; init; } = "";
    public IReadOnlyList<string>? Flags { get; init; }
}

public sealed record OciLinux
{
    public static OciLinux From(JsonFields f) => new()
    {
        Namespaces = f.Objects("namespaces", OciNamespace.From),
        UidMappings = f.Objects("uidMappings", OciIdMapping.From),
        GidMappings = f.Objects("gidMappings", OciIdMapping.From),
        TimeOffsets = f.RawMap("timeOffsets"),
        Devices = f.Objects("devices", OciDevice.From),
        CgroupsPath = f.String("cgroupsPath"),
        Resources = f.Object("resources", LinuxResources.From),
        Sysctl = f.StringMap("sysctl"),
        Seccomp = f.Object("seccomp", OciSeccomp.From),
        RootfsPropagation = f.String("rootfsPropagation"),
        MaskedPaths = f.Strings("maskedPaths"),
        ReadonlyPaths = f.Strings("readonlyPaths"),
        MountLabel = f.String("mountLabel"),
        IntelRdt = f.Raw("intelRdt"),
        Personality = f.Object("personality", OciPersonality.From),
    };

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
