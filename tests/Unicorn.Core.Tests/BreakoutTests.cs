using Unicorn.Native;
using Unicorn.Runtime;

namespace Unicorn.Tests;

/// <summary>The engine's side of closing the ways out (the launcher's side is tested end to end
/// in Pester: Breakout.Tests.ps1).</summary>
[Trait("Category", "Root")] // mounts, owners, device nodes, cgroups or containers: needs root
public class BreakoutTests
{
    [Theory]
    [InlineData("/bin/sh", "X=1\0bind\0/\0/hostroot\0rw", "/")]
    [InlineData("/bin/sh", "X=1", "/srv\0bind")]
    [InlineData("\0", "X=1", "/")]
    public void SpecFileRefusesNulInAnyValue(string arg, string env, string cwd)
    {
        var e = Assert.Throws<UnicornException>(() => SpecFile.Process([arg], [env], cwd));
        Assert.Equal("InvalidCharacter", e.ErrorId);
    }

    [Fact]
    public void SpecFileRefusesNulWhateverTheSource()
    {
        // An image's Env reaches the spec through the container's config, not StartOptions.
        var config = new ContainerConfig("id", "web", "box", ["/bin/sh"], ["X=1\0bind\0/\0/h\0rw"], "/", [], "/r", null, null, DateTime.UtcNow);
        Assert.Throws<UnicornException>(() => SpecFile.For(config, [], "/l", attach: false, init: false, tty: false));
        Assert.Throws<UnicornException>(() => new SpecFile().Mask("/proc\0kcore"));
    }

    [Fact]
    public void NoMknodWithoutADevicesCgroup()
    {
        const ulong mknod = 1UL << 27;
        Assert.NotEqual(0UL, new SecurityOptions().CapabilityMask() & mknod);
        Assert.Equal(0UL, new SecurityOptions { NoDevicesCgroup = true }.CapabilityMask() & mknod);
        Assert.NotEqual(0UL, new SecurityOptions { NoDevicesCgroup = true, CapAdd = ["MKNOD"] }.CapabilityMask() & mknod);
    }

    [Fact]
    public void SealedCopyCannotBeWritten()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(file, [1, 2, 3]);
            int fd = Libc.SealedCopy(file, "test");
            try
            {
                var path = $"/proc/self/fd/{fd}";
                Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
                Assert.ThrowsAny<Exception>(() => File.WriteAllBytes(path, [9]));
                Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
            }
            finally { Libc.Close(fd); }
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void RootsArePrivate()
    {
        var root = Path.Combine(Path.GetTempPath(), "unicorn-private-" + Guid.NewGuid().ToString("n")[..8]);
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "data"));
            File.SetUnixFileMode(Path.Combine(root, "data"), (UnixFileMode)0b111_101_101);
            var paths = new UnicornPaths(Path.Combine(root, "state"), Path.Combine(root, "data")).Private();
            const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            Assert.Equal(owner, File.GetUnixFileMode(paths.StateRoot));
            Assert.Equal(owner, File.GetUnixFileMode(paths.DataRoot));
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
