using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Unicorn.Native;

namespace Unicorn.Network;

/// <summary>Bridges, veth pairs, addresses and routes through rtnetlink, address management
/// (IPAM) under a lock, and NAT through <see cref="Nftables"/>. Bridges and allocations are
/// runtime state (state root/networks), as the kernel objects they describe are.</summary>
public sealed partial class BridgeNetwork(UnicornPaths paths, Func<string, bool> containerExists)
{
    public const string DefaultBridge = "unicorn0";
    public const string DefaultSubnet = "10.88.0.0/16";
    /// <summary>The alias (IFLA_IFALIAS) on every interface Unicorn makes: the kernel's own
    /// mark of what is ours, so that nothing else is ever adopted or deleted.</summary>
    public const string Alias = "unicorn";

    string Dir => Path.Combine(paths.StateRoot, "networks");
    string RecordFile(string bridge) => Path.Combine(Dir, bridge + ".json");
    string AttachmentsFile(string id) => Path.Combine(paths.ContainerDir(id), "network.json");
    /// <summary>The container's /etc/hosts (see <see cref="HostsFile"/>).</summary>
    public string HostsPath(string id) => Path.Combine(paths.ContainerDir(id), "hosts");
    IDisposable Lock() => Files.Lock(Path.Combine(Dir, "lock"));

    /// <summary>A container's attachments. The file is rewritten in place under the network
    /// lock (a replace by rename costs ext4 a data flush, a third of a connect); a reader that
    /// meets it half-written sees none, and what it describes is reclaimed from the bridges'
    /// records once the container is gone.</summary>
    public List<BridgeAttachment> Attachments(string containerId)
    {
        try
        {
            return File.Exists(AttachmentsFile(containerId))
                ? Files.ReadJson(AttachmentsFile(containerId), Json.Default.ListBridgeAttachment) ?? []
                : [];
        }
        catch (System.Text.Json.JsonException) { return []; }
    }

    void SaveAttachments(string id, List<BridgeAttachment> attachments) =>
        File.WriteAllBytes(AttachmentsFile(id), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(attachments, Json.Default.ListBridgeAttachment));

    BridgeRecord? Record(string bridge) => Files.ReadJson(RecordFile(bridge), Json.Default.BridgeRecord);

    IEnumerable<BridgeRecord> Records() => Directory.Exists(Dir)
        ? Directory.EnumerateFiles(Dir, "*.json").Select(f => Files.ReadJson(f, Json.Default.BridgeRecord)).OfType<BridgeRecord>()
        : [];

    void Save(BridgeRecord r) => Files.WriteJson(RecordFile(r.Name), r, Json.Default.BridgeRecord, durable: false);

    // ---- connect ---------------------------------------------------------------------------------

