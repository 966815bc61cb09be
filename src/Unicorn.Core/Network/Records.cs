using System.Net;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Unicorn.Network;

/// <summary>A published port: hostPort:containerPort[/tcp|udp].</summary>
public sealed partial record PortMapping(int HostPort, int ContainerPort, string Protocol)
{
    public override string ToString() => $"{HostPort}:{ContainerPort}/{Protocol}";

    [GeneratedRegex(@"^(?<host>\d{1,5}):(?<container>\d{1,5})(/(?<proto>tcp|udp))?$", RegexOptions.IgnoreCase)]
    private static partial Regex Pattern();

    public static PortMapping Parse(string text)
    {
        var m = Pattern().Match(text.Trim());
        int host = 0, container = 0;
        if (!m.Success || !int.TryParse(m.Groups["host"].Value, out host) || !int.TryParse(m.Groups["container"].Value, out container)
            || host is < 1 or > 65535 || container is < 1 or > 65535)
            throw new UnicornException("InvalidPublish", ErrorKind.InvalidArgument,
                $"'{text}' is not a port to publish. Write hostPort:containerPort, optionally with /tcp or /udp, such as 8080:80 or 5353:53/udp (ports 1-65535).", text);
        var proto = m.Groups["proto"].Success ? m.Groups["proto"].Value.ToLowerInvariant() : "tcp";
        return new PortMapping(host, container, proto);
    }
}

/// <summary>A bridge of Unicorn's, as recorded in the state root (runtime state: the bridge,
/// like its addresses, does not outlive a reboot). Allocations map addresses to containers.</summary>
public sealed class BridgeRecord
{
    public required string Name { get; init; }
    public required List<string> Subnets { get; init; }
    public required List<string> Gateways { get; init; }
    public bool Masquerade { get; init; }
    public DateTime Created { get; init; }
    public Dictionary<string, string> Allocations { get; init; } = [];
    /// <summary>The last address handed out per family: the next search starts after it, so
    /// that an address just released is not reused at once.</summary>
    public Dictionary<string, string> Last { get; init; } = [];
    /// <summary>Published host ports ("8080/tcp") and the containers they lead to.</summary>
    public Dictionary<string, string> Published { get; init; } = [];
    /// <summary>The host ends of the containers' veths ("uc1a2b3c4d") and their containers:
    /// each has its anti-spoofing chain, removed with it, or reclaimed once its container is gone.</summary>
    public Dictionary<string, string> Interfaces { get; init; } = [];
}

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

/// <summary>A published port as `docker ps` shows it: 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp.</summary>
public sealed record PublishedPort(string HostAddress, int HostPort, int ContainerPort, string Protocol, string Bridge)
{
    public override string ToString() =>
        $"{(HostAddress.Contains(':') ? $"[{HostAddress}]" : HostAddress)}:{HostPort}->{ContainerPort}/{Protocol}";
}

/// <summary>A bridge as Get-UnicornBridge shows it.</summary>
public sealed class BridgeInfo
{
    public required string Name { get; init; }
    public required string[] Subnet { get; init; }
    public required string[] Gateway { get; init; }
    public bool Masquerade { get; init; }
    public int Mtu { get; init; }
    /// <summary>Is the interface there (it vanishes if someone deletes it)?</summary>
    public bool Present { get; init; }
    /// <summary>The ids of the containers connected.</summary>
    public required string[] Containers { get; init; }
    /// <summary>Their connections: name, addresses, aliases and published ports.</summary>
    public required BridgeAttachment[] Attachments { get; init; }
    public DateTime Created { get; init; }
}

/// <summary>What a connect asks for.</summary>
public sealed partial class BridgeOptions
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$")]
    private static partial Regex HostName();

    public string Bridge { get; set; } = BridgeNetwork.DefaultBridge;
    public string[] Subnets { get; set; } = [];
    public IPAddress? IPAddress { get; set; }
    public List<PortMapping> Ports { get; set; } = [];
    /// <summary>Outbound NAT for a bridge made now (null: on, Docker's default).</summary>
    public bool? Masquerade { get; set; }
    /// <summary>More names the container answers to on this bridge.</summary>
    public string[] Aliases { get; set; } = [];

    /// <summary>Checks what can be checked before anything is made (the bridge name, the
    /// subnets); returns the subnets.</summary>
    public List<IPNetwork> Validate()
    {
        BridgeNetwork.ValidateBridgeName(Bridge);
        var subnets = Subnets.Select(BridgeNetwork.ParseSubnet).ToList();
        if (subnets.GroupBy(n => n.BaseAddress.AddressFamily).Any(g => g.Count() > 1))
            throw new UnicornException("InvalidSubnet", ErrorKind.InvalidArgument,
                "Give at most one IPv4 and one IPv6 subnet for a bridge.", string.Join(",", Subnets));
        if (IPAddress is { } ip && subnets.Count > 0 && !subnets.Any(n => n.Contains(ip)))
            throw new UnicornException("AddressOutsideSubnet", ErrorKind.InvalidArgument,
                $"{ip} is not in {string.Join(" or ", Subnets)}. Give an address inside the subnet, or leave out -IPAddress.", ip.ToString());
        foreach (var alias in Aliases)
            if (!HostName().IsMatch(alias))
                throw new UnicornException("InvalidNetworkAlias", ErrorKind.InvalidArgument,
                    $"'{alias}' is not a usable network alias: 1 to 253 letters, digits, '-', '_' or '.', starting with a letter or digit (a host name, as in /etc/hosts).", alias);
        return subnets;
    }
}
