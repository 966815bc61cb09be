using System.Net;
using System.Text.RegularExpressions;

namespace Unicorn.Network;

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