    /// <summary>Connects the container whose init is pid (with that start time) to a bridge,
    /// made if missing: a veth pair whose container end is made inside the container's network
    /// namespace, an address from the bridge's subnet, the default route, published ports,
    /// and the port's anti-spoofing rules (<see cref="Nftables.AddPort"/>), in force before
    /// the veth comes up. All or nothing: a failure removes what this call made and allocates
    /// nothing.</summary>
    public BridgeAttachment Connect(string id, string name, int pid, ulong pidStart, string hostname,
        BridgeOptions o, Action<string>? log = null)
    {
        var subnets = o.Validate();
        // The port's rules (and published ports) are one nft transaction. The process starts
        // now and gets its script once the addresses are known: its start, the larger part of
        // its cost, overlaps the lock, the allocation and the netlink work.
        using var nft = Nftables.Begin();

        using var _ = Lock();
        var attachments = Attachments(id);
        if (attachments.Any(a => a.Bridge == o.Bridge))
            throw new UnicornException("ContainerAlreadyConnected", ErrorKind.ResourceExists,
                $"{name} is already connected to {o.Bridge}. Disconnect-UnicornBridge first to connect it again.", name);
        var records = Records().ToList();
        ReclaimStale(records);
        CheckPorts(o.Ports, records);

        using var host = Netlink.Open();
        using var undo = new Rollback(log);
        int netns = -1;
        try
        {
            var (bridge, link) = EnsureBridge(host, o, subnets, records, undo, log);
            var addresses = Allocate(bridge, o.IPAddress, id);

            try { netns = Libc.Open($"/proc/{pid}/ns/net", Tmds.Linux.LibC.O_RDONLY); }
            catch (NativeException e) when (e.ErrorNumber is Errno.ENOENT or Errno.ESRCH) { netns = -1; }
            // Opened first, then checked: the namespace is the container's, not that of a later
            // process that took its pid.
            if (netns < 0 || ProcFs.StartTime(pid) != pidStart)
                throw new UnicornException("ContainerNotRunning", ErrorKind.InvalidOperation, $"{name} is not running.", name);
            var v4 = addresses.FirstOrDefault(a => a.Address.AddressFamily == AddressFamily.InterNetwork);
            var v6 = addresses.FirstOrDefault(a => a.Address.AddressFamily == AddressFamily.InterNetworkV6);
            string? ipv4 = v4.Address?.ToString(), ipv6 = v6.Address?.ToString();
            var hostName = NewHostInterfaceName(host);
            // Chosen here rather than by the kernel, so that the rules can name it before the veth exists.
            var mac = NewMacAddress();
            var rules = Nftables.AddPort(hostName, FormatMac(mac), ipv4, ipv6);
            if (o.Ports.Count > 0)
            {
                EnableForwarding(log);
                rules += Nftables.Publish(o.Ports, ipv4, ipv6, add: true);
            }
            log?.Invoke($"Adding the anti-spoofing rules of {hostName}{(o.Ports.Count > 0 ? " and the published ports" : "")}.");
            nft.Commit(rules);
            undo.Push(() =>
            {
                if (nft.TryWait())
                    TryApply(Nftables.RemovePort(hostName) + (o.Ports.Count > 0 ? Nftables.Publish(o.Ports, ipv4, ipv6, add: false) : ""), log);
            });

            using var inside = Netlink.OpenIn(netns);
            var taken = inside.Links().Select(l => l.Name).ToHashSet();
            var ifname = Enumerable.Range(0, 100).Select(i => $"eth{i}").First(n => !taken.Contains(n));

            log?.Invoke($"Creating veth {hostName} on {bridge.Name}, {ifname} inside {name}.");
            host.CreateVeth(hostName, link.Index, link.Mtu, ifname, netns, mac);
            var veth = host.GetLink(hostName);
            undo.Push(() => host.DeleteLink(veth.Index, hostName)); // made just now: ours

            var eth = inside.GetLink(ifname);
            foreach (var (address, net, _) in addresses)
                inside.AddAddress(eth.Index, address, net.PrefixLength, $"{ifname} of {name}");
            inside.SetUp(eth.Index, ifname);
            var defaults = inside.Routes().Where(r => r.Destination.PrefixLength == 0).Select(r => r.Destination.BaseAddress.AddressFamily).ToHashSet();
            foreach (var (address, net, gateway) in addresses)
                if (!defaults.Contains(address.AddressFamily))
                    inside.AddRoute(new IPNetwork(address.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0),
                        gateway, eth.Index, $"add the default route via {gateway} in {name}");

            // The host end comes up (and with it the container's carrier) only once its rules hold.
            nft.Wait();
            host.SetUp(veth.Index, hostName, $"{Alias} {id}");
            foreach (var p in o.Ports)
                bridge.Published[Key(p)] = id;
            bridge.Interfaces[hostName] = id;

            var attachment = new BridgeAttachment
            {
                ContainerId = id, Name = name, Bridge = bridge.Name, Interface = ifname, HostInterface = hostName,
                IPAddress = v4.Address?.ToString(), PrefixLength = v4.Address is null ? 0 : v4.Net.PrefixLength, Gateway = v4.Gateway?.ToString(),
                IPv6Address = v6.Address?.ToString(), IPv6PrefixLength = v6.Address is null ? 0 : v6.Net.PrefixLength, IPv6Gateway = v6.Gateway?.ToString(),
                MacAddress = FormatMac(mac), Ports = o.Ports, Aliases = [.. o.Aliases.Distinct()], Hostname = hostname,
            };
            // Its own /etc/hosts names it and every container on the bridge; theirs, once the
            // connect holds, name it too.
            var members = Members(bridge, except: id).Append(attachment).ToList();
            WriteHosts(id, bridge, members);
            undo.Push(() => HostsFile.Update(HostsPath(id), Subnets(bridge), []));
            attachments.Add(attachment);
            SaveAttachments(id, attachments);
            undo.Push(() => SaveAttachments(id, attachments.SkipLast(1).ToList()));
            Save(bridge); // last: until this, the addresses and ports taken are in memory only
            WritePeersHosts(id, bridge, members, log);
            undo.Commit();
            return attachment;
        }
        finally
        {
            if (netns >= 0)
                Libc.Close(netns);
        }
    }

