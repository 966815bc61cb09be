using System.Net;
using Unicorn.Network;

namespace Unicorn.Commands;

/// <summary>What Connect-UnicornBridge and Start-UnicornContainer share of a connect.</summary>
static class BridgeParameters
{
    public static BridgeOptions Options(string bridge, string[] subnets, IPAddress? ip, string[] publish, bool? masquerade, string[] aliases) => new()
    {
        Bridge = bridge,
        Subnets = subnets,
        IPAddress = ip,
        Ports = publish.SelectMany(p => p.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Select(PortMapping.Parse).ToList(),
        Masquerade = masquerade,
        Aliases = aliases,
    };
}
