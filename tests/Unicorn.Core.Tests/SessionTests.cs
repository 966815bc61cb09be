using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Unicorn.Native;
using Unicorn.Runtime;

namespace Unicorn.Tests;

/// <summary>What a PowerShell session into a container stands on: an exec with a stdin pipe, and
/// pwsh started in the container (the image's, or the host's bound in for that process only).</summary>
[Trait("Category", "Root")] // containers: needs root
public class SessionTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    readonly ContainerEngine engine = fixture.Engine;

    /// <summary>A running container (sleeping), on the default rootfs or the directory given;
    /// removed when disposed.</summary>
    Running Sleeper(string? rootfsPath = null)
    {
        using var started = engine.Start(new StartOptions { Command = ["/bin/sleep", "600"], RootfsPath = rootfsPath });
        return new Running(engine, started.Id);
    }

    sealed class Running(ContainerEngine engine, string id) : IDisposable
    {
        public string Id => id;
        public int InitPid => engine.Get(id).Pid!.Value;
        public void Dispose() => engine.Remove(engine.Get(id), force: true);
    }

    [Fact]
    public void ExecWithStdinPassesWhatWeWriteAndEndsOnEof()
    {
        using var c = Sleeper();
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

    [Fact]
    public void ExecWithoutStdinReadsNothing()
    {
        using var c = Sleeper();
        using var cat = engine.Exec(c.Id, new ExecOptions { Command = ["/bin/cat"] });
        Assert.Null(cat.Stdin);
        Assert.Null(cat.Stdout.ReadLine()); // /dev/null: EOF at once
        Assert.Equal(0, cat.WaitForExit());
    }

    /// <summary>The mountinfo lines of process pid (as the host reads them) that are on a path under
    /// the session mount.</summary>
    static string[] SessionMounts(int pid) =>
        [.. File.ReadLines($"/proc/{pid}/mountinfo").Where(l => l.Split(' ')[4].StartsWith(ContainerEngine.HostPowerShellMount, StringComparison.Ordinal))];

    [Fact]
    public void APrivateBindIsTheExecdProcesssAloneAndGoesWithIt()
    {
        var source = Directory.CreateDirectory(Path.Combine(fixture.Root, $"private-{Guid.NewGuid():n}")).FullName;
        File.WriteAllText(Path.Combine(source, "marker"), "from the host\n");
        var dest = $"{ContainerEngine.HostPowerShellMount}/test";
        using var c = Sleeper();
        int init = c.InitPid;
        using (var holder = engine.Exec(c.Id, new ExecOptions
        {
            // Reads the marker, tries to write next to it, then waits for our EOF.
            Command = ["/bin/sh", "-c", $"cat {dest}/marker; touch {dest}/new 2>/dev/null && echo writable || echo read-only; cat > /dev/null"],
            Stdin = true,
            PrivateBinds = [(source, dest)],
        }))
        {
            Assert.Equal("from the host", holder.Stdout.ReadLine());
            Assert.Equal("read-only", holder.Stdout.ReadLine());
            var mine = Assert.Single(SessionMounts(holder.Pid));
            Assert.Matches(@"(^| )ro,nosuid,nodev", mine);
            Assert.Empty(SessionMounts(init)); // not the container's

            // Another exec sees the mount point the launcher made, empty: not the bind.
            using (var other = engine.Exec(c.Id, new ExecOptions { Command = ["/bin/ls", "-A", dest] }))
            {
                Assert.Null(other.Stdout.ReadLine());
                Assert.Equal(0, other.WaitForExit());
            }
            Assert.False(File.Exists(Path.Combine(source, "new")));
            holder.Stdin!.Dispose();
            Assert.Equal(0, holder.WaitForExit());
        }
        Assert.Empty(SessionMounts(init));
        Assert.DoesNotContain(ProcFs.MountPoints(), m => m.Contains(".unicorn-host")); // nothing reached the host either
    }

    [Fact]
    public void APrivateBindOntoASymbolicLinkOfTheContainersFailsClosed()
    {
        var source = Directory.CreateDirectory(Path.Combine(fixture.Root, $"private-{Guid.NewGuid():n}")).FullName;
        var escape = Directory.CreateDirectory(Path.Combine(fixture.Root, $"escape-{Guid.NewGuid():n}")).FullName;
        using var c = Sleeper();
        // The container points the mount point elsewhere (its own root, here) ahead of us.
        using (var ln = engine.Exec(c.Id, new ExecOptions { Command = ["/bin/ln", "-s", "/tmp", ContainerEngine.HostPowerShellMount] }))
            Assert.Equal(0, ln.WaitForExit());
        var e = Assert.Throws<UnicornException>(() => engine.Exec(c.Id, new ExecOptions
        {
            Command = ["/bin/true"],
            PrivateBinds = [(source, $"{ContainerEngine.HostPowerShellMount}/test")],
        }));
        Assert.Equal("ContainerSetupFailed", e.ErrorId);
        Assert.Contains("symbolic link", e.Message);
        Assert.Empty(SessionMounts(c.InitPid));
    }

    /// <summary>The host's pwsh: the dotnet tool this repository pins (build.ps1 runs it).</summary>
    static string HostPowerShellHome()
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget/packages");
        var homes = Directory.GetFiles(Path.Combine(packages, "powershell"), "pwsh.dll", SearchOption.AllDirectories)
            .Where(f => f.Contains("/any/unix/")).Select(Path.GetDirectoryName).ToList();
        Assert.NotEmpty(homes);
        return homes.Order().Last()!;
    }

    /// <summary>A glibc root filesystem from the host's own files: the default one (busybox) plus
    /// the libraries the host's .NET loads (ldd's list) and their loader, and OpenSSL (which .NET
    /// loads by name: next to libc), at their host paths. No ICU: .NET then runs with invariant
    /// globalization.</summary>
    string GlibcRootfs(bool openSsl = true)
    {
        var dir = Path.Combine(fixture.Root, $"glibc-{Guid.NewGuid():n}");
        DefaultImage.Assemble(dir);
        var runtime = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory();
        var libraries = Directory.GetFiles(runtime, "*.so").Append(Path.GetFullPath(Path.Combine(runtime, "../../../dotnet")))
            .SelectMany(binary => Regex.Matches(Run("ldd", binary), @"(?:=> |^\s*)(/\S+) \(", RegexOptions.Multiline).Select(m => m.Groups[1].Value));
        var found = libraries.Distinct().ToList();
        var libDir = Path.GetDirectoryName(found.First(l => l.EndsWith("/libc.so.6")))!;
        if (openSsl)
            found.AddRange(new[] { "libssl.so.3", "libcrypto.so.3" }.Select(l => Path.Combine(libDir, l)));
        foreach (var library in found)
        {
            var target = Path.Combine(dir, library.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(library, target); // the file a link names, as a file
        }
        return dir;

        static string Run(string program, string argument)
        {
            using var p = Process.Start(new ProcessStartInfo(program, [argument]) { RedirectStandardOutput = true })!;
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return output;
        }
    }

    /// <summary>The remoting protocol's smallest exchange: a Close for the session's null guid,
    /// which pwsh's server mode acknowledges once it is up (its runtime loaded, its session key made).</summary>
    static void AssertServerModeAnswers(ExecProcess pwsh)
    {
        const string guid = "00000000-0000-0000-0000-000000000000";
        pwsh.Stdin!.Write(Encoding.UTF8.GetBytes($"<Close PSGuid='{guid}' />\n"));
        Assert.Equal($"<CloseAck PSGuid='{guid}' />", pwsh.Stdout.ReadLine());
    }

    [Fact]
    public void StartsTheHostsPowerShellOnAGlibcRootfsForTheSessionAlone()
    {
        using var c = Sleeper(GlibcRootfs());
        int init = c.InitPid;
        using var pwsh = engine.StartPowerShell(c.Id, hostPowerShellHome: HostPowerShellHome());
        Assert.NotNull(pwsh.Stdin);
        var cmdline = File.ReadAllText($"/proc/{pwsh.Pid}/cmdline").Split('\0');
        Assert.Equal([$"{ContainerEngine.HostPowerShellMount}/dotnet/dotnet", $"{ContainerEngine.HostPowerShellMount}/pwsh/pwsh.dll", "-s", "-NoLogo", "-NoProfile"], cmdline[..^1]);
        var environ = File.ReadAllText($"/proc/{pwsh.Pid}/environ").Split('\0');
        Assert.Contains("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1", environ); // no ICU in this root
        Assert.Equal(2, SessionMounts(pwsh.Pid).Length);
        Assert.Empty(SessionMounts(init));

        AssertServerModeAnswers(pwsh);
        pwsh.Stdin!.Dispose(); // EOF: it ends
        pwsh.WaitForExit();
        Assert.Empty(SessionMounts(init));
    }

    [Fact]
    public void TheHostsPowerShellIsRefusedOnARootfsWithoutGlibc()
    {
        using var c = Sleeper(); // the default rootfs: static busybox, no loader
        var e = Assert.Throws<UnicornException>(() => engine.StartPowerShell(c.Id, hostPowerShellHome: HostPowerShellHome()));
        Assert.Equal("SessionHostPowerShellUnusable", e.ErrorId);
        Assert.Equal(ErrorKind.InvalidOperation, e.Kind);
        Assert.Contains("glibc", e.Message);
        Assert.Contains("-PowerShellPath", e.Message);
    }

    [Fact]
    public void TheHostsPowerShellIsRefusedOnARootfsWithoutOpenSsl()
    {
        using var c = Sleeper(GlibcRootfs(openSsl: false));
        var e = Assert.Throws<UnicornException>(() => engine.StartPowerShell(c.Id, hostPowerShellHome: HostPowerShellHome()));
        Assert.Equal("SessionHostPowerShellUnusable", e.ErrorId);
        Assert.Contains("OpenSSL", e.Message);
    }

    [Fact]
    public void TheImagesPowerShellMustBeThere()
    {
        using var c = Sleeper();
        var missing = Assert.Throws<UnicornException>(() => engine.StartPowerShell(c.Id, "/opt/microsoft/powershell/7/pwsh"));
        Assert.Equal("PowerShellNotFound", missing.ErrorId);
        Assert.Equal(ErrorKind.ObjectNotFound, missing.Kind);
        var relative = Assert.Throws<UnicornException>(() => engine.StartPowerShell(c.Id, "pwsh"));
        Assert.Equal("InvalidPowerShellPath", relative.ErrorId);
        var directory = Assert.Throws<UnicornException>(() => engine.StartPowerShell(c.Id, "/bin"));
        Assert.Equal("PowerShellNotFound", directory.ErrorId);

        // One that is there runs, with the server mode's arguments (echo, a stand-in, says them back).
        using var stand = engine.StartPowerShell(c.Id, "/bin/echo");
        Assert.Equal("-s -NoLogo -NoProfile", stand.Stdout.ReadLine());
        Assert.Equal(0, stand.WaitForExit());
    }

    [Fact]
    public void ASessionNeedsARunningContainer()
    {
        Container c;
        using (var started = engine.Start(new StartOptions { Command = ["/bin/true"] }))
            c = started.WaitForExit();
        try
        {
            var e = Assert.Throws<UnicornException>(() => engine.StartPowerShell(c.Id, "/bin/sh"));
            Assert.Equal("ContainerNotRunning", e.ErrorId);
        }
        finally
        {
            engine.Remove(c, force: true);
        }
    }
}