    /// <summary>The bridge's record and link; made (with its gateway addresses and rules) if it
    /// does not exist. A link of that name that Unicorn did not make is refused, never adopted.</summary>
    (BridgeRecord, Link) EnsureBridge(Netlink host, BridgeOptions o, List<IPNetwork> subnets, List<BridgeRecord> records,
        Rollback undo, Action<string>? log)
    {
        var record = records.FirstOrDefault(r => r.Name == o.Bridge);
        var link = host.FindLink(o.Bridge);
        if (link is not null && (link.Kind != "bridge" || link.Alias != Alias || record is null))
            throw new UnicornException("BridgeNotOwned", ErrorKind.ResourceExists,
                $"An interface named '{o.Bridge}' exists and Unicorn did not make it; Unicorn never takes over an interface. Choose another -Bridge name.", o.Bridge);
        if (record is not null)
        {
            var have = record.Subnets.Select(IPNetwork.Parse).ToHashSet();
            if (subnets.Count > 0 && !subnets.ToHashSet().SetEquals(have))
                throw new UnicornException("BridgeSubnetMismatch", ErrorKind.InvalidArgument,
                    $"The bridge {o.Bridge} has the subnet {string.Join(", ", record.Subnets)}, not {string.Join(", ", subnets)}. Leave out -Subnet, or use another -Bridge.", o.Bridge);
            if (o.Masquerade is { } m && m != record.Masquerade)
                throw new UnicornException("BridgeMasqueradeMismatch", ErrorKind.InvalidArgument,
                    $"The bridge {o.Bridge} was made with masquerade {(record.Masquerade ? "on" : "off")}. Leave out -Masquerade, or use another -Bridge.", o.Bridge);
            if (link is not null)
                return (record, link);
            // Deleted behind Unicorn's back: made again as recorded.
            log?.Invoke($"The bridge {o.Bridge} is gone from the kernel; making it again.");
            return (record, CreateBridge(host, record, undo, log));
        }

        if (subnets.Count == 0)
            subnets = [o.Bridge == DefaultBridge ? IPNetwork.Parse(DefaultSubnet) : FreeSubnet(host, records)];
        CheckOverlap(host, subnets, records);
        record = new BridgeRecord
        {
            Name = o.Bridge,
            Subnets = subnets.Select(n => n.ToString()).ToList(),
            Gateways = subnets.Select(n => Add(n.BaseAddress, 1).ToString()).ToList(),
            Masquerade = o.Masquerade ?? true,
            Created = DateTime.UtcNow,
        };
        var made = CreateBridge(host, record, undo, log);
        undo.Push(() => File.Delete(RecordFile(record.Name)));
        return (record, made);
    }

