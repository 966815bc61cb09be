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
