#Requires -Version 7.6
# Bridges, veths, addresses, routes and NAT on the real kernel. build.ps1 runs this file in a
# private network namespace of its own (unshare --net): the "host" here is that namespace, so
# nothing a test does can reach the machine's interfaces, routes or firewall.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornNetworkTest

    function Start-Sleeper([string] $Name, [hashtable] $Extra = @{}) {
        New-UnicornRootfs | Start-UnicornContainer -Name $Name -Command sleep, 600 @Extra
    }
    function Test-Ping([string] $Container, [string] $Address, [string] $Ping = 'ping') {
        $null = Invoke-UnicornCommand $Container -Command $Ping, -c1, -W2, $Address 2>&1
        $LASTEXITCODE -eq 0
    }
    # A line from a TCP server, retried for a few seconds: the test servers are `nc -l` in a
    # loop, which is not listening for a moment after each connection.
    function Read-Tcp([string] $Address, [int] $Port) {
        $deadline = (Get-Date).AddSeconds(5)
        do {
            $client = [Net.Sockets.TcpClient]::new()
            try {
                if ($client.ConnectAsync($Address, $Port).Wait(1000)) {
                    $client.ReceiveTimeout = 2000
                    $line = [IO.StreamReader]::new($client.GetStream()).ReadLine()
                    if ($line) { return $line }
                }
            }
            catch { }
            finally { $client.Dispose() }
            Start-Sleep -Milliseconds 50
        } while ((Get-Date) -lt $deadline)
    }
}

AfterAll {
    Complete-UnicornNetworkTest
}