    Link CreateBridge(Netlink host, BridgeRecord record, Rollback undo, Action<string>? log)
    {
        log?.Invoke($"Creating the bridge {record.Name} ({string.Join(", ", record.Subnets)}).");
        host.CreateBridge(record.Name);
        var link = host.GetLink(record.Name);
        undo.Push(() => host.DeleteLink(link.Index, record.Name)); // made just now: ours
        // Before it is up: a router advertisement from a container must never configure the
        // host (its addresses, its default route). The input chain drops them too.
        WriteSysctl($"/proc/sys/net/ipv6/conf/{record.Name}/accept_ra", "0");
        // Published ports reached from the host's own 127.0.0.1 are routed to the bridge. What
        // containers could then reach on the host's 127.0.0.0/8, the input chain drops.
        WriteSysctl($"/proc/sys/net/ipv4/conf/{record.Name}/route_localnet", "1");
        host.SetUp(link.Index, record.Name, Alias);
        foreach (var (net, gateway) in record.Subnets.Zip(record.Gateways))
            host.AddAddress(link.Index, IPAddress.Parse(gateway), IPNetwork.Parse(net).PrefixLength, record.Name);
        if (record.Masquerade)
            EnableForwarding(log);
        bool first = !Records().Any();
        Nftables.Apply(Nftables.AddBridge(record.Name, record.Subnets.Select(IPNetwork.Parse), record.Masquerade));
        undo.Push(() => Nftables.Apply(Nftables.RemoveBridge(record.Name, record.Masquerade, last: first)));
        return link;
    }

    /// <summary>Routing between the bridge and the world needs IPv4 forwarding, which is off by
    /// default. Turned on once, when first needed, and said so; never turned off, because
    /// something else may rely on it by then. (IPv6 forwarding is left alone: turning it on
    /// makes the host stop accepting router advertisements, which can cut it off.)</summary>
    static void EnableForwarding(Action<string>? log)
    {
        const string file = "/proc/sys/net/ipv4/ip_forward";
        if (File.ReadAllText(file).Trim() == "1")
            return;
        File.WriteAllText(file, "1");
        log?.Invoke("Enabled IPv4 forwarding (net.ipv4.ip_forward = 1) for NAT and published ports.");
    }

    /// <summary>Sets a sysctl of a bridge Unicorn made. A file that does not exist is no error
    /// (IPv6 disabled: no router advertisement to refuse either).</summary>
    static void WriteSysctl(string path, string value)
    {
        try { File.WriteAllText(path, value); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UnicornException("SysctlFailed", ErrorKind.InvalidOperation,
                $"Could not set {path} to {value}: {e.Message}. Unicorn needs root, with /proc/sys writable, to make a bridge.", path);
        }
    }

    /// <summary>A random, locally administered, unicast MAC address.</summary>
    static byte[] NewMacAddress()
    {
        var mac = RandomNumberGenerator.GetBytes(6);
        mac[0] = (byte)((mac[0] & 0xfe) | 0x02);
        return mac;
    }

    static string FormatMac(byte[] mac) => string.Join(':', mac.Select(b => b.ToString("x2")));

    /// <summary>Deletes a link only if it carries Unicorn's alias.</summary>
    static void DeleteLinkIfOurs(Netlink host, string name)
    {
        if (host.FindLink(name) is { } l && l.Alias?.StartsWith(Alias) == true)
            host.DeleteLink(l.Index, name);
    }

    string NewHostInterfaceName(Netlink host)
    {
        while (true)
        {
            var name = "uc" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
            if (host.FindLink(name) is null)
                return name;
        }
    }

    // ---- addresses ---------------------------------------------------------------------------------

