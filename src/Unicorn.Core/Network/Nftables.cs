using System.Diagnostics;
using System.Net;
using System.Text;

namespace Unicorn.Network;

/// <summary>Unicorn's NAT and isolation rules: one nftables table of its own, `inet unicorn`,
/// changed only through the `nft` tool, each change one atomic transaction (`nft -f -`).
/// Nothing else in the ruleset is touched. The base chains' rules are fixed; what varies lives
/// in maps and sets keyed by bridge or by published port, so that removing a bridge or a
/// container deletes exactly its elements and its chains. A second table, `bridge unicorn`,
/// holds the anti-spoofing chain of every container's port (its host-side veth).</summary>
public static class Nftables
{
    public const string Table = "inet unicorn";
    /// <summary>Frames entering a bridge from a container's veth, before the bridge forwards
    /// them or hands them to the host: one chain per port, reached through the map `ports`.</summary>
    public const string BridgeTable = "bridge unicorn";

    /// <summary>The tables, their maps and base chains, with their fixed rules (flushed and
    /// written again, so the script can run any number of times).</summary>
    // The input chain: a container must not configure the host with a router advertisement,
    // nor reach what listens on the host's 127.0.0.0/8 (route_localnet=1 on a bridge, for the
    // published ports, would let it: CVE-2020-8558). Only the replies of a connection made to
    // a published port from the host's 127.0.0.1, DNAT'd on the way out, come back to 127/8.
    // Two rules, accept then drop, rather than one `ct status & dnat == 0 drop`: a packet that
    // conntrack left without an entry (invalid, untracked) has no status, and a rule on the
    // status does not match it at all, so that rule would let it through.
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
          chain input { type filter hook input priority filter; policy accept; }
        }
        {{BridgeBase}}
        flush chain {{Table}} prerouting
        flush chain {{Table}} output
        flush chain {{Table}} postrouting
        flush chain {{Table}} forward
        flush chain {{Table}} input
        add rule {{Table}} prerouting fib daddr type local dnat ip to meta l4proto . th dport map @publish4
        add rule {{Table}} prerouting fib daddr type local dnat ip6 to meta l4proto . th dport map @publish6
        add rule {{Table}} output fib daddr type local dnat ip to meta l4proto . th dport map @publish4
        add rule {{Table}} output fib daddr type local dnat ip6 to meta l4proto . th dport map @publish6
        add rule {{Table}} postrouting ip saddr 127.0.0.0/8 oifname @bridges masquerade
        add rule {{Table}} postrouting iifname @bridges oifname @bridges ct status dnat masquerade
        add rule {{Table}} postrouting iifname vmap @nat_bridges
        add rule {{Table}} forward iifname vmap @isolated_bridges
        add rule {{Table}} input iifname @bridges icmpv6 type nd-router-advert drop
        add rule {{Table}} input iifname @bridges ip daddr 127.0.0.0/8 ct status dnat accept
        add rule {{Table}} input iifname @bridges ip daddr 127.0.0.0/8 drop

        """;

    /// <summary>The bridge table, with its one fixed rule.</summary>
    const string BridgeBase = $$"""
        table {{BridgeTable}} {
          map ports { type ifname : verdict; }
          chain prerouting { type filter hook prerouting priority filter; policy accept; }
        }
        flush chain {{BridgeTable}} prerouting
        add rule {{BridgeTable}} prerouting iifname vmap @ports
        """;

    /// <summary>A new bridge: its isolation from Unicorn's other bridges and, with masquerade,
    /// the outbound NAT of its subnets.</summary>
    public static string AddBridge(string bridge, IEnumerable<IPNetwork> subnets, bool masquerade)
    {
        var s = new StringBuilder(Base());
        s.AppendLine($"add chain {Table} isolate-{bridge}");
        s.AppendLine($"flush chain {Table} isolate-{bridge}");
        // A published port is reachable from every bridge (through the host's address: DNAT).
        // Accept, then drop: a packet without a conntrack entry (invalid) has no status to test.
        s.AppendLine($"add rule {Table} isolate-{bridge} oifname @bridges oifname != \"{bridge}\" ct status dnat accept");
        s.AppendLine($"add rule {Table} isolate-{bridge} oifname @bridges oifname != \"{bridge}\" drop");
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
            return $"delete table {Table}\nadd table {BridgeTable}\ndelete table {BridgeTable}\n";
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

    /// <summary>A container's port (the host end of its veth) may only carry the container's
    /// own MAC and addresses: its Ethernet source and ARP sender, its IPv4 source, its IPv6
    /// source (link-local and unspecified too, for neighbour discovery and MLD, which are
    /// ICMPv6), and the target of its neighbour advertisements; only IPv4, ARP and IPv6 (no
    /// VLAN tag, no other protocol to hide in); no router advertisement or redirect, which
    /// only a router sends. An address family the bridge does not have is dropped whole.</summary>
    public static string AddPort(string port, string mac, string? ipv4, string? ipv6)
    {
        var chain = $"{BridgeTable} port-{port}";
        // Nothing is deleted here, not even the base chain's rule to write it again: a
        // transaction that deletes anything makes nft's exit wait for the kernel's RCU grace
        // period (its socket's release flushes nf_tables' destroy work), 10 to 20 ms.
        var s = new StringBuilder();
        s.AppendLine($"add chain {chain}");
        s.AppendLine($"flush chain {chain}"); // new, so empty: nothing deleted
        s.AppendLine($"add rule {chain} ether saddr != {mac} drop");
        s.AppendLine($"add rule {chain} ether type != {{ ip, arp, ip6 }} drop");
        if (ipv4 is null)
            s.AppendLine($"add rule {chain} ether type {{ ip, arp }} drop");
        else
        {
            s.AppendLine($"add rule {chain} arp saddr ether != {mac} drop");
            s.AppendLine($"add rule {chain} arp saddr ip != {ipv4} drop");
            s.AppendLine($"add rule {chain} ip saddr != {ipv4} drop");
        }
        var own = ipv6 is null ? "" : $"{ipv6}, ";
        s.AppendLine($"add rule {chain} ip6 saddr != {{ {own}::, fe80::/10 }} drop");
        s.AppendLine($"add rule {chain} ip6 saddr {{ ::, fe80::/10 }} meta l4proto != ipv6-icmp drop");
        s.AppendLine($"add rule {chain} icmpv6 type {{ nd-router-advert, nd-redirect }} drop");
        // The target of a neighbour advertisement (bits 64-191 of ICMPv6: this nft has no
        // `icmpv6 taddr`) is the address it claims: only the container's own, or link-local.
        var target = ipv6 is null ? "" : $"@th,64,128 != 0x{Convert.ToHexStringLower(IPAddress.Parse(ipv6).GetAddressBytes())} ";
        s.AppendLine($"add rule {chain} icmpv6 type nd-neighbor-advert {target}@th,64,10 != 0x3fa drop");
        s.AppendLine($"add element {BridgeTable} ports {{ \"{port}\" : jump port-{port} }}");
        return s.ToString();
    }

    /// <summary>Undoes <see cref="AddPort"/>. The chain and the element are declared first, so
    /// that the removal cannot fail (and with it the rest of its transaction) if they are gone.</summary>
    public static string RemovePort(string port)
    {
        var chain = $"{BridgeTable} port-{port}";
        return $"add table {BridgeTable}\n"
            + $"add map {BridgeTable} ports {{ type ifname : verdict; }}\n"
            + $"add chain {chain}\n"
            + $"add element {BridgeTable} ports {{ \"{port}\" : jump port-{port} }}\n"
            + $"delete element {BridgeTable} ports {{ \"{port}\" }}\n"
            + $"delete chain {chain}\n";
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
        using var t = Begin();
        t.Commit(script);
        t.Wait();
    }

    /// <summary>An `nft -f -` to give a script to: started before its script is known, so that
    /// the process's start (exec, libraries, nft's own set-up: about as long as a whole connect)
    /// is not on the caller's path. nft reads all of its input before it looks at the kernel,
    /// so what the script needs may be made meanwhile. The first one in a process starts now;
    /// each one used starts the next in the background, once it is done. That spare waits on
    /// its stdin, and exits with nothing done when this process exits (the pipe closes; its
    /// write end is close-on-exec, so no other child keeps it open).</summary>
    public static Transaction Begin()
    {
        var t = Interlocked.Exchange(ref s_spare, null);
        if (t is not null && !t.HasExited)
            return t;
        t?.Dispose();
        return Spawn();
    }

    static Transaction? s_spare;

    static void Refill() => ThreadPool.UnsafeQueueUserWorkItem(static _ =>
    {
        if (Volatile.Read(ref s_spare) is not null)
            return;
        try
        {
            var t = Spawn();
            if (Interlocked.CompareExchange(ref s_spare, t, null) is not null)
                t.Dispose(spare: false);
        }
        catch (UnicornException) { } // no nft: the next Begin says so
        catch (System.ComponentModel.Win32Exception) { }
    }, null);

    static Transaction Spawn()
    {
        var nft = Find() ?? throw new UnicornException("NftNotFound", ErrorKind.NotInstalled,
            "The 'nft' tool was not found: Unicorn's bridges need it for their isolation, NAT and published ports. Install nftables (apt-get install nftables).", "nft");
        var psi = new ProcessStartInfo(nft, ["-f", "-"])
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        return new Transaction(Process.Start(psi)!);
    }

    /// <summary>One `nft -f -` process: <see cref="Commit"/> gives it its script (nothing, if
    /// it is disposed first), <see cref="Wait"/> its verdict.</summary>
    public sealed class Transaction : IDisposable
    {
        readonly Process _p;
        readonly Task<string> _stderr, _stdout;
        string _script = "";
        bool _closed;
        bool? _succeeded;

        internal Transaction(Process p)
        {
            _p = p;
            _stderr = p.StandardError.ReadToEndAsync();
            _stdout = p.StandardOutput.ReadToEndAsync();
        }

        public void Commit(string script)
        {
            _script = script;
            Close(script);
        }

        void Close(string script)
        {
            if (_closed)
                return;
            _closed = true;
            // An nft that died already (EPIPE) says why in Wait.
            try { _p.StandardInput.Write(script); }
            catch (IOException) { }
            try { _p.StandardInput.Close(); }
            catch (IOException) { }
        }

        /// <summary>Waits for the transaction; an error if nft refused it (then none of it holds).</summary>
        public void Wait()
        {
            if (!TryWait())
                throw new UnicornException("NftablesFailed", ErrorKind.InvalidOperation,
                    $"nft refused Unicorn's rules (exit {_p.ExitCode}): {_stderr.Result.Trim()}", _script);
        }

        /// <summary>Waits for the transaction; did it hold?</summary>
        public bool TryWait()
        {
            if (_succeeded is { } done)
                return done;
            Close("");
            _p.WaitForExit();
            _stdout.Wait();
            _succeeded = _p.ExitCode == 0;
            return _succeeded.Value;
        }

        internal bool HasExited => _p.HasExited;

        public void Dispose() => Dispose(spare: true);

        internal void Dispose(bool spare)
        {
            TryWait();
            _p.Dispose();
            if (spare)
                Refill();
        }
    }

    static string? Find()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin"]);
        return dirs.Select(d => Path.Combine(d, "nft")).FirstOrDefault(File.Exists);
    }
}