Describe 'Connect-UnicornBridge' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornBridge | Remove-UnicornBridge -Force
    }

    It 'connects two containers that reach each other and the gateway, by address and through /etc/hosts' {
        $a = Start-Sleeper a | Connect-UnicornBridge
        $b = Start-Sleeper b | Connect-UnicornBridge -Bridge unicorn0

        $a.Bridge | Should -Be 'unicorn0'
        $a.Interface | Should -Be 'eth0'
        $a.Gateway | Should -Be '10.88.0.1'
        $a.IPAddress, $b.IPAddress | Should -BeLike '10.88.0.*'
        $a.IPAddress | Should -Not -Be $b.IPAddress
        (Get-UnicornContainer a).IPAddress | Should -Be $a.IPAddress

        # What the kernel says, inside the container and on the host side.
        $inside = Invoke-UnicornCommand a -Command ip, -o, addr, show, eth0
        $inside -join "`n" | Should -Match ([regex]::Escape("inet $($a.IPAddress)/16"))
        Invoke-UnicornCommand a -Command cat, /sys/class/net/eth0/address | Should -Be $a.MacAddress
        Invoke-UnicornCommand a -Command ip, route | Should -Contain 'default via 10.88.0.1 dev eth0 '
        $veth = ip -j -d link show $a.HostInterface | ConvertFrom-Json
        $veth.master | Should -Be 'unicorn0'
        $veth.ifalias | Should -BeLike "unicorn $($a.ContainerId)"
        $a.HostInterface | Should -Match '^uc[0-9a-f]{8}$'

        Test-Ping a $b.IPAddress | Should -BeTrue
        Test-Ping b $a.IPAddress | Should -BeTrue
        Test-Ping a 10.88.0.1 | Should -BeTrue
        Invoke-UnicornCommand a -Command cat, /etc/hosts | Should -Contain "$($a.IPAddress)`t$((Get-UnicornContainer a).Hostname) a"
    }

    It 'has the network in place before the command''s first instruction with Start -Bridge' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Bridge lab0 -Subnet 10.77.0.0/24 -IPAddress 10.77.0.9 -Command ip, -o, -4, addr, show, eth0 -Wait
        $c.ExitCode | Should -Be 0
        Get-UnicornContainerLog $c | ForEach-Object Text | Should -Match 'inet 10\.77\.0\.9/24'
        (Get-UnicornBridge lab0).Gateway | Should -Be '10.77.0.1'
    }

    It 'isolates a second bridge without masquerade from the first bridge''s subnet' {
        $a = Start-Sleeper a | Connect-UnicornBridge -Bridge br-one -Subnet 10.61.0.0/24
        $b = Start-Sleeper b | Connect-UnicornBridge -Bridge br-two -Subnet 10.62.0.0/24 -Masquerade:$false
        Test-Ping b 10.62.0.1 | Should -BeTrue -Because 'its own gateway is reachable'
        Test-Ping b $a.IPAddress | Should -BeFalse
        Test-Ping a $b.IPAddress | Should -BeFalse
        (Get-UnicornBridge br-two).Masquerade | Should -BeFalse
        nft list chain inet unicorn nat-br-one 2>&1 | Out-String | Should -Match 'masquerade'
        nft list chain inet unicorn nat-br-two 2>&1 | Out-String | Should -Match 'No such file'
    }

    It 'masquerades outbound traffic, and only on bridges made with masquerade' {
        # "The world": a container of its own linked to this namespace by a veth, with no route
        # back to the bridges' subnets. A reply reaches a container only if it was masqueraded.
        $world = Start-Sleeper world @{ CapAdd = 'NET_ADMIN' }
        ip link add wv0 type veth peer name up0 netns $world.Pid
        ip addr add 192.0.2.254/24 dev wv0
        ip link set wv0 up
        Invoke-UnicornCommand world -Command ip, addr, add, 192.0.2.1/24, dev, up0 | Out-Null
        Invoke-UnicornCommand world -Command ip, link, set, up0, up | Out-Null
        try {
            $null = Start-Sleeper out | Connect-UnicornBridge -Bridge nat-on -Subnet 10.73.0.0/24
            $null = Start-Sleeper in | Connect-UnicornBridge -Bridge nat-off -Subnet 10.74.0.0/24 -Masquerade:$false
            Test-Ping out 192.0.2.1 | Should -BeTrue
            Test-Ping in 192.0.2.1 | Should -BeFalse
        }
        finally { ip link del wv0 }
    }

    It 'publishes a port, reachable from the host on its addresses and on 127.0.0.1' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name web -Publish 8080:80 `
            -Command sh, -c, 'while true; do echo hello | nc -l -p 80; done'
        $c.IPAddress | Should -Not -BeNullOrEmpty
        Read-Tcp 10.88.0.1 8080 | Should -Be 'hello'
        Read-Tcp 127.0.0.1 8080 | Should -Be 'hello'
        nft list map inet unicorn publish4 | Out-String | Should -Match "tcp \. 8080 : $([regex]::Escape($c.IPAddress)) \. 80"

        $other = Start-Sleeper other
        { $other | Connect-UnicornBridge -Publish 8080:81 -ErrorAction Stop } | Should -Throw -ErrorId 'PortAlreadyPublished,Unicorn.Commands.ConnectUnicornBridgeCommand'
        (Get-UnicornContainer other).IPAddress | Should -BeNullOrEmpty

        # Through the host's address from a container on the same bridge (the reply must come
        # back through the host: masqueraded), and from one on another, isolated bridge.
        $null = $other | Connect-UnicornBridge
        Invoke-UnicornCommand other -Command nc, -w, 3, 10.88.0.1, 8080 2>&1 | Should -Contain 'hello'
        $far = Start-Sleeper far | Connect-UnicornBridge -Bridge far0 -Subnet 10.75.0.0/24
        Invoke-UnicornCommand far -Command nc, -w, 3, 10.75.0.1, 8080 2>&1 | Should -Contain 'hello'
        Test-Ping far $c.IPAddress | Should -BeFalse -Because 'only the published port crosses bridges'
    }

    It 'gives dual-stack addresses with an IPv6 subnet' {
        $a = Start-Sleeper a | Connect-UnicornBridge -Bridge dual0 -Subnet 10.63.0.0/24, fd00:63::/64
        $b = Start-Sleeper b | Connect-UnicornBridge -Bridge dual0
        $a.IPv6Address | Should -BeLike 'fd00:63::*'
        $a.IPv6Gateway | Should -Be 'fd00:63::1'
        Invoke-UnicornCommand a -Command ip, -6, route | Should -Contain 'default via fd00:63::1 dev eth0  metric 1024 '
        Test-Ping a $b.IPv6Address -Ping ping6 | Should -BeTrue
        Test-Ping a $b.IPAddress | Should -BeTrue
    }

    It 'disconnects live: the interface goes and the address is free again' {
        $a = Start-Sleeper a | Connect-UnicornBridge
        $a | Disconnect-UnicornBridge
        ip link show $a.HostInterface 2>&1 | Out-String | Should -Match 'does not exist'
        Invoke-UnicornCommand a -Command ls, /sys/class/net | Should -Not -Contain 'eth0'
        (Get-UnicornBridge unicorn0).Containers | Should -Not -Contain $a.ContainerId
        (Get-UnicornContainer a).IPAddress | Should -BeNullOrEmpty
        Invoke-UnicornCommand a -Command cat, /etc/hosts | Should -Not -Contain "$($a.IPAddress)`t$((Get-UnicornContainer a).Hostname) a"
        $again = Get-UnicornContainer a | Connect-UnicornBridge -IPAddress $a.IPAddress
        $again.IPAddress | Should -Be $a.IPAddress
    }

    It 'releases the veth, the address and the port rules when the container is removed' {
        $a = New-UnicornRootfs | Start-UnicornContainer -Name a -Command sleep, 600 -Publish 8081:80
        $attachment = Get-Content (Join-Path $env:UNICORN_STATE_ROOT "containers/$($a.Id)/network.json") | ConvertFrom-Json
        $a | Remove-UnicornContainer -Force
        nft list map inet unicorn publish4 | Out-String | Should -Not -Match '8081'
        (Get-Content (Join-Path $env:UNICORN_STATE_ROOT 'networks/unicorn0.json') | ConvertFrom-Json).Allocations.PSObject.Properties.Name |
            Should -Not -Contain $attachment.IPAddress
        # The kernel deletes the veth with the container's namespace, in the background.
        $deadline = (Get-Date).AddSeconds(10)
        while ((Get-UnicornLink) -contains $attachment.HostInterface -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 100 }
        Get-UnicornLink | Should -Not -Contain $attachment.HostInterface
    }

    It 'joins several bridges as eth0, eth1, with the default route through the first' {
        $c = Start-Sleeper multi
        $first = $c | Connect-UnicornBridge -Bridge multi-a -Subnet 10.67.0.0/24
        $second = $c | Connect-UnicornBridge -Bridge multi-b -Subnet 10.68.0.0/24
        $first.Interface, $second.Interface | Should -Be 'eth0', 'eth1'
        $routes = Invoke-UnicornCommand multi -Command ip, route
        $routes | Should -Contain 'default via 10.67.0.1 dev eth0 '
        @($routes | Where-Object { $_ -like 'default*' }).Count | Should -Be 1
        Test-Ping multi 10.68.0.1 | Should -BeTrue
        { $c | Connect-UnicornBridge -Bridge multi-a -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerAlreadyConnected,Unicorn.Commands.ConnectUnicornBridgeCommand'
        Disconnect-UnicornBridge multi -Bridge multi-a
        Invoke-UnicornCommand multi -Command ls, /sys/class/net | Should -Be 'eth1', 'lo'
    }

    It 'reclaims the addresses of a container whose state is gone' {
        $dir = Copy-DefaultRootfs reclaim-rootfs
        $lost = Start-UnicornContainer -RootfsPath $dir -Name lost -Command sleep, 600
        $lostAttachment = $lost | Connect-UnicornBridge -Bridge reclaim0 -Subnet 10.69.0.0/24 -IPAddress 10.69.0.7 -Publish 9090:80
        # As after a crash: the container's process and state vanish without Unicorn's cleanup.
        $lost | Stop-UnicornContainer -Timeout 0
        Remove-Item (Join-Path $env:UNICORN_STATE_ROOT "containers/$($lost.Id)"), (Join-Path $env:UNICORN_STATE_ROOT 'names/lost'),
            (Join-Path $env:UNICORN_DATA_ROOT "containers/$($lost.Id)") -Recurse -Force
        # Its (devices) cgroup went with its state's record: removed here, as Unicorn no longer knows it.
        Get-Item "/sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT/$($lost.Id)" -ErrorAction Ignore | ForEach-Object { [IO.Directory]::Delete($_.FullName) }
        $next = Start-Sleeper next | Connect-UnicornBridge -Bridge reclaim0 -IPAddress 10.69.0.7 -Publish 9090:80
        $next.IPAddress | Should -Be '10.69.0.7'
        nft list map inet unicorn publish4 | Out-String | Should -Match 'tcp \. 9090 : 10\.69\.0\.7 \. 80'
        nft list table bridge unicorn | Out-String | Should -Not -Match $lostAttachment.HostInterface -Because "the lost container's anti-spoofing chain is reclaimed too"
        Remove-Item $dir -Recurse -Force
    }

    It 'leaves nothing behind when a start with a network fails' {
        $before = Get-UnicornRootfs
        { New-UnicornRootfs | Start-UnicornContainer -Name failing -Bridge lo -Command sleep, 600 -ErrorAction Stop } |
            Should -Throw -ErrorId 'BridgeNotOwned,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornContainer failing -ErrorAction Ignore | Should -BeNullOrEmpty
        Get-UnicornRootfs | Should -Be $before
        Get-UnicornLink | Should -BeNullOrEmpty
    }

    It 'gives 100 containers connected in parallel 100 distinct addresses' {
        $module = $script:ModulePath
        $attachments = 1..100 | ForEach-Object -ThrottleLimit 8 -Parallel {
            Import-Module $using:module
            New-UnicornRootfs | Start-UnicornContainer -Command sleep, 600 | Connect-UnicornBridge -Bridge many0 -Subnet 10.64.0.0/24
        }
        $attachments.Count | Should -Be 100
        ($attachments.IPAddress | Sort-Object -Unique).Count | Should -Be 100
        ($attachments.HostInterface | Sort-Object -Unique).Count | Should -Be 100
        (Get-UnicornBridge many0).Containers.Count | Should -Be 100
    }

    It 'leaves no veth and no address behind when a connect fails midway' {
        # IPv6 off inside (a sysctl: privileged): the veth and the IPv4 address are made, then the IPv6 address fails.
        $c = Start-Sleeper v4only @{ Privileged = $true }
        Invoke-UnicornCommand $c -Command sysctl, -w, net.ipv6.conf.default.disable_ipv6=1 | Out-Null
        $before = @(Get-UnicornLink)
        { $c | Connect-UnicornBridge -Bridge dual1 -Subnet 10.65.0.0/24, fd00:65::/64 -ErrorAction Stop } |
            Should -Throw -ErrorId 'NetlinkRequestFailed,Unicorn.Commands.ConnectUnicornBridgeCommand'
        @(Get-UnicornLink) | Should -Be $before -Because 'the veth and the bridge made for this connect are deleted'
        Get-UnicornBridge dual1 -ErrorAction Ignore | Should -BeNullOrEmpty
        Invoke-UnicornCommand $c -Command ls, /sys/class/net | Should -Not -Contain 'eth0'
        Test-Path (Join-Path $env:UNICORN_STATE_ROOT "containers/$($c.Id)/network.json") | Should -BeFalse

        # The same failure on an existing bridge releases the address it took.
        $null = Start-Sleeper other | Connect-UnicornBridge -Bridge dual2 -Subnet 10.66.0.0/24, fd00:66::/64
        { $c | Connect-UnicornBridge -Bridge dual2 -ErrorAction Stop } | Should -Throw
        (Get-Content (Join-Path $env:UNICORN_STATE_ROOT 'networks/dual2.json') | ConvertFrom-Json).Allocations.PSObject.Properties.Name |
            Should -HaveCount 2 -Because "only the other container's IPv4 and IPv6 addresses are taken"
    }
}