    /// <summary>One address per subnet of the bridge: the one asked for (in its family) or the
    /// next free one after the last handed out.</summary>
    List<(IPAddress Address, IPNetwork Net, IPAddress Gateway)> Allocate(BridgeRecord bridge, IPAddress? requested, string id)
    {
        var result = new List<(IPAddress, IPNetwork, IPAddress)>();
        if (requested is not null && !bridge.Subnets.Select(IPNetwork.Parse).Any(n => n.Contains(requested)))
            throw new UnicornException("AddressOutsideSubnet", ErrorKind.InvalidArgument,
                $"{requested} is not in the subnet of {bridge.Name} ({string.Join(", ", bridge.Subnets)}). Give an address inside it, or leave out -IPAddress.", requested.ToString());
        foreach (var (text, gatewayText) in bridge.Subnets.Zip(bridge.Gateways))
        {
            var net = IPNetwork.Parse(text);
            var gateway = IPAddress.Parse(gatewayText);
            var (first, last) = HostRange(net);
            IPAddress address;
            if (requested is not null && requested.AddressFamily == net.BaseAddress.AddressFamily)
            {
                var n = ToNumber(requested);
                if (n < first || n > last || requested.Equals(gateway))
                    throw new UnicornException("AddressReserved", ErrorKind.InvalidArgument,
                        $"{requested} is the network, broadcast or gateway address of {bridge.Name}. Give another -IPAddress.", requested.ToString());
                if (bridge.Allocations.ContainsKey(requested.ToString()))
                    throw new UnicornException("AddressInUse", ErrorKind.ResourceExists,
                        $"{requested} on {bridge.Name} is taken by container {Ids.Short(bridge.Allocations[requested.ToString()])}. Give another -IPAddress, or leave it out.", requested.ToString());
                address = requested;
            }
            else
            {
                var family = net.BaseAddress.AddressFamily.ToString();
                var start = bridge.Last.TryGetValue(family, out var l) ? ToNumber(IPAddress.Parse(l)) + 1 : first;
                address = Enumerable.Range(0, 1 << 20).Select(i => Wrap(start + (UInt128)i, first, last))
                    .Select(n => FromNumber(n, net.BaseAddress.AddressFamily))
                    .Where(a => !a.Equals(gateway) && !bridge.Allocations.ContainsKey(a.ToString()))
                    .Take(1).FirstOrDefault()
                    ?? throw new UnicornException("SubnetExhausted", ErrorKind.LimitsExceeded,
                        $"The subnet {net} of {bridge.Name} has no free address left. Remove containers, or use another bridge.", bridge.Name);
                bridge.Last[family] = address.ToString();
            }
            bridge.Allocations[address.ToString()] = id;
            result.Add((address, net, gateway));
        }
        return result;
    }

    static UInt128 Wrap(UInt128 n, UInt128 first, UInt128 last) => n > last ? first + (n - first) % (last - first + 1) : n;

    /// <summary>The usable host addresses: without the network address and, in IPv4, the broadcast.</summary>
    static (UInt128 First, UInt128 Last) HostRange(IPNetwork net)
    {
        int bits = net.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var size = bits - net.PrefixLength >= 64 ? (UInt128)ulong.MaxValue : (UInt128)1 << (bits - net.PrefixLength);
        var first = ToNumber(net.BaseAddress) + 1;
        var last = ToNumber(net.BaseAddress) + size - (bits == 32 ? 2u : 1u);
        return (first, last);
    }

    static UInt128 ToNumber(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return b.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt128BigEndian(b);
    }

    static IPAddress FromNumber(UInt128 n, AddressFamily family)
    {
        var b = new byte[family == AddressFamily.InterNetwork ? 4 : 16];
        if (b.Length == 4) BinaryPrimitives.WriteUInt32BigEndian(b, (uint)n);
        else BinaryPrimitives.WriteUInt128BigEndian(b, n);
        return new IPAddress(b);
    }

    static IPAddress Add(IPAddress a, int n) => FromNumber(ToNumber(a) + (UInt128)n, a.AddressFamily);

    /// <summary>Drops what containers that no longer exist still hold (their ports' rules too).</summary>
    void ReclaimStale(List<BridgeRecord> records)
    {
        foreach (var r in records)
        {
            var stale = r.Allocations.Where(kv => !containerExists(kv.Value)).Select(kv => kv.Key).ToList();
            var ports = r.Published.Where(kv => !containerExists(kv.Value)).Select(kv => kv.Key).ToList();
            var veths = r.Interfaces.Where(kv => !containerExists(kv.Value)).Select(kv => kv.Key).ToList();
            if (stale.Count == 0 && ports.Count == 0 && veths.Count == 0)
                continue;
            foreach (var a in stale) r.Allocations.Remove(a);
            foreach (var p in ports) r.Published.Remove(p);
            foreach (var v in veths) r.Interfaces.Remove(v);
            var script = string.Concat(veths.Select(Nftables.RemovePort));
            if (ports.Count > 0)
                script += Nftables.Publish(ports.Select(FromKey), Has(r, AddressFamily.InterNetwork) ? "0.0.0.0" : null,
                    Has(r, AddressFamily.InterNetworkV6) ? "::" : null, add: false);
            TryApply(script, null);
            Save(r);
        }
    }

