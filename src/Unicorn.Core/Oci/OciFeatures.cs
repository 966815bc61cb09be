using System.Text.Json;
using Unicorn.Cgroups;

namespace Unicorn.Oci;

/// <summary>The runtime-spec features document (features.md): what this runtime takes, for
/// `unicorn features`.</summary>
public sealed record OciFeatures
{
    public string OciVersionMin { get; init; } = "1.0.0";
    public string OciVersionMax { get; init; } = OciConfig.SpecVersion;
    public IReadOnlyList<string> Hooks { get; init; } = [];
    public IReadOnlyList<string> MountOptions { get; init; } = [];
    public LinuxFeatures Linux { get; init; } = new();
    public Dictionary<string, string> Annotations { get; init; } = [];

    public sealed record LinuxFeatures
    {
        public IReadOnlyList<string> Namespaces { get; init; } = [];
        public IReadOnlyList<string> Capabilities { get; init; } = [];
        public CgroupFeatures Cgroup { get; init; } = new();
        public SeccompFeatures Seccomp { get; init; } = new();
        public Enabled Apparmor { get; init; } = new();
        public Enabled Selinux { get; init; } = new();
        public Enabled IntelRdt { get; init; } = new();
    }

    public sealed record CgroupFeatures
    {
        public bool V1 { get; init; }
        public bool V2 { get; init; }
        public bool Systemd { get; init; }
        public bool SystemdUser { get; init; }
    }

    public sealed record SeccompFeatures
    {
        public bool Enabled { get; init; } = true;
        public IReadOnlyList<string> Actions { get; init; } = [];
        public IReadOnlyList<string> Operators { get; init; } = [];
        public IReadOnlyList<string> Archs { get; init; } = [];
        public IReadOnlyList<string> KnownFlags { get; init; } = [];
        public IReadOnlyList<string> SupportedFlags { get; init; } = [];
    }

    public sealed record Enabled
    {
        [System.Text.Json.Serialization.JsonPropertyName("enabled")] public bool IsEnabled { get; init; }
    }

    /// <summary>The document, for this host's cgroups.</summary>
    public static string Json(CgroupLayout? layout = null)
    {
        var controllers = (layout ?? CgroupLayout.Detect()).Controllers.ToList();
        var features = new OciFeatures
        {
            MountOptions = [.. OciMounts.KnownOptions],
            Linux = new LinuxFeatures
            {
                Namespaces = [.. OciValidation.Namespaces.Where(n => n.Value is not null).Select(n => n.Key)],
                Capabilities = [.. Runtime.Capabilities.AllNames.Select(n => "CAP_" + n)],
                Cgroup = new CgroupFeatures { V1 = controllers.Any(c => c.Version == 1), V2 = controllers.Any(c => c.Version == 2) },
                Seccomp = new SeccompFeatures
                {
                    Actions = [.. OciValidation.SeccompActions],
                    Operators = [.. OciValidation.SeccompOperators],
                    Archs = [.. OciValidation.SeccompArchitectures],
                    KnownFlags = [.. OciValidation.SeccompFlags],
                    SupportedFlags = [.. OciValidation.SeccompFlags],
                },
            },
        };
        return JsonSerializer.Serialize(features, OciJson.Default.OciFeatures);
    }
}
