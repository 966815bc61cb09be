using System.Text;

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
             "rootfs", "/r oot", "hostname", "box", "log", "/logs/c.log", "attach", "1", "init", "1", "bind", "/host", "/data", "ro", ""],
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