    void CheckPorts(List<PortMapping> ports, List<BridgeRecord> records)
    {
        foreach (var group in ports.GroupBy(Key).Where(g => g.Count() > 1))
            throw new UnicornException("PortAlreadyPublished", ErrorKind.ResourceExists, $"The host port {group.Key} is given twice.", group.Key);
        foreach (var p in ports)
            if (records.FirstOrDefault(r => r.Published.ContainsKey(Key(p))) is { } r)
                throw new UnicornException("PortAlreadyPublished", ErrorKind.ResourceExists,
                    $"The host port {Key(p)} is already published, for container {Ids.Short(r.Published[Key(p)])}. Choose another host port.", Key(p));
    }

    /// <summary>Removes rules that may be gone already (say, the table was deleted by hand):
    /// their absence must not block the release of what they belonged to.</summary>
    static void TryApply(string script, Action<string>? log)
    {
        try { Nftables.Apply(script); }
        catch (UnicornException e) when (e.ErrorId == "NftablesFailed") { log?.Invoke($"Cleanup: {e.Message}"); }
    }

    static bool Has(BridgeRecord r, AddressFamily family) => r.Subnets.Any(s => IPNetwork.Parse(s).BaseAddress.AddressFamily == family);

    static string Key(PortMapping p) => $"{p.HostPort}/{p.Protocol}";
    static PortMapping FromKey(string key) => new(int.Parse(key.Split('/')[0]), 1, key.Split('/')[1]);

