namespace Unicorn;

/// <summary>Written as its name by ConvertTo-Json ("State": "Running"), as by the state files.</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))]
public enum ContainerState
{
    /// <summary>Being started: its state directory exists, its command has not run yet.</summary>
    Created,
    Running,
    /// <summary>Its command has ended and its supervisor waits out the back-off of its restart
    /// policy before it starts it again.</summary>
    Restarting,
    Exited,
    /// <summary>Its supervisor is gone (killed) while its init still runs: nobody will record
    /// how it ends. Remove-UnicornContainer -Force kills it and removes it.</summary>
    Unknown,
    /// <summary>Gone without a recorded exit: its supervisor and init were killed, or the
    /// machine lost its processes (a reboot). Remove-UnicornContainer removes what is left.</summary>
    Dead,
}

/// <summary>What a state means for what may be done to the container. Each question in one
/// place: they differ on purpose (a restarting container is active, its run is not).</summary>
public static class ContainerStates
{
    /// <summary>Not ended for good: it runs, is being started, runs without its supervisor, or
    /// waits to be started again (restart policy). What a stop ends, a removal needs -Force
    /// for, and a start again refuses.</summary>
    public static bool IsActive(this ContainerState s) =>
        s is ContainerState.Running or ContainerState.Created or ContainerState.Unknown or ContainerState.Restarting;

    /// <summary>Its current run has not ended: what a wait waits out (a restarting container's
    /// command has ended, as Docker's wait says).</summary>
    public static bool IsRunning(this ContainerState s) =>
        s is ContainerState.Running or ContainerState.Created or ContainerState.Unknown;

    /// <summary>Its supervisor may still write to its log: it runs, or is being started. A
    /// follow of the log (Get-UnicornContainerLog -Follow) ends once it is not.</summary>
    public static bool IsLogOpen(this ContainerState s) =>
        s is ContainerState.Running or ContainerState.Created;
}

/// <summary>A bind mount: a host path seen at a path inside the container.</summary>
public sealed record VolumeMount(string Source, string Destination, bool ReadOnly)
{
    public override string ToString() => $"{Source}:{Destination}{(ReadOnly ? ":ro" : "")}";
}

/// <summary>A container as the engine reports it: its configuration, with its state read from
/// the kernel (is the pid alive and still ours) and from what its supervisor recorded.</summary>
public sealed class Container
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public ContainerState State { get; init; }
    /// <summary>Host pid of the container's init while it is alive.</summary>
    public int? Pid { get; init; }
    /// <summary>The command's exit status, or 128+signal when a signal ended it.</summary>
    public int? ExitCode { get; init; }
    /// <summary>Ended by the kernel's OOM killer: its memory limit was reached.</summary>
    public bool OOMKilled { get; init; }
    public required string[] Command { get; init; }
    public required string Hostname { get; init; }
    /// <summary>The path of the container's root filesystem on the host.</summary>
    public required string Rootfs { get; init; }
    public string? RootfsId { get; init; }
    public string? Image { get; init; }
    public string? IPAddress { get; init; }
    /// <summary>Its published ports, as `docker ps` shows them (0.0.0.0:8080->80/tcp).</summary>
    public Network.PublishedPort[] Ports { get; init; } = [];
    public required string WorkingDirectory { get; init; }
    public required VolumeMount[] Volumes { get; init; }
    public required string[] Environment { get; init; }
    /// <summary>Removed once it has ended (-Rm).</summary>
    public bool AutoRemove { get; init; }
    /// <summary>What its supervisor does when the command ends (-Restart).</summary>
    public RestartPolicy RestartPolicy { get; init; } = RestartPolicy.No;
    /// <summary>How many times its supervisor has started the command again.</summary>
    public int RestartCount { get; init; }
    public DateTime Created { get; init; }
    public DateTime? Started { get; init; }
    public DateTime? Finished { get; init; }

    public string ShortId => Ids.Short(Id);
    public override string ToString() => Name;
}
