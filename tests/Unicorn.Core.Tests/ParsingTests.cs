using System.Text;

namespace Unicorn.Tests;

public class SpecFileTests
{
    [Fact]
    public void WritesKeysAndValuesAsNulTerminatedStrings()
    {
        var config = new ContainerConfig("id", "web", "box", ["/bin/sh", "-c", "echo a b"], ["PATH=/bin", "X=y=z"], "/srv",
            [], "/r oot", null, null, DateTime.UtcNow);
        var bytes = SpecFile.For(config, [new VolumeMount("/host", "/data", ReadOnly: true)]);
        var strings = Encoding.UTF8.GetString(bytes).Split('\0');
        Assert.Equal(
            ["rootfs", "/r oot", "hostname", "box", "cwd", "/srv", "arg", "/bin/sh", "arg", "-c", "arg", "echo a b",
             "env", "PATH=/bin", "env", "X=y=z", "bind", "/host", "/data", "ro", ""],
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