    // ---- subnets -----------------------------------------------------------------------------------

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,15}$")]
    private static partial Regex BridgeName();

    public static void ValidateBridgeName(string name)
    {
        if (!BridgeName().IsMatch(name) || name is "." or "..")
            throw new UnicornException("InvalidBridgeName", ErrorKind.InvalidArgument,
                $"'{name}' is not a usable bridge name: 1 to 15 letters, digits, '_', '.' or '-'.", name);
    }

    public static IPNetwork ParseSubnet(string text)
    {
        // The address part must be the network's own (10.77.0.0/24, not 10.77.0.1/24).
        if (!IPNetwork.TryParse(text, out var net) || !text.Contains('/')
            || !IPAddress.TryParse(text[..text.IndexOf('/')], out var given) || !given.Equals(net.BaseAddress))
            throw new UnicornException("InvalidSubnet", ErrorKind.InvalidArgument,
                $"'{text}' is not a subnet in CIDR form with its host bits zero, such as 10.77.0.0/24 or fd00:77::/64.", text);
        int bits = net.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (net.PrefixLength > bits - 2 || net.PrefixLength < (bits == 32 ? 8 : 48))
            throw new UnicornException("InvalidSubnet", ErrorKind.InvalidArgument,
                $"The subnet {text} has no room for a gateway and containers, or is too large: use a prefix from /8 to /30 for IPv4, /48 to /126 for IPv6.", text);
        return net;
    }

    static bool Overlaps(IPNetwork a, IPNetwork b) => a.Contains(b.BaseAddress) || b.Contains(a.BaseAddress);

    void CheckOverlap(Netlink host, List<IPNetwork> subnets, List<BridgeRecord> records)
    {
        foreach (var net in subnets)
        {
            if (records.SelectMany(r => r.Subnets.Select(s => (r.Name, Net: IPNetwork.Parse(s)))).FirstOrDefault(x => Overlaps(x.Net, net)) is { Name: not null } other)
                throw new UnicornException("SubnetOverlap", ErrorKind.ResourceExists,
                    $"The subnet {net} overlaps {other.Net} of the bridge {other.Name}. Choose another -Subnet.", net.ToString());
            if (host.Routes().FirstOrDefault(r => r.Destination.PrefixLength > 0 && Overlaps(r.Destination, net)) is { } route)
                throw new UnicornException("SubnetOverlap", ErrorKind.ResourceExists,
                    $"The subnet {net} overlaps the host's route to {route.Destination}: containers there could not reach it. Choose another -Subnet.", net.ToString());
        }
    }

    /// <summary>A free /24 in 10.89.0.0/16 for a new bridge given no subnet (as Podman does).</summary>
    IPNetwork FreeSubnet(Netlink host, List<BridgeRecord> records)
    {
        var used = records.SelectMany(r => r.Subnets).Select(IPNetwork.Parse)
            .Concat(host.Routes().Where(r => r.Destination.PrefixLength > 0).Select(r => r.Destination)).ToList();
        for (int i = 0; i < 256; i++)
        {
            var net = new IPNetwork(new IPAddress([10, 89, (byte)i, 0]), 24);
            if (!used.Any(u => Overlaps(u, net)))
                return net;
        }
        throw new UnicornException("SubnetExhausted", ErrorKind.LimitsExceeded, "No free /24 is left in 10.89.0.0/16. Give -Subnet.", null);
    }

    // ---- disconnect, release, bridges --------------------------------------------------------------

    /// <summary>Removes one attachment of a running container: its veth (and with it the
    /// interface inside), its rules and its addresses.</summary>
    public void Disconnect(string id, string bridge, Action<string>? log = null)
    {
        using var _ = Lock();
        var attachments = Attachments(id);
        var a = attachments.FirstOrDefault(x => x.Bridge == bridge)
            ?? throw new UnicornException("NotConnected", ErrorKind.ObjectNotFound,
                $"Container {Ids.Short(id)} is not connected to {bridge}. Get-UnicornBridge lists the connections.", bridge);
        using (var host = Netlink.Open())
        {
            log?.Invoke($"Deleting veth {a.HostInterface}.");
            DeleteLinkIfOurs(host, a.HostInterface);
        }
        ReleaseAttachment(a);
        attachments.Remove(a);
        SaveAttachments(id, attachments);
        if (Record(bridge) is { } r)
        {
            TryWriteHosts(a, () => HostsFile.Update(HostsPath(id), Subnets(r), []), log);
            WritePeersHosts(id, r, Members(r, except: id).ToList(), log);
        }
    }

    /// <summary>Releases what a container being removed holds. Its veths are not deleted here:
    /// the kernel deletes them with its network namespace, in the background (deleting a veth
    /// synchronously costs about 20 ms).</summary>
    public void Release(string id, Action<string>? log = null)
    {
        var attachments = Attachments(id);
        if (attachments.Count == 0)
            return;
        using var _ = Lock();
        foreach (var a in attachments)
            ReleaseAttachment(a, log);
        File.Delete(AttachmentsFile(id));
        foreach (var r in attachments.Select(a => Record(a.Bridge)).OfType<BridgeRecord>())
            WritePeersHosts(id, r, Members(r, except: id).ToList(), log);
    }

    void ReleaseAttachment(BridgeAttachment a, Action<string>? log = null)
    {
        if (Record(a.Bridge) is not { } r)
            return;
        TryApply(Nftables.RemovePort(a.HostInterface)
            + (a.Ports.Count > 0 ? Nftables.Publish(a.Ports, a.IPAddress, a.IPv6Address, add: false) : ""), log);
        r.Interfaces.Remove(a.HostInterface);
        foreach (var p in a.Ports) r.Published.Remove(Key(p));
        foreach (var ip in a.Addresses) r.Allocations.Remove(ip);
        Save(r);
    }

    public IEnumerable<BridgeInfo> List()
    {
        using var host = Netlink.Open();
        foreach (var r in Records().OrderBy(r => r.Name))
        {
            var link = host.FindLink(r.Name);
            yield return new BridgeInfo
            {
                Name = r.Name, Subnet = [.. r.Subnets], Gateway = [.. r.Gateways], Masquerade = r.Masquerade,
                Mtu = link?.Mtu ?? 0, Present = link is not null, Created = r.Created,
                Containers = r.Allocations.Values.Where(containerExists).Distinct().ToArray(),
                Attachments = [.. Members(r, except: null).OrderBy(a => a.Name, StringComparer.Ordinal)],
            };
        }
    }

    /// <summary>Removes a bridge Unicorn made, its rules, and (the last one) Unicorn's table.
    /// Containers still connected are refused, unless disconnect is given to detach them.</summary>
    public void RemoveBridge(string bridge, Action<string, string>? disconnect, Action<string>? log = null)
    {
        ValidateBridgeName(bridge);
        BridgeRecord record;
        using (Lock())
        {
            record = Record(bridge) ?? throw new UnicornException("BridgeNotFound", ErrorKind.ObjectNotFound,
                $"Unicorn has no bridge named '{bridge}'. Get-UnicornBridge lists them.", bridge);
        }
        var users = record.Allocations.Values.Where(containerExists).Distinct().ToList();
        if (users.Count > 0 && disconnect is null)
            throw new UnicornException("BridgeInUse", ErrorKind.ResourceBusy,
                $"The bridge {bridge} has containers connected ({string.Join(", ", users.Select(Ids.Short))}). Disconnect them first, or use -Force.", bridge);
        foreach (var id in users)
            disconnect!(id, bridge);

        using (Lock())
        {
            using var host = Netlink.Open();
            log?.Invoke($"Deleting the bridge {bridge}.");
            bool last = Records().All(r => r.Name == bridge);
            // The ports of containers gone without their cleanup (those connected were disconnected above).
            var left = last ? "" : string.Concat((Record(bridge) ?? record).Interfaces.Keys.Select(Nftables.RemovePort));
            TryApply(left + Nftables.RemoveBridge(bridge, record.Masquerade, last), log);
            DeleteLinkIfOurs(host, bridge);
            File.Delete(RecordFile(bridge));
        }
    }

    // ---- names: /etc/hosts -----------------------------------------------------------------------

    // Containers on a bridge find each other by name through their /etc/hosts, which the engine
    // rewrites (under the network lock) whenever one joins or leaves. No resolver to run: a
    // container needs no daemon beside it, and every libc, static or not, reads /etc/hosts.

    /// <summary>The connections to the bridge of the containers that hold an address on it.</summary>
    IEnumerable<BridgeAttachment> Members(BridgeRecord bridge, string? except) =>
        bridge.Allocations.Values.Distinct().Where(m => m != except && containerExists(m))
            .SelectMany(m => Attachments(m).Where(a => a.Bridge == bridge.Name));

    static List<IPNetwork> Subnets(BridgeRecord bridge) => bridge.Subnets.Select(IPNetwork.Parse).ToList();

    /// <summary>Writes the bridge's lines of a member's /etc/hosts: every member's addresses
    /// with its names, its own with its hostname first.</summary>
    void WriteHosts(string id, BridgeRecord bridge, List<BridgeAttachment> members) =>
        HostsFile.Update(HostsPath(id), Subnets(bridge),
            members.SelectMany(m => m.Addresses.Select(ip => HostsFile.Line(ip, m.HostNames(self: m.ContainerId == id)))));

    /// <summary>Writes the bridge's lines of every member's /etc/hosts but changed's.</summary>
    void WritePeersHosts(string changed, BridgeRecord bridge, List<BridgeAttachment> members, Action<string>? log)
    {
        foreach (var m in members.Where(m => m.ContainerId != changed))
            TryWriteHosts(m, () => WriteHosts(m.ContainerId, bridge, members), log);
    }

    /// <summary>A file that cannot be written (a privileged container can make its own
    /// immutable) is said and skipped: one container must not stop the others' connects, nor
    /// its own disconnect.</summary>
    static void TryWriteHosts(BridgeAttachment of, Action write, Action<string>? log)
    {
        try { write(); }
        catch (UnicornException e) { log?.Invoke($"The /etc/hosts of {of.Name ?? Ids.Short(of.ContainerId)} was not updated: {e.Message}"); }
    }
}
