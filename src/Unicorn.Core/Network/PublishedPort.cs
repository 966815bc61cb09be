namespace Unicorn.Network;

/// <summary>A published port as `docker ps` shows it: 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp.</summary>
public sealed record PublishedPort(string HostAddress, int HostPort, int ContainerPort, string Protocol, string Bridge)
{
    public override string ToString() =>
        $"{(HostAddress.Contains(':') ? $"[{HostAddress}]" : HostAddress)}:{HostPort}->{ContainerPort}/{Protocol}";
}
