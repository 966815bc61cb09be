using System.Text;
using Microsoft.Win32.SafeHandles;
using Unicorn.Native;

namespace Unicorn;

/// <summary>The engine's side of the native launcher (src/launcher/README.md has the
/// protocol): spawns it, gives the go-ahead, reads its reports.</summary>
internal sealed class Launcher : IDisposable
{
    const int FdGo = 3, FdReport = 4;

    int _go;
    readonly StreamReader _reports;

    Launcher(int go, int report)
    {
        _go = go;
        _reports = new StreamReader(new FileStream(new SafeFileHandle(report, ownsHandle: true), FileAccess.Read, 1), Encoding.UTF8);
    }

    /// <summary>The launcher binary: next to this assembly in the module folder, or where
    /// UNICORN_LAUNCHER says.</summary>
    public static string BinaryPath =>
        Environment.GetEnvironmentVariable("UNICORN_LAUNCHER") is { Length: > 0 } p ? p
        : Path.Combine(Path.GetDirectoryName(typeof(Launcher).Assembly.Location)!, "unicorn-launcher");

    /// <summary>Runs the launcher for the container whose spec is in stateDir. Its output goes
    /// to output (a file descriptor), or to ours when null.</summary>
    public static Launcher Spawn(string stateDir, int? output)
    {
        var binary = BinaryPath;
        if (!File.Exists(binary))
            throw new UnicornException("LauncherNotFound", ErrorKind.NotInstalled,
                $"The launcher '{binary}' is missing. Rebuild the module (./build.ps1) or set UNICORN_LAUNCHER to its path.", binary);

        var (goRead, goWrite) = Libc.Pipe();
        var (reportRead, reportWrite) = Libc.Pipe();
        try
        {
            goRead = Libc.DupAbove(goRead, 10);
            reportWrite = Libc.DupAbove(reportWrite, 10);
            int pid = Libc.Spawn(binary, [binary, "run", stateDir],
            [
                (0, null),
                (1, output ?? 1),
                (2, output ?? 2),
                (FdGo, goRead),
                (FdReport, reportWrite),
            ]);
            Libc.WaitPid(pid); // it forks the supervisor and exits at once
        }
        catch
        {
            Libc.Close(goWrite);
            Libc.Close(reportRead);
            throw;
        }
        finally
        {
            Libc.Close(goRead);
            Libc.Close(reportWrite);
        }
        return new Launcher(goWrite, reportRead);
    }

    /// <summary>The next report line, or null once the supervisor has closed its end.</summary>
    public string? ReadReport() => _reports.ReadLine();

    /// <summary>Lets the container's init go on to exec its command.</summary>
    public void Go()
    {
        Libc.WriteAll(_go, "g"u8);
        CloseGo();
    }

    /// <summary>Stops a launch before the command runs, and waits until the supervisor is gone,
    /// so that nothing writes into the state directory once this returns.</summary>
    public void Abort()
    {
        CloseGo();
        while (ReadReport() is not null) { }
    }

    void CloseGo()
    {
        if (Interlocked.Exchange(ref _go, -1) is var fd && fd >= 0)
            Libc.Close(fd);
    }

    public void Dispose()
    {
        CloseGo();
        _reports.Dispose();
    }
}
