namespace Unicorn.Network;

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
