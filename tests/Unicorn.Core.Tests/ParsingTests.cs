using System.Text;
using Unicorn.Runtime;

namespace Unicorn.Tests;

public class SpecFileTests
{
    [Fact]
    public void WritesKeysAndValuesAsNulTerminatedStrings()
    {
        var config = new ContainerConfig("id", "web", "box", ["/bin/sh", "-c", "echo a b"], ["PATH=/bin", "X=y=z"], "/srv",
            [], "/r oot", null, null, DateTime.UtcNow);
        var bytes = SpecFile.For(config, [new VolumeMount("/host", "/data", ReadOnly: true)], "/logs/c.log", attach: true, init: true, tty: false).ToArray();
        var strings = Encoding.UTF8.GetString(bytes).Split('\0');
        Assert.Equal(
            ["cwd", "/srv", "arg", "/bin/sh", "arg", "-c", "arg", "echo a b", "env", "PATH=/bin", "env", "X=y=z",
             "rootfs", "/r oot", "hostname", "box", "log", "/logs/c.log", "attach", "1", "init", "1",
             .. SpecFile.DefaultMounts.SelectMany(m => new[] { "mount", m.Type!, m.Source!, m.Destination,
                 string.Join(',', m.Options!.Where(SpecFile.MountFlags.Contains)), string.Join(',', m.Options!.Where(o => !SpecFile.MountFlags.Contains(o))) }),
             "mount", "bind", "/host", "/data", "rbind,ro", "", ""],
            strings);
    }
}

public class StartOptionsTests
{
    [Theory]
    [InlineData("/tmp:/data", "/tmp", "/data", false)]
    [InlineData("/tmp:/data:ro", "/tmp", "/data", true)]
    [InlineData("/tmp:/data:rw", "/tmp", "/data", false)]
    [InlineData("/tmp/../tmp:/a/b", "/tmp", "/a/b", false)]
    public void ParsesVolumes(string spec, string source, string destination, bool readOnly) =>
        Assert.Equal(new VolumeMount(source, destination, readOnly), StartOptions.ParseVolume(spec));

    [Theory]
    [InlineData("/tmp", "InvalidVolume")]
    [InlineData("/tmp:/data:rx", "InvalidVolume")]
    [InlineData("tmp:/data", "InvalidVolume")]
    [InlineData("/tmp:data", "InvalidVolume")]
    [InlineData("/tmp:/", "InvalidVolume")]
    [InlineData("/tmp:/a/../..", "InvalidVolume")]
    [InlineData("/does/not/exist:/data", "VolumeSourceNotFound")]
    public void RejectsBadVolumes(string spec, string errorId) =>
        Assert.Equal(errorId, Assert.Throws<UnicornException>(() => StartOptions.ParseVolume(spec)).ErrorId);

    [Theory]
    [InlineData("Name", "-bad", "InvalidContainerName")]
    [InlineData("Name", "has space", "InvalidContainerName")]
    [InlineData("Hostname", "under_score", "InvalidHostname")]
    [InlineData("Hostname", "-lead", "InvalidHostname")]
    [InlineData("WorkingDirectory", "relative", "InvalidWorkingDirectory")]
    [InlineData("WorkingDirectory", "/a/../../b", "InvalidWorkingDirectory")]
    public void RejectsBadOptions(string property, string value, string errorId)
    {
        var o = new StartOptions();
        typeof(StartOptions).GetProperty(property)!.SetValue(o, value);
        Assert.Equal(errorId, Assert.Throws<UnicornException>(o.Validate).ErrorId);
    }

    [Fact]
    public void RejectsEmptyCommandAndBadEnvironment()
    {
        Assert.Equal("CommandEmpty", Assert.Throws<UnicornException>(new StartOptions { Command = [] }.Validate).ErrorId);
        Assert.Equal("InvalidEnvironmentName", Assert.Throws<UnicornException>(
            new StartOptions { Environment = new Dictionary<string, string> { ["A=B"] = "c" } }.Validate).ErrorId);
        Assert.Equal("InvalidCharacter", Assert.Throws<UnicornException>(
            new StartOptions { Command = ["/bin/echo", "a\0b"] }.Validate).ErrorId);
    }

    [Fact]
    public void AcceptsTheDefaults() => new StartOptions().Validate();
}

public class IdTests
{
    static readonly string[] All = ["abc123", "abd456", "ffff00"];

    [Fact]
    public void NewIdsAreLongRandomHex()
    {
        var a = Ids.New();
        Assert.Matches("^[0-9a-f]{64}$", a);
        Assert.NotEqual(a, Ids.New());
        Assert.Equal(a[..12], Ids.Short(a));
    }

    [Theory]
    [InlineData("abc", "abc123")]
    [InlineData("f", "ffff00")]
    [InlineData("abd456", "abd456")]
    [InlineData("zzz", null)]
    public void ResolvesUniquePrefixes(string text, string? expected) => Assert.Equal(expected, IdResolver.Resolve(All, text, "Container"));

