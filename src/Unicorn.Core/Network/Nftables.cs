using System.Diagnostics;
using System.Net;
using System.Text;

namespace Unicorn.Network;

/// <summary>Unicorn's NAT and isolation rules: one nftables table of its own, `inet unicorn`,
/// changed only through the `nft` tool, each change one atomic transaction (`nft -f -`).
/// Nothing else in the ruleset is touched. The base chains' rules are fixed; what varies lives
/// in maps and sets keyed by bridge or by published port, so that removing a bridge or a
/// container deletes exactly its elements and its chains.</summary>
public static class Nftables
{
    public const string Table = "inet unicorn";

    /// <summary>The table, its maps and its base chains, with their fixed rules (flushed and
    /// written again, so the script can run any number of times).</summary>
    static string Base() => $$"""
        table {{Table}} {
          set bridges { type ifname; }
          map nat_bridges { type ifname : verdict; }
          map isolated_bridges { type ifname : verdict; }
          map publish4 { type inet_proto . inet_service : ipv4_addr . inet_service; }
          map publish6 { type inet_proto . inet_service : ipv6_addr . inet_service; }
          chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
          chain output { type nat hook output priority -100; policy accept; }
          chain postrouting { type nat hook postrouting priority srcnat; policy accept; }
          chain forward { type filter hook forward priority filter; policy accept; }
        }
        flush chain {{Table}} prerouting
        flush chain {{Table}} output
        flush chain {{Table}} postrouting
        flush chain {{Table}} forward
        add rule {{Table}} prerouting fib daddr type local dnat ip to meta l4proto . th dport map @publish4
        add rule {{Table}} prerouting fib daddr type local dnat ip6 to meta l4proto . th dport map @publish6
        add rule {{Table}} output fib daddr type local dnat ip to meta l4proto . th dport map @publish4
        add rule {{Table}} output fib daddr type local dnat ip6 to meta l4proto . th dport map @publish6
        add rule {{Table}} postrouting ip saddr 127.0.0.0/8 oifname @bridges masquerade
        add rule {{Table}} postrouting iifname @bridges oifname @bridges ct status dnat masquerade
        add rule {{Table}} postrouting iifname vmap @nat_bridges
        add rule {{Table}} forward iifname vmap @isolated_bridges

        """;

    /// <summary>A new bridge: its isolation from Unicorn's other bridges and, with masquerade,
    /// the outbound NAT of its subnets.</summary>
    public static string AddBridge(string bridge, IEnumerable<IPNetwork> subnets, bool masquerade)
    {
        var s = new StringBuilder(Base());
        s.AppendLine($"add chain {Table} isolate-{bridge}");
        s.AppendLine($"flush chain {Table} isolate-{bridge}");
        // A published port is reachable from every bridge (through the host's address: DNAT).
        s.AppendLine($"add rule {Table} isolate-{bridge} oifname @bridges oifname != \"{bridge}\" ct status & dnat == 0 drop");
        s.AppendLine($"add element {Table} bridges {{ \"{bridge}\" }}");
        s.AppendLine($"add element {Table} isolated_bridges {{ \"{bridge}\" : jump isolate-{bridge} }}");
        if (masquerade)
        {
            s.AppendLine($"add chain {Table} nat-{bridge}");
            s.AppendLine($"flush chain {Table} nat-{bridge}");
            foreach (var net in subnets)
                s.AppendLine($"add rule {Table} nat-{bridge} {Family(net)} saddr {net} oifname != \"{bridge}\" masquerade");
            s.AppendLine($"add element {Table} nat_bridges {{ \"{bridge}\" : jump nat-{bridge} }}");
        }
        return s.ToString();
    }

    /// <summary>Undoes <see cref="AddBridge"/>; the whole table goes with the last bridge.</summary>
    public static string RemoveBridge(string bridge, bool masquerade, bool last)
    {
        if (last)
            return $"delete table {Table}\n";
        var s = new StringBuilder();
        if (masquerade)
        {
            s.AppendLine($"delete element {Table} nat_bridges {{ \"{bridge}\" }}");
            s.AppendLine($"delete chain {Table} nat-{bridge}");
        }
        s.AppendLine($"delete element {Table} isolated_bridges {{ \"{bridge}\" }}");
        s.AppendLine($"delete chain {Table} isolate-{bridge}");
        s.AppendLine($"delete element {Table} bridges {{ \"{bridge}\" }}");
        return s.ToString();
    }

    /// <summary>Published ports: one map element per port and address family.</summary>
    public static string Publish(IEnumerable<PortMapping> ports, string? ipv4, string? ipv6, bool add)
    {
        var s = new StringBuilder();
        foreach (var p in ports)
        {
            var proto = p.Protocol.ToLowerInvariant();
            foreach (var (map, ip) in new[] { ("publish4", ipv4), ("publish6", ipv6) })
                if (ip is not null)
                    s.AppendLine(add
                        ? $"add element {Table} {map} {{ {proto} . {p.HostPort} : {ip} . {p.ContainerPort} }}"
                        : $"delete element {Table} {map} {{ {proto} . {p.HostPort} }}");
        }
        return s.ToString();
    }

    static string Family(IPNetwork net) => net.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? "ip" : "ip6";

    /// <summary>Applies a script in one transaction: all of it or, on an error, none.</summary>
    public static void Apply(string script)
    {
        if (script.Length == 0)
            return;
        var nft = Find() ?? throw new UnicornException("NftNotFound", ErrorKind.NotInstalled,
            "The 'nft' tool was not found: Unicorn's bridges need it for their isolation, NAT and published ports. Install nftables (apt-get install nftables).", "nft");
        var psi = new ProcessStartInfo(nft, ["-f", "-"])
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(script);
        p.StandardInput.Close();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new UnicornException("NftablesFailed", ErrorKind.InvalidOperation,
                $"nft refused Unicorn's rules (exit {p.ExitCode}): {stderr.Result.Trim()}", script);
    }

    static string? Find()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin"]);
        return dirs.Select(d => Path.Combine(d, "nft")).FirstOrDefault(File.Exists);
    }
}
