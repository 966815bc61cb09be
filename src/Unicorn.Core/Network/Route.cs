using System.Net;

namespace Unicorn.Network;

/// <summary>A route of the main table: its destination (0.0.0.0/0 for a default route).</summary>
public sealed record Route(IPNetwork Destination, IPAddress? Gateway, int OutputIndex);