Describe 'Bad input' {
    BeforeAll {
        $script:c = Start-Sleeper bad
        $null = Start-Sleeper holder | Connect-UnicornBridge -Bridge taken0 -Subnet 10.70.0.0/24 -IPAddress 10.70.0.5
        ip link add foreign0 type bridge
        ip route add 10.99.0.0/24 dev lo
    }
    AfterAll {
        ip link del foreign0
        ip route del 10.99.0.0/24 dev lo
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornBridge | Remove-UnicornBridge -Force
    }

    It 'refuses <Case> with <ErrorId>, and makes nothing' -ForEach @(
        @{ Case = 'an invalid CIDR'; ErrorId = 'InvalidSubnet'; Params = @{ Bridge = 'new1'; Subnet = '10.71.0.1/24' } }
        @{ Case = 'a subnet too small'; ErrorId = 'InvalidSubnet'; Params = @{ Bridge = 'new1'; Subnet = '10.71.0.0/31' } }
        @{ Case = 'an address outside the subnet'; ErrorId = 'AddressOutsideSubnet'; Params = @{ Bridge = 'taken0'; IPAddress = '10.71.0.5' } }
        @{ Case = 'an address in use'; ErrorId = 'AddressInUse'; Params = @{ Bridge = 'taken0'; IPAddress = '10.70.0.5' } }
        @{ Case = 'the gateway address'; ErrorId = 'AddressReserved'; Params = @{ Bridge = 'taken0'; IPAddress = '10.70.0.1' } }
        @{ Case = 'a subnet overlapping another bridge'; ErrorId = 'SubnetOverlap'; Params = @{ Bridge = 'new1'; Subnet = '10.70.0.0/16' } }
        @{ Case = 'a subnet overlapping a host route'; ErrorId = 'SubnetOverlap'; Params = @{ Bridge = 'new1'; Subnet = '10.99.0.0/25' } }
        @{ Case = 'another subnet for an existing bridge'; ErrorId = 'BridgeSubnetMismatch'; Params = @{ Bridge = 'taken0'; Subnet = '10.72.0.0/24' } }
        @{ Case = 'a bridge name Unicorn did not make'; ErrorId = 'BridgeNotOwned'; Params = @{ Bridge = 'foreign0' } }
        @{ Case = 'a host interface''s name'; ErrorId = 'BridgeNotOwned'; Params = @{ Bridge = 'lo' } }
        @{ Case = 'a bridge name too long'; ErrorId = 'InvalidBridgeName'; Params = @{ Bridge = 'a-name-far-too-long' } }
        @{ Case = 'a malformed port'; ErrorId = 'InvalidPublish'; Params = @{ Publish = '80:99999' } }
    ) {
        $links = ip -j link show | ConvertFrom-Json | ForEach-Object ifname
        $bridges = Get-UnicornBridge | ForEach-Object Name
        { $c | Connect-UnicornBridge @Params -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId,Unicorn.Commands.ConnectUnicornBridgeCommand"
        ip -j link show | ConvertFrom-Json | ForEach-Object ifname | Should -Be $links
        Get-UnicornBridge | ForEach-Object Name | Should -Be $bridges
        (Get-UnicornContainer bad).IPAddress | Should -BeNullOrEmpty
    }

    It 'refuses a bad -Publish, -Bridge or -Subnet at start before anything is made, the piped rootfs kept' -ForEach @(
        @{ ErrorId = 'InvalidPublish'; Params = @{ Publish = 'nonsense' } }
        @{ ErrorId = 'InvalidBridgeName'; Params = @{ Bridge = 'no/slash' } }
        @{ ErrorId = 'InvalidSubnet'; Params = @{ Bridge = 'new2'; Subnet = '10.76.0.0' } }
        @{ ErrorId = 'AddressOutsideSubnet'; Params = @{ Bridge = 'new2'; Subnet = '10.76.0.0/24'; IPAddress = '10.77.0.3' } }
    ) {
        $r = New-UnicornRootfs
        { $r | Start-UnicornContainer @Params -Command true -ErrorAction Stop } |
            Should -Throw -ErrorId "$ErrorId,Unicorn.Commands.StartUnicornContainerCommand"
        Get-UnicornRootfs $r.Id | Should -Not -BeNullOrEmpty
        $r | Remove-UnicornRootfs
    }

    It 'refuses to connect a container that is not running' {
        $done = New-UnicornRootfs | Start-UnicornContainer -Command true -Wait
        { $done | Connect-UnicornBridge -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerNotRunning,Unicorn.Commands.ConnectUnicornBridgeCommand'
    }
}

Describe 'Get-UnicornBridge and Remove-UnicornBridge' {
    It 'lists bridges, refuses to remove one in use without -Force, and takes the table with the last' {
        $a = Start-Sleeper a | Connect-UnicornBridge -Bridge list0 -Subnet 10.80.0.0/24
        $bridge = Get-UnicornBridge list*
        $bridge.Name | Should -Be 'list0'
        $bridge.Subnet | Should -Be '10.80.0.0/24'
        $bridge.Containers | Should -Be $a.ContainerId
        $bridge.Present | Should -BeTrue
        { Get-UnicornBridge nothing-here -ErrorAction Stop } | Should -Throw -ErrorId 'BridgeNotFound,Unicorn.Commands.GetUnicornBridgeCommand'

        { Remove-UnicornBridge list0 -ErrorAction Stop } | Should -Throw -ErrorId 'BridgeInUse,Unicorn.Commands.RemoveUnicornBridgeCommand'
        Get-UnicornBridge list0 | Remove-UnicornBridge -Force
        Get-UnicornLink | Should -BeNullOrEmpty
        nft list tables | Select-String '(inet|bridge) unicorn' | Should -BeNullOrEmpty
        Invoke-UnicornCommand a -Command ls, /sys/class/net | Should -Not -Contain 'eth0'
        Get-UnicornContainer a | Remove-UnicornContainer -Force
    }
}

Describe 'A container on a bridge, as an attacker' {
    BeforeAll {
        # rawprobe: frames made by hand inside a container, through a packet socket (NET_RAW,
        # which containers have by default), built static and bound in at /probe.
        $script:ProbeDir = Join-Path $script:TestRoot 'rawprobe'
        New-Item -ItemType Directory $ProbeDir | Out-Null
        Set-Content (Join-Path $ProbeDir 'rawprobe.c') @'
/* Hand-made frames, as an attacker inside a container would send them (NET_RAW: a packet
 * socket). rawprobe MODE IFNAME SRCMAC|- DSTMAC ARGS...
 *   udp4 SRCIP DSTIP DPORT TEXT   an IPv4 UDP datagram
 *   arp SENDERIP TARGETIP         an ARP reply: SENDERIP is at SRCMAC
 *   ra PREFIX                     an IPv6 router advertisement from fe80::1: a default route
 *                                 and PREFIX/64 for address autoconfiguration
 * Prints "sent" or the failing call and its errno name. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned char f[1514];

static int fail(const char *what)
{
    printf("%s %s\n", what, strerrorname_np(errno));
    return 1;
}

static int mac(const char *s, unsigned char *m)
{
    return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6;
}

static uint32_t sum(const unsigned char *b, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1)
        s += (uint32_t)(b[n - 1] << 8);
    return s;
}

static void put16(unsigned char *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(unsigned char *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }
static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

int main(int argc, char **argv)
{
    if (argc < 6)
        return 2;
    const char *mode = argv[1];
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0)
        return fail("socket");
    struct ifreq ifr = { 0 };
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", argv[2]);
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
        return fail("SIOCGIFINDEX");
    int index = ifr.ifr_ifindex;
    unsigned char src[6], dst[6];
    if (!strcmp(argv[3], "-")) {
        if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
            return fail("SIOCGIFHWADDR");
        memcpy(src, ifr.ifr_hwaddr.sa_data, 6);
    } else if (!mac(argv[3], src))
        return 2;
    if (!mac(argv[4], dst))
        return 2;
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    unsigned char *p = f + 14;
    size_t len;

    if (!strcmp(mode, "udp4") && argc == 9) {
        size_t text = strlen(argv[8]);
        put16(f + 12, 0x0800);
        p[0] = 0x45;
        put16(p + 2, (uint16_t)(20 + 8 + text));
        put16(p + 6, 0x4000);
        p[8] = 64;
        p[9] = 17;
        if (inet_pton(AF_INET, argv[5], p + 12) != 1 || inet_pton(AF_INET, argv[6], p + 16) != 1)
            return 2;
        put16(p + 10, fold(sum(p, 20, 0)));
        unsigned char *u = p + 20;
        put16(u, 40000);
        put16(u + 2, (uint16_t)atoi(argv[7]));
        put16(u + 4, (uint16_t)(8 + text));
        memcpy(u + 8, argv[8], text); /* UDP checksum 0: none, allowed in IPv4 */
        len = 14 + 20 + 8 + text;
    } else if (!strcmp(mode, "arp") && argc == 7) {
        put16(f + 12, 0x0806);
        put16(p, 1);
        put16(p + 2, 0x0800);
        p[4] = 6;
        p[5] = 4;
        put16(p + 6, 2);
        memcpy(p + 8, src, 6);
        memcpy(p + 18, dst, 6);
        if (inet_pton(AF_INET, argv[5], p + 14) != 1 || inet_pton(AF_INET, argv[6], p + 24) != 1)
            return 2;
        len = 14 + 28;
    } else if (!strcmp(mode, "ra") && argc == 6) {
        put16(f + 12, 0x86dd);
        unsigned char *ra = p + 40;
        size_t n = 16 + 8 + 32; /* the RA, a source link-layer option, a prefix option */
        p[0] = 0x60;
        put16(p + 4, (uint16_t)n);
        p[6] = 58;
        p[7] = 255;
        inet_pton(AF_INET6, "fe80::1", p + 8);
        inet_pton(AF_INET6, "ff02::1", p + 24);
        ra[0] = 134;
        ra[4] = 64;
        put16(ra + 6, 1800); /* router lifetime: a default route */
        unsigned char *o = ra + 16;
        o[0] = 1;
        o[1] = 1;
        memcpy(o + 2, src, 6);
        o += 8;
        o[0] = 3;
        o[1] = 4;
        o[2] = 64;
        o[3] = 0xc0; /* on-link, autonomous */
        put32(o + 4, 86400);
        put32(o + 8, 14400);
        if (inet_pton(AF_INET6, argv[5], o + 16) != 1)
            return 2;
        uint32_t s = sum(p + 8, 32, 0) + (uint32_t)n + 58;
        put16(ra + 2, fold(sum(ra, n, s)));
        len = 14 + 40 + n;
    } else
        return 2;

    struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = index, .sll_halen = 6 };
    memcpy(to.sll_addr, dst, 6);
    if (sendto(fd, f, len, 0, (struct sockaddr *)&to, sizeof to) < 0)
        return fail("sendto");
    printf("sent\n");
    return 0;
}
'@
        cc -O2 -static -Wall -Wextra -Werror -o (Join-Path $ProbeDir 'rawprobe') (Join-Path $ProbeDir 'rawprobe.c')
        if ($LASTEXITCODE -ne 0) { throw 'Building rawprobe failed.' }

        function Start-Attacker([string] $Name, [hashtable] $Extra = @{}) {
            New-UnicornRootfs | Start-UnicornContainer -Name $Name -Command sleep, 600 -Volume "$($script:ProbeDir):/probe" @Extra
        }
        function Send-Frame([string] $Container, [string[]] $Arguments) {
            Invoke-UnicornCommand $Container -Command (@('/probe/rawprobe') + $Arguments) 2>&1
        }
        function Test-PingFrom([string] $Container, [string] $Source, [string] $Address, [string] $Ping = 'ping') {
            $null = Invoke-UnicornCommand $Container -Command $Ping, -c1, -W2, -I, $Source, $Address 2>&1
            $LASTEXITCODE -eq 0
        }
        # A datagram, or nothing within two seconds.
        function Receive-Udp([Net.Sockets.UdpClient] $Socket) {
            if ($Socket.Client.Poll(2000000, [Net.Sockets.SelectMode]::SelectRead)) {
                $from = $null
                [Text.Encoding]::ASCII.GetString($Socket.Receive([ref] $from))
            }
        }
    }
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornBridge | Remove-UnicornBridge -Force
        # The kernel deletes a removed container's veth with its namespace, in the background.
        $deadline = (Get-Date).AddSeconds(10)
        while ((Get-UnicornLink) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 100 }
    }

    It 'cannot reach what listens on the host''s 127.0.0.1 through the bridge (CVE-2020-8558)' {
        # route_localnet=1 on the bridge (published ports on 127.0.0.1) makes the host route a
        # packet for 127.0.0.1 that arrives on the bridge: a frame to the gateway's MAC does it.
        $c = Start-Attacker attacker @{ Bridge = 'unicorn0' }
        Get-Content /proc/sys/net/ipv4/conf/unicorn0/route_localnet | Should -Be 1
        $gatewayMac = (ip -j link show unicorn0 | ConvertFrom-Json).address
        $local = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new([Net.IPAddress]::Loopback, 9999))
        $gateway = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new([Net.IPAddress]::Parse('10.88.0.1'), 9999))
        try {
            Send-Frame attacker udp4, eth0, -, $gatewayMac, $c.IPAddress, 10.88.0.1, 9999, control | Should -Be 'sent'
            Receive-Udp $gateway | Should -Be 'control' -Because 'the same frame, to the gateway''s address, arrives: the probe works'
            Send-Frame attacker udp4, eth0, -, $gatewayMac, $c.IPAddress, 127.0.0.1, 9999, secret | Should -Be 'sent'
            Receive-Udp $local | Should -BeNullOrEmpty -Because 'a container must not reach the host''s loopback services'
        }
        finally { $local.Dispose(); $gateway.Dispose() }
        # A published port is still reached on 127.0.0.1 (its replies come back to 127/8: DNAT'd).
        $null = New-UnicornRootfs | Start-UnicornContainer -Name web -Publish 8082:80 -Command sh, -c, 'while true; do echo hello | nc -l -p 80; done'
        Read-Tcp 127.0.0.1 8082 | Should -Be 'hello'
    }

    It 'cannot configure the host, or a neighbour, with a router advertisement' {
        $null = Start-Sleeper neighbour | Connect-UnicornBridge
        $null = Start-Attacker router @{ Bridge = 'unicorn0' }
        Get-Content /proc/sys/net/ipv6/conf/unicorn0/accept_ra | Should -Be 0
        Send-Frame router ra, eth0, -, 33:33:00:00:00:01, 2001:db8:77:: | Should -Be 'sent'
        Start-Sleep -Milliseconds 500
        # Accepted, it would give the bridge an address in the prefix and the host a default route.
        ip -6 addr show dev unicorn0 | Out-String | Should -Not -Match '2001:db8:77:'
        ip -6 route show | Out-String | Should -Not -Match 'default|2001:db8:77:'
        Invoke-UnicornCommand neighbour -Command ip, -6, addr | Out-String | Should -Not -Match '2001:db8:77:'
        Invoke-UnicornCommand neighbour -Command ip, -6, route | Out-String | Should -Not -Match 'default|2001:db8:77:'
    }

    It 'cannot send from an address or a MAC not its own, nor take a neighbour''s address, while the others still work' {
        $honest = Start-Sleeper honest | Connect-UnicornBridge -Bridge spoof0 -Subnet 10.78.0.0/24, fd00:78::/64
        $victim = Start-Sleeper victim | Connect-UnicornBridge -Bridge spoof0
        $attacker = Start-Attacker attacker @{ CapAdd = 'NET_ADMIN' } | Connect-UnicornBridge -Bridge spoof0
        Test-Ping attacker $victim.IPAddress | Should -BeTrue -Because 'with its own addresses it is a container like the others'
        Test-Ping attacker $victim.IPv6Address -Ping ping6 | Should -BeTrue

        # Another source address (IPv4 and its ARP, IPv6 and its neighbour discovery).
        Invoke-UnicornCommand attacker -Command ip, addr, add, 10.78.0.200/24, dev, eth0 | Out-Null
        Invoke-UnicornCommand attacker -Command ip, -6, addr, add, fd00:78::200/64, dev, eth0 | Out-Null
        # Usable once its duplicate detection is done (a second or so), which the rules let through.
        $deadline = (Get-Date).AddSeconds(5)
        do { Start-Sleep -Milliseconds 200; $v6 = Invoke-UnicornCommand attacker -Command ip, -6, addr, show, dev, eth0 | Out-String }
        while ($v6 -match 'fd00:78::200/64 scope global tentative' -and (Get-Date) -lt $deadline)
        $v6 | Should -Match 'fd00:78::200/64 scope global' -Because 'the address is there'
        $v6 | Should -Not -Match 'fd00:78::200/64 scope global (tentative|dadfailed)' -Because 'the address is usable: the ping below fails for its source alone'
        Test-PingFrom attacker 10.78.0.200 $victim.IPAddress | Should -BeFalse
        Test-PingFrom attacker fd00:78::200 $victim.IPv6Address -Ping ping6 | Should -BeFalse
        Test-PingFrom attacker $attacker.IPAddress $victim.IPAddress | Should -BeTrue -Because 'its own address still works'

        # The honest container's address, claimed by an ARP reply to the victim (ARP spoofing):
        # past the lock time (1 s) of the victim's entry, it would take the honest one's traffic.
        Test-Ping honest $victim.IPAddress | Should -BeTrue
        Start-Sleep -Milliseconds 1200
        Send-Frame attacker arp, eth0, -, $victim.MacAddress, $honest.IPAddress, $victim.IPAddress | Should -Be 'sent'
        Invoke-UnicornCommand victim -Command ip, neigh, show, $honest.IPAddress | Out-String | Should -Match ([regex]::Escape($honest.MacAddress))
        Test-Ping honest $victim.IPAddress | Should -BeTrue

        # Another MAC: nothing it sends gets through, even from its own address.
        Invoke-UnicornCommand attacker -Command ip, link, set, eth0, address, 02:00:00:78:00:99 | Out-Null
        Invoke-UnicornCommand attacker -Command cat, /sys/class/net/eth0/address | Should -Be '02:00:00:78:00:99'
        Test-Ping attacker $victim.IPAddress | Should -BeFalse
        Test-Ping attacker 10.78.0.1 | Should -BeFalse

        Test-Ping honest $victim.IPAddress | Should -BeTrue
        Test-Ping honest $victim.IPv6Address -Ping ping6 | Should -BeTrue
        Test-Ping victim $honest.IPAddress | Should -BeTrue
    }

    It 'has a port''s rules exactly while it is connected' {
        $a = Start-Sleeper a | Connect-UnicornBridge
        $b = Start-Sleeper b | Connect-UnicornBridge
        $ports = nft list map bridge unicorn ports | Out-String
        $ports | Should -Match $a.HostInterface
        $ports | Should -Match $b.HostInterface
        $chain = nft list chain bridge unicorn "port-$($a.HostInterface)" | Out-String
        $chain | Should -Match ([regex]::Escape("ether saddr != $($a.MacAddress) drop"))
        $chain | Should -Match ([regex]::Escape("ip saddr != $($a.IPAddress) drop"))

        $a | Disconnect-UnicornBridge
        $left = nft list table bridge unicorn | Out-String
        $left | Should -Not -Match $a.HostInterface
        $left | Should -Match "port-$($b.HostInterface)"
        Get-UnicornContainer b | Remove-UnicornContainer -Force
        nft list table bridge unicorn | Out-String | Should -Not -Match 'port-uc'
        (Get-Content (Join-Path $env:UNICORN_STATE_ROOT 'networks/unicorn0.json') | ConvertFrom-Json).Interfaces.PSObject.Properties | Should -BeNullOrEmpty
    }
}
