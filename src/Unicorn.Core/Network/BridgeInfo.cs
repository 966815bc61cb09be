namespace Unicorn.Network;

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
