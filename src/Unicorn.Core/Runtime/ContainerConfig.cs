using Unicorn.Cgroups;

namespace Unicorn.Runtime;

/// <summary>What a container was asked to be: written once, when it is created, to
/// state/containers/&lt;id&gt;/config.json, the single source of truth for its configuration.
/// It holds all that a launch needs, so that a container that has ended can be started again
/// as it was (Start-UnicornContainer -Id, Restart-UnicornContainer). ExitCommand: what its
/// supervisor runs once a -Rm container has ended and its end is recorded (its removal).</summary>
public sealed record ContainerConfig(
    string Id,
    string Name,
    string Hostname,
    string[] Command,
    string[] Environment,
    string WorkingDirectory,
    VolumeMount[] Volumes,
    string RootfsPath,
    string? RootfsId,
    string? Image,
    DateTime Created,
    string? User = null,
    SecurityOptions? Security = null,
    string[]? GroupAdd = null,
    bool AutoRemove = false,
    RestartPolicy? Restart = null,
    bool Init = false,
    bool Interactive = false,
    long LogMaxSize = StartOptions.DefaultLogMaxSize,
    int LogMaxFiles = StartOptions.DefaultLogMaxFiles,
    CgroupLimits? Limits = null,
    Network.BridgeOptions? Network = null,
    string[]? ExitCommand = null,
    string? Bundle = null);
