namespace Unicorn.Network;

/// <summary>A link as rtnetlink reports it.</summary>
public sealed record Link(int Index, string Name, int Mtu, string? Kind, string? Alias, int Master, bool Up, byte[] Mac)
{
    public string MacAddress => string.Join(':', Mac.Select(b => b.ToString("x2")));
}
