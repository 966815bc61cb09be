using System.Text.Json.Serialization;

namespace Unicorn.Network;

/// <summary>A container's connection to a bridge (also recorded in the container's state).</summary>
public sealed class BridgeAttachment
{
    public required string ContainerId { get; init; }
    public string? Name { get; set; }
    public required string Bridge { get; init; }
    /// <summary>The interface inside the container (eth0, eth1, ...).</summary>
    public required string Interface { get; init; }
    /// <summary>The host end of the veth pair, on the bridge.</summary>
    public required string HostInterface { get; init; }
    public string? IPAddress { get; init; }
    public int PrefixLength { get; init; }
    public string? Gateway { get; init; }
    public string? IPv6Address { get; init; }
    public int IPv6PrefixLength { get; init; }
    public string? IPv6Gateway { get; init; }
    public string MacAddress { get; set; } = "";
    public List<PortMapping> Ports { get; init; } = [];
    /// <summary>More names the container has on this bridge (-NetworkAlias), besides its own.</summary>
    public List<string> Aliases { get; init; } = [];
    /// <summary>The container's hostname: what its own address is called in its /etc/hosts.</summary>
    public string? Hostname { get; init; }

    [JsonIgnore]
    public IEnumerable<string> Addresses => new[] { IPAddress, IPv6Address }.OfType<string>();

    /// <summary>The published ports as the host offers them: on every address of each family
    /// the container has here (the DNAT rules match any local address).</summary>
    [JsonIgnore]
    public IEnumerable<PublishedPort> PublishedPorts => Ports.SelectMany(p =>
        new[] { (IPAddress, "0.0.0.0"), (IPv6Address, "::") }.Where(f => f.Item1 is not null)
            .Select(f => new PublishedPort(f.Item2, p.HostPort, p.ContainerPort, p.Protocol, Bridge)));

    /// <summary>The names of this container on the bridge: its name and aliases (for the
    /// others), with its hostname first (for itself).</summary>
    public IEnumerable<string> HostNames(bool self) =>
        (self && Hostname is not null ? new[] { Hostname } : []).Concat(Name is null ? [] : [Name]).Concat(Aliases).Distinct();
}
