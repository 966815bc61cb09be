using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Network;

/// <summary>An rtnetlink socket (NETLINK_ROUTE), bound to the network namespace it was made in:
/// one request per operation, each acknowledged and checked, errors thrown with their errno.</summary>
public sealed unsafe class Netlink : IDisposable
{
    const int AF_NETLINK = 16, NETLINK_ROUTE = 0, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000;
    const int SOL_NETLINK = 270, NETLINK_CAP_ACK = 10, NETLINK_EXT_ACK = 11;
    const int CLONE_NEWNET = 0x40000000;
    const ushort NLMSG_ERROR = 2, NLMSG_DONE = 3;
    const ushort RTM_NEWLINK = 16, RTM_DELLINK = 17, RTM_GETLINK = 18, RTM_NEWADDR = 20, RTM_GETADDR = 22, RTM_NEWROUTE = 24, RTM_GETROUTE = 26;
    const ushort NLM_F_REQUEST = 1, NLM_F_ACK = 4, NLM_F_DUMP = 0x300, NLM_F_EXCL = 0x200, NLM_F_CREATE = 0x400;
    const ushort IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_MASTER = 10, IFLA_LINKINFO = 18, IFLA_IFALIAS = 20, IFLA_NET_NS_FD = 28;
    const ushort IFLA_INFO_KIND = 1, IFLA_INFO_DATA = 2, VETH_INFO_PEER = 1;
    const ushort IFA_ADDRESS = 1, IFA_LOCAL = 2, IFA_FLAGS = 8;
    const uint IFA_F_NODAD = 0x02, IFF_UP = 1;
    const ushort RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_TABLE = 15;
    const byte RT_TABLE_MAIN = 254, RTPROT_STATIC = 4, RTN_UNICAST = 1;

    readonly int _fd;
    uint _seq;

    Netlink(int fd) => _fd = fd;