    [Fact]
    public void NamesTheCandidatesOfAnAmbiguousPrefix()
    {
        var e = Assert.Throws<UnicornException>(() => IdResolver.Resolve(All, "ab", "Container"));
        Assert.Equal("AmbiguousContainerId", e.ErrorId);
        Assert.Contains("abc123", e.Message);
        Assert.Contains("abd456", e.Message);
    }
}

public class ElfTests
{
    [Fact]
    public void ReadsTheInterpreterAndNeededLibrariesOfADynamicProgram()
    {
        var elf = ElfInfo.Read("/bin/ls");
        Assert.NotNull(elf);
        Assert.NotNull(elf.Interpreter);
        Assert.StartsWith("/lib", elf.Interpreter);
        Assert.Contains("libc.so.6", elf.Needed);
    }

    [Fact]
    public void ReturnsNullForWhatIsNotElf()
    {
        Assert.Null(ElfInfo.Read("/etc/passwd"));
        Assert.Null(ElfInfo.Read("/no/such/file"));
    }
}

public class SignalTests
{
    [Theory]
    [InlineData("TERM", 15)]
    [InlineData("SIGTERM", 15)]
    [InlineData("sigkill", 9)]
    [InlineData("9", 9)]
    [InlineData("USR1", 10)]
    [InlineData("40", 40)]
    public void ParsesNamesAndNumbers(string text, int signal) => Assert.Equal(signal, Signals.Parse(text));

    [Theory]
    [InlineData("NOPE")]
    [InlineData("0")]
    [InlineData("65")]
    [InlineData("32")]
    [InlineData("")]
    public void RejectsWhatIsNotASignal(string text) =>
        Assert.Equal("InvalidSignal", Assert.Throws<UnicornException>(() => Signals.Parse(text)).ErrorId);
}

public class LogTests
{
    [Fact]
    public void ReadsRecordsJoiningPartsAndLeavingAnUnfinishedLine()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path,
                "2026-11-29T10:00:00.000000001Z stdout F one\n" +
                "2026-11-29T10:00:00.000000002Z stderr P par\n" +
                "2026-11-29T10:00:00.000000003Z stdout F two words\n" +
                "2026-11-29T10:00:00.000000004Z stderr F t\n" +
                "2026-11-29T10:00:01.000000000Z stdout F \n" +
                "2026-11-29T10:00:02.000000000Z stdout F unfinish");
            var log = new ContainerLog("c1", path);
            var all = log.Read().ToList();
            Assert.Equal(["one", "two words", "part", ""], all.Select(e => e.Text));
            Assert.Equal(["stdout", "stdout", "stderr", "stdout"], all.Select(e => e.Stream));
            Assert.Equal(new DateTime(2026, 11, 29, 10, 0, 0, DateTimeKind.Utc), all[0].Time, TimeSpan.FromMilliseconds(1));
            Assert.Equal(DateTimeKind.Utc, all[0].Time.Kind);
            Assert.Equal(["two words", "part", ""], log.Read(tail: 3).Select(e => e.Text));
            Assert.Equal(["part"], log.Read(stream: "stderr").Select(e => e.Text));
            Assert.Equal([""], log.Read(since: new DateTime(2026, 11, 29, 10, 0, 1, DateTimeKind.Utc)).Select(e => e.Text));
            Assert.Equal("one", all[0].ToString());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AMissingLogIsEmpty() => Assert.Empty(new ContainerLog("c1", "/no/such/log").Read());
}

public class ResolvConfTests
{
    [Fact]
    public void KeepsTheHostsResolversButNotThoseOnItsLoopback()
    {
        var text = ContainerEngine.ResolvConf(["search lan", "nameserver 127.0.0.1", "nameserver 192.0.2.53", "options edns0"], () => throw new InvalidOperationException("not needed"));
        Assert.Equal("search lan\nnameserver 192.0.2.53\noptions edns0\n", text);
    }

    [Fact]
    public void UsesTheStubResolversUpstreamServersInsteadOfTheStub()
    {
        var text = ContainerEngine.ResolvConf(["nameserver 127.0.0.53", "options edns0 trust-ad", "search example.org"],
            () => ["# systemd-resolved's upstream list", "nameserver 198.51.100.1", "nameserver 2001:db8::53", "nameserver ::1"]);
        Assert.Equal("options edns0 trust-ad\nsearch example.org\nnameserver 198.51.100.1\nnameserver 2001:db8::53\n", text);
    }

    [Fact]
    public void FallsBackToPublicResolversWhenTheHostHasNoneReachable()
    {
        var text = ContainerEngine.ResolvConf(["nameserver 127.0.0.53"], () => []);
        Assert.Equal("nameserver 8.8.8.8\nnameserver 8.8.4.4\n", text);
    }
}

