using System.Management.Automation;
using System.Net;
using Unicorn.Network;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommunications.Connect, "UnicornBridge", SupportsShouldProcess = true, DefaultParameterSetName = "Id")]
[OutputType(typeof(BridgeAttachment))]
public sealed class ConnectUnicornBridgeCommand : ContainerCmdlet
{
    /// <summary>The bridge, made if it does not exist.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(BridgeCompleter))]
    [ValidateNotNullOrEmpty]
    public string Bridge { get; set; } = BridgeNetwork.DefaultBridge;

    /// <summary>A new bridge's subnets in CIDR form: one IPv4, and an IPv6 one for dual stack.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] Subnet { get; set; } = [];

    /// <summary>The container's address instead of the next free one.</summary>
    [Parameter]
    [Alias("IP")]
    public IPAddress? IPAddress { get; set; }

    /// <summary>hostPort:containerPort[/tcp|udp].</summary>
    [Parameter]
    [Alias("p")]
    [ValidateNotNullOrEmpty]
    public string[] Publish { get; set; } = [];

    /// <summary>Outbound NAT for a bridge made now: on unless -Masquerade:$false.</summary>
    [Parameter]
    public SwitchParameter Masquerade { get; set; }

    /// <summary>More names the container answers to on this bridge, besides its own.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] NetworkAlias { get; set; } = [];

    protected override void ProcessRecord()
    {
        BridgeOptions? options = null;
        OrStop(() => options = BridgeParameters.Options(Bridge, Subnet, IPAddress, Publish,
            MyInvocation.BoundParameters.ContainsKey(nameof(Masquerade)) ? Masquerade.IsPresent : null, NetworkAlias));
        foreach (var c in Targets())
            ForItem(() =>
            {
                if (ShouldProcess($"{c.Name} ({c.ShortId})", $"Connect to bridge {Bridge}"))
                    WriteObject(Engine.Connect(c.Id, options!, Verbose));
            });
    }
}
