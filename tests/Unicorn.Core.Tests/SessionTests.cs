using System.Text;
using Unicorn.Runtime;

namespace Unicorn.Tests;

/// <summary>What a PowerShell session into a container stands on: an exec with a stdin pipe, and
/// pwsh started in the container (the image's, or the host's bound in for that process only).</summary>
[Trait("Category", "Root")] // containers: needs root
public class SessionTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    readonly ContainerEngine engine = fixture.Engine;

    /// <summary>A running container (sleeping) on the default rootfs, removed by the caller.</summary>
    Container Sleeper(string? rootfsPath = null)
    {
        using var started = engine.Start(new StartOptions { Command = ["/bin/sleep", "600"], RootfsPath = rootfsPath });
        return engine.Get(started.Id);
    }

    [Fact]
    public void ExecWithStdinPassesWhatWeWriteAndEndsOnEof()
    {
        var c = Sleeper();
        try
        {
            using var cat = engine.Exec(c.Id, new ExecOptions { Command = ["/bin/cat"], Stdin = true });
            Assert.NotNull(cat.Stdin);
            cat.Stdin!.Write("one line\n"u8);
            Assert.Equal("one line", cat.Stdout.ReadLine()); // echoed while stdin is still open
            cat.Stdin.Write(Encoding.UTF8.GetBytes("två\n"));
            Assert.Equal("två", cat.Stdout.ReadLine());
            cat.Stdin.Dispose(); // EOF: cat ends
            Assert.Null(cat.Stdout.ReadLine());
            Assert.Equal(0, cat.WaitForExit());
        }
        finally
        {
            engine.Remove(engine.Get(c.Id), force: true);
        }
    }

    [Fact]
    public void ExecWithoutStdinReadsNothing()
    {
        var c = Sleeper();
        try
        {
            using var cat = engine.Exec(c.Id, new ExecOptions { Command = ["/bin/cat"] });
            Assert.Null(cat.Stdin);
            Assert.Null(cat.Stdout.ReadLine()); // /dev/null: EOF at once
            Assert.Equal(0, cat.WaitForExit());
        }
        finally
        {
            engine.Remove(engine.Get(c.Id), force: true);
        }
    }
}