public class NetworkParsingTests
{
    [Theory]
    [InlineData("8080:80", 8080, 80, "tcp")]
    [InlineData("5353:53/udp", 5353, 53, "udp")]
    [InlineData(" 443:8443/TCP ", 443, 8443, "tcp")]
    public void ParsesPublishedPorts(string text, int host, int container, string proto) =>
        Assert.Equal(new Unicorn.Network.PortMapping(host, container, proto), Unicorn.Network.PortMapping.Parse(text));

    [Theory]
    [InlineData("80")]
    [InlineData("0:80")]
    [InlineData("80:65536")]
    [InlineData("80:80/sctp")]
    [InlineData("a:b")]
    public void RefusesMalformedPorts(string text) =>
        Assert.Equal("InvalidPublish", Assert.Throws<UnicornException>(() => Unicorn.Network.PortMapping.Parse(text)).ErrorId);

    [Theory]
    [InlineData("10.77.0.0/24")]
    [InlineData("fd00:77::/64")]
    public void ParsesSubnets(string text) => Assert.Equal(text, Unicorn.Network.BridgeNetwork.ParseSubnet(text).ToString());

    [Theory]
    [InlineData("10.77.0.1/24")]   // host bits set
    [InlineData("10.77.0.0")]      // no prefix
    [InlineData("10.77.0.0/31")]   // no room for a gateway and a container
    [InlineData("10.0.0.0/7")]     // too large
    [InlineData("bridge")]
    public void RefusesBadSubnets(string text) =>
        Assert.Equal("InvalidSubnet", Assert.Throws<UnicornException>(() => Unicorn.Network.BridgeNetwork.ParseSubnet(text)).ErrorId);

    [Fact]
    public void PublishesAndUnpublishesOneMapElementPerPortAndFamily()
    {
        var ports = new[] { new Unicorn.Network.PortMapping(8080, 80, "tcp") };
        Assert.Equal("add element inet unicorn publish4 { tcp . 8080 : 10.88.0.2 . 80 }\nadd element inet unicorn publish6 { tcp . 8080 : fd00::2 . 80 }\n",
            Unicorn.Network.Nftables.Publish(ports, "10.88.0.2", "fd00::2", add: true).Replace("\r", ""));
        Assert.Equal("delete element inet unicorn publish4 { tcp . 8080 }\n",
            Unicorn.Network.Nftables.Publish(ports, "10.88.0.2", null, add: false).Replace("\r", ""));
    }
}

public class HostsFileTests : IDisposable
{
    readonly string _file = Path.Combine(Path.GetTempPath(), $"unicorn-hosts-{Guid.NewGuid():n}");
    static readonly System.Net.IPNetwork[] Lab = [System.Net.IPNetwork.Parse("10.77.0.0/24"), System.Net.IPNetwork.Parse("fd00:77::/64")];

    public void Dispose() => File.Delete(_file);

    [Fact]
    public void ReplacesTheBridgesLinesInPlaceAndKeepsEveryOther()
    {
        File.WriteAllText(_file, Unicorn.Network.HostsFile.Initial("box") + "10.77.0.9\tstale\n  fd00:77::9 stale6\n10.78.0.2\tother-bridge\n192.0.2.9 mine\n\n");
        using var held = File.OpenHandle(_file); // the same inode must be rewritten: a bind keeps it
        Unicorn.Network.HostsFile.Update(_file, Lab, [Unicorn.Network.HostsFile.Line("10.77.0.2", ["box", "db", "postgres"])]);
        Assert.Equal("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox\n10.78.0.2\tother-bridge\n192.0.2.9 mine\n10.77.0.2\tbox db postgres\n",
            File.ReadAllText(_file));
        Assert.Equal(File.ReadAllText(_file).Length, RandomAccess.GetLength(held));

        Unicorn.Network.HostsFile.Update(_file, Lab, []);
        Assert.DoesNotContain("10.77.0.2", File.ReadAllText(_file));
    }

    [Fact]
    public void ReadsAtMostOneMebibyteOfWhatTheContainerWrote()
    {
        File.WriteAllText(_file, "192.0.2.9 mine\n" + new string('x', 3 << 20));
        Unicorn.Network.HostsFile.Update(_file, Lab, ["10.77.0.2\tdb"]);
        var text = File.ReadAllText(_file);
        Assert.StartsWith("192.0.2.9 mine\n", text);
        Assert.EndsWith("\n10.77.0.2\tdb\n", text);
        Assert.True(text.Length <= (1 << 20) + 20);
    }

    [Fact]
    public void IgnoresAFileThatIsGoneAndRefusesASymlink()
    {
        Unicorn.Network.HostsFile.Update(_file, Lab, ["10.77.0.2\tdb"]);
        Assert.False(File.Exists(_file));
        var target = _file + ".target";
        File.WriteAllText(target, "untouched");
        File.CreateSymbolicLink(_file, target);
        try
        {
            Assert.Throws<Unicorn.Native.NativeException>(() => Unicorn.Network.HostsFile.Update(_file, Lab, ["10.77.0.2\tdb"]));
            Assert.Equal("untouched", File.ReadAllText(target));
        }
        finally { File.Delete(target); }
    }
}
