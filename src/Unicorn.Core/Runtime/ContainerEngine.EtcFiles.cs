namespace Unicorn.Runtime;

// The container's own /etc/hostname, hosts and resolv.conf, kept in its state directory and
// bound over the rootfs's (so no path the container controls is written).
public sealed partial class ContainerEngine
{
    // The container's own /etc/hostname, hosts and resolv.conf, bound over the rootfs's.
    static void WriteEtcFiles(string dir, string hostname)
    {
        Files.WritePublic(Path.Combine(dir, "hostname"), hostname + "\n");
        Files.WritePublic(Path.Combine(dir, "hosts"), Unicorn.Network.HostsFile.Initial(hostname));
        Files.WritePublic(Path.Combine(dir, "resolv.conf"), ResolvConf(ReadLines("/etc/resolv.conf"), () => ReadLines("/run/systemd/resolve/resolv.conf")));
    }

    static string[] ReadLines(string path)
    {
        try { return File.Exists(path) ? File.ReadAllLines(path) : []; }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }

    /// <summary>The container's resolv.conf: the host's, less resolvers on its loopback, which
    /// another network namespace cannot reach. When that leaves none (a local stub such as
    /// systemd-resolved's 127.0.0.53), the stub's own upstream servers (systemd's list of
    /// them), and failing those Google's public ones, as Docker does.</summary>
    public static string ResolvConf(string[] host, Func<string[]> upstream)
    {
        static bool IsServer(string line) => line.TrimStart().StartsWith("nameserver");
        static bool IsLoopback(string line) => line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries) is [_, var a, ..]
            && System.Net.IPAddress.TryParse(a.Split('%')[0], out var ip) && System.Net.IPAddress.IsLoopback(ip);
        var lines = host.Where(l => !(IsServer(l) && IsLoopback(l))).ToList();
        if (!lines.Any(IsServer))
        {
            var servers = upstream().Where(l => IsServer(l) && !IsLoopback(l)).ToList();
            lines.AddRange(servers.Count > 0 ? servers : ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]);
        }
        return string.Join('\n', lines) + "\n";
    }
}
