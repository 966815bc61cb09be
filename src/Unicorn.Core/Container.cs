namespace Unicorn;

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