    /// <summary>A socket in this thread's network namespace.</summary>
    public static Netlink Open()
    {
        int fd = L.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
            throw new NativeException(L.errno, "socket", "NETLINK_ROUTE");
        int one = 1;
        // Acks without the request echoed, and the kernel's own words on what was wrong.
        L.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, 4);
        L.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, 4);
        return new Netlink(fd);
    }

    /// <summary>A socket in the network namespace open at netns (an fd of /proc/PID/ns/net):
    /// this thread joins the namespace, makes the socket and returns to its own at once. A
    /// socket stays in the namespace it was made in, whichever thread uses it later. (Done on
    /// the calling thread: a new thread for it costs more than the whole rest of a connect.)</summary>
    public static Netlink OpenIn(int netns)
    {
        int ours = Libc.Open("/proc/thread-self/ns/net", L.O_RDONLY);
        try
        {
            if (L.setns(netns, CLONE_NEWNET) < 0)
                throw new NativeException(L.errno, "setns", "the container's network namespace");
            try { return Open(); }
            finally
            {
                // A thread left in another namespace would make every later socket of its there.
                if (L.setns(ours, CLONE_NEWNET) < 0)
                    Environment.FailFast($"setns back to our network namespace failed: {Libc.StrError(L.errno)}");
            }
        }
        finally { L.close(ours); }
    }

    public void Dispose() => L.close(_fd);

    // ---- links -------------------------------------------------------------------------------

    public IEnumerable<Link> Links()
    {
        foreach (var msg in Dump(RTM_GETLINK, Header.IfInfo(0)))
            yield return ParseLink(msg);
    }

    public Link? FindLink(string name)
    {
        var m = new Message(RTM_GETLINK, NLM_F_REQUEST, Header.IfInfo(0)).Attr(IFLA_IFNAME, name);
        try { return ParseLink(Request(m, expectReply: true)!); }
        catch (NetlinkException e) when (e.ErrorNumber == Errno.ENODEV) { return null; }
    }

    public Link GetLink(string name) => FindLink(name)
        ?? throw new NetlinkException(Errno.ENODEV, $"find link {name}", null);

    /// <summary>Makes a bridge (down).</summary>
    public void CreateBridge(string name)
    {
        var m = new Message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, Header.IfInfo(0))
            .Attr(IFLA_IFNAME, name);
        int info = m.Begin(IFLA_LINKINFO);
        m.Attr(IFLA_INFO_KIND, "bridge");
        m.End(info);
        Request(m, $"create bridge {name}");
    }

    /// <summary>Makes a veth pair: name here, on the bridge master, and its peer made directly
    /// inside the network namespace open at peerNetns (so no host interface is ever moved),
    /// with the MAC address peerMac.</summary>
    public void CreateVeth(string name, int master, int mtu, string peerName, int peerNetns, byte[] peerMac)
    {
        var m = new Message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, Header.IfInfo(0))
            .Attr(IFLA_IFNAME, name).Attr(IFLA_MTU, (uint)mtu).Attr(IFLA_MASTER, (uint)master);
        int info = m.Begin(IFLA_LINKINFO);
        m.Attr(IFLA_INFO_KIND, "veth");
        int data = m.Begin(IFLA_INFO_DATA);
        int peer = m.Begin(VETH_INFO_PEER);
        m.Raw(Header.IfInfo(0));
        m.Attr(IFLA_IFNAME, peerName).Attr(IFLA_MTU, (uint)mtu).Attr(IFLA_NET_NS_FD, (uint)peerNetns).Attr(IFLA_ADDRESS, peerMac);
        m.End(peer);
        m.End(data);
        m.End(info);
        Request(m, $"create veth {name}");
    }

    /// <summary>Brings a link up and, given one, sets its alias (which the kernel takes only
    /// on a change, not when it makes the link).</summary>
    public void SetUp(int index, string name, string? alias = null)
    {
        var m = new Message(RTM_NEWLINK, NLM_F_REQUEST, Header.IfInfo(index, IFF_UP, IFF_UP));
        if (alias is not null)
            m.Attr(IFLA_IFALIAS, alias);
        Request(m, $"bring up {name}");
    }

    public void DeleteLink(int index, string name)
    {
        var m = new Message(RTM_DELLINK, NLM_F_REQUEST, Header.IfInfo(index));
        Request(m, $"delete link {name}");
    }

    // ---- addresses and routes -----------------------------------------------------------------

    public void AddAddress(int index, IPAddress address, int prefix, string name)
    {
        var bytes = address.GetAddressBytes();
        var m = new Message(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, Header.IfAddr(address.AddressFamily, prefix, index))
            .Attr(IFA_LOCAL, bytes).Attr(IFA_ADDRESS, bytes);
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
            m.Attr(IFA_FLAGS, IFA_F_NODAD); // usable at once, not after duplicate detection
        Request(m, $"add address {address}/{prefix} to {name}");
    }

    /// <summary>The addresses of a link, or of all links (index 0).</summary>
    public IEnumerable<(int Index, IPAddress Address, int Prefix)> Addresses(int index = 0)
    {
        foreach (var msg in Dump(RTM_GETADDR, Header.IfAddr(AddressFamily.Unspecified, 0, 0)))
        {
            int family = msg[16], prefix = msg[17], ifindex = BinaryPrimitives.ReadInt32LittleEndian(msg.AsSpan(20));
            if (index != 0 && ifindex != index)
                continue;
            byte[]? local = null, address = null;
            foreach (var (type, value) in Attributes(msg, 24))
                if (type == IFA_LOCAL) local = value;
                else if (type == IFA_ADDRESS) address = value;
            if ((local ?? address) is { } a && (family == 2 || family == 10))
                yield return (ifindex, new IPAddress(a), prefix);
        }
    }

    /// <summary>Adds a route to destination via gateway (a default route for /0).</summary>
    public void AddRoute(IPNetwork destination, IPAddress gateway, int index, string what)
    {
        var m = new Message(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL,
            Header.Rt(gateway.AddressFamily, destination.PrefixLength));
        if (destination.PrefixLength > 0)
            m.Attr(RTA_DST, destination.BaseAddress.GetAddressBytes());
        m.Attr(RTA_GATEWAY, gateway.GetAddressBytes()).Attr(RTA_OIF, (uint)index);
        Request(m, what);
    }

    /// <summary>The routes of the main table, both families.</summary>
    public IEnumerable<Route> Routes()
    {
        foreach (var msg in Dump(RTM_GETROUTE, Header.Rt(AddressFamily.Unspecified, 0)))
        {
            int family = msg[16], dstLen = msg[17];
            if (family != 2 && family != 10)
                continue;
            uint table = msg[20];
            byte[]? dst = null, gateway = null;
            int oif = 0;
            foreach (var (type, value) in Attributes(msg, 28))
                if (type == RTA_DST) dst = value;
                else if (type == RTA_GATEWAY) gateway = value;
                else if (type == RTA_OIF) oif = BinaryPrimitives.ReadInt32LittleEndian(value);
                else if (type == RTA_TABLE) table = BinaryPrimitives.ReadUInt32LittleEndian(value);
            if (table != RT_TABLE_MAIN)
                continue;
            var any = family == 2 ? IPAddress.Any : IPAddress.IPv6Any;
            yield return new Route(new IPNetwork(dst is null ? any : new IPAddress(dst), dstLen),
                gateway is null ? null : new IPAddress(gateway), oif);
        }
    }

    // ---- the protocol --------------------------------------------------------------------------

    static class Header
    {
        public static byte[] IfInfo(int index, uint flags = 0, uint change = 0)
        {
            var b = new byte[16];
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), index);
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), flags);
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), change);
            return b;
        }

        public static byte[] IfAddr(AddressFamily family, int prefix, int index)
        {
            var b = new byte[8];
            b[0] = Family(family);
            b[1] = (byte)prefix;
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), index);
            return b;
        }

        public static byte[] Rt(AddressFamily family, int dstLen) =>
            [Family(family), (byte)dstLen, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, 0 /* universe */, RTN_UNICAST, 0, 0, 0, 0];

        static byte Family(AddressFamily f) => f switch
        {
            AddressFamily.InterNetwork => 2,
            AddressFamily.InterNetworkV6 => 10,
            _ => 0,
        };
    }

    /// <summary>One request: the netlink header, the family header, attributes (nestable).</summary>
    sealed class Message
    {
        readonly List<byte> _b = new(128);

        public Message(ushort type, ushort flags, byte[] header)
        {
            _b.AddRange(new byte[16]);
            BinaryPrimitives.WriteUInt16LittleEndian(Span(4, 2), type);
            BinaryPrimitives.WriteUInt16LittleEndian(Span(6, 2), flags);
            Raw(header);
        }

        Span<byte> Span(int at, int length) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_b).Slice(at, length);

        public Message Raw(byte[] bytes)
        {
            _b.AddRange(bytes);
            while (_b.Count % 4 != 0) _b.Add(0);
            return this;
        }

        public Message Attr(ushort type, byte[] value)
        {
            int at = Begin(type);
            _b.AddRange(value);
            End(at);
            while (_b.Count % 4 != 0) _b.Add(0);
            return this;
        }

        public Message Attr(ushort type, string value) => Attr(type, Encoding.UTF8.GetBytes(value + "\0"));

        public Message Attr(ushort type, uint value)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, value);
            return Attr(type, b);
        }

        /// <summary>Starts an attribute whose length End fills in; returns its offset.</summary>
        public int Begin(ushort type)
        {
            int at = _b.Count;
            _b.AddRange(new byte[4]);
            BinaryPrimitives.WriteUInt16LittleEndian(Span(at + 2, 2), type);
            return at;
        }

        public void End(int at) => BinaryPrimitives.WriteUInt16LittleEndian(Span(at, 2), (ushort)(_b.Count - at));

        public byte[] Finish(uint seq)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(Span(0, 4), (uint)_b.Count);
            BinaryPrimitives.WriteUInt32LittleEndian(Span(8, 4), seq);
            return _b.ToArray();
        }
    }

    void Send(Message m, uint seq, ushort extraFlags = 0)
    {
        var bytes = m.Finish(seq);
        var flags = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), (ushort)(flags | extraFlags));
        fixed (byte* p = bytes)
            if ((long)L.send(_fd, p, bytes.Length, 0) < 0)
                throw new NativeException(L.errno, "send", "netlink");
    }

    /// <summary>Receives the next datagram's messages.</summary>
    List<byte[]> Receive()
    {
        var buf = new byte[65536];
        var messages = new List<byte[]>();
        long n;
        fixed (byte* p = buf)
            while ((n = (long)L.recv(_fd, p, buf.Length, 0)) < 0 && L.errno == Errno.EINTR) { }
        if (n < 0)
            throw new NativeException(L.errno, "recv", "netlink");
        for (int at = 0; at + 16 <= n;)
        {
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(at));
            if (len < 16 || at + len > n)
                break;
            messages.Add(buf.AsSpan(at, len).ToArray());
            at += (len + 3) & ~3;
        }
        return messages;
    }

    void Request(Message m, string what) => Request(m, expectReply: false, what);

    /// <summary>Sends a request with an ack asked for; returns the reply that came before the
    /// ack (a GET's answer), and throws the error the kernel answered with.</summary>
    byte[]? Request(Message m, bool expectReply, string? what = null)
    {
        uint seq = ++_seq;
        Send(m, seq, NLM_F_ACK);
        byte[]? reply = null;
        while (true)
            foreach (var msg in Receive())
            {
                if (BinaryPrimitives.ReadUInt32LittleEndian(msg.AsSpan(8)) != seq)
                    continue;
                if (BinaryPrimitives.ReadUInt16LittleEndian(msg.AsSpan(4)) != NLMSG_ERROR)
                {
                    reply = msg;
                    continue;
                }
                int error = BinaryPrimitives.ReadInt32LittleEndian(msg.AsSpan(16));
                if (error != 0)
                    throw new NetlinkException(-error, what ?? "netlink request", ExtAck(msg));
                if (expectReply && reply is null)
                    throw new NetlinkException(Errno.EINVAL, what ?? "netlink request", "no reply before the ack");
                return reply;
            }
    }

    /// <summary>The messages of a dump request.</summary>
    IEnumerable<byte[]> Dump(ushort type, byte[] header)
    {
        uint seq = ++_seq;
        Send(new Message(type, NLM_F_REQUEST | NLM_F_DUMP, header), seq);
        var all = new List<byte[]>();
        while (true)
        {
            foreach (var msg in Receive())
            {
                if (BinaryPrimitives.ReadUInt32LittleEndian(msg.AsSpan(8)) != seq)
                    continue;
                var t = BinaryPrimitives.ReadUInt16LittleEndian(msg.AsSpan(4));
                if (t == NLMSG_DONE)
                    return all;
                if (t == NLMSG_ERROR)
                {
                    int error = BinaryPrimitives.ReadInt32LittleEndian(msg.AsSpan(16));
                    throw new NetlinkException(-error, "netlink dump", ExtAck(msg));
                }
                all.Add(msg);
            }
        }
    }

    /// <summary>The attributes after a family header that ends at offset.</summary>
    static IEnumerable<(ushort Type, byte[] Value)> Attributes(byte[] msg, int offset)
    {
        for (int at = offset; at + 4 <= msg.Length;)
        {
            int len = BinaryPrimitives.ReadUInt16LittleEndian(msg.AsSpan(at));
            if (len < 4 || at + len > msg.Length)
                break;
            yield return ((ushort)(BinaryPrimitives.ReadUInt16LittleEndian(msg.AsSpan(at + 2)) & 0x3fff), msg.AsSpan(at + 4, len - 4).ToArray());
            at += (len + 3) & ~3;
        }
    }

    /// <summary>The kernel's message in an error's extended ack (NLMSGERR_ATTR_MSG), if any.</summary>
    static string? ExtAck(byte[] msg)
    {
        // nlmsgerr: error (4) + the request's header (16, its payload left out by CAP_ACK).
        foreach (var (type, value) in Attributes(msg, 16 + 4 + 16))
            if (type == 1)
                return Encoding.UTF8.GetString(value).TrimEnd('\0');
        return null;
    }

    static Link ParseLink(byte[] msg)
    {
        int index = BinaryPrimitives.ReadInt32LittleEndian(msg.AsSpan(20));
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(msg.AsSpan(24));
        string name = "", kind = "";
        string? alias = null;
        int mtu = 0, master = 0;
        byte[] mac = [];
        foreach (var (type, value) in Attributes(msg, 32))
            switch (type)
            {
                case IFLA_IFNAME: name = Encoding.UTF8.GetString(value).TrimEnd('\0'); break;
                case IFLA_MTU: mtu = BinaryPrimitives.ReadInt32LittleEndian(value); break;
                case IFLA_MASTER: master = BinaryPrimitives.ReadInt32LittleEndian(value); break;
                case IFLA_ADDRESS: mac = value; break;
                case IFLA_IFALIAS: alias = Encoding.UTF8.GetString(value).TrimEnd('\0'); break;
                case IFLA_LINKINFO:
                    foreach (var (t, v) in Attributes(value, 0))
                        if (t == IFLA_INFO_KIND) kind = Encoding.UTF8.GetString(v).TrimEnd('\0');
                    break;
            }
        return new Link(index, name, mtu, kind.Length > 0 ? kind : null, alias, master, (flags & IFF_UP) != 0, mac);
    }
}
