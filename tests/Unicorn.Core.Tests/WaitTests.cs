using System.Diagnostics;
using Unicorn.Native;

namespace Unicorn.Tests;

/// <summary>What Stop and Wait build on, on the real kernel: pidfds checked against a start
/// time, one poll over many of them, and a process's state (stopped, zombie) from /proc.</summary>
public sealed class WaitTests
{
    static Process Sleep(string seconds) => Process.Start(new ProcessStartInfo("sleep", seconds) { UseShellExecute = false })!;

    [Fact]
    public void PidfdOpenChecked_RefusesAnotherStartTime()
    {
        using var p = Sleep("5");
        try
        {
            var start = ProcFs.StartTime(p.Id)!.Value;
            int fd = Libc.PidfdOpenChecked(p.Id, start);
            Assert.True(fd >= 0);
            Libc.Close(fd);
            Assert.Equal(-1, Libc.PidfdOpenChecked(p.Id, start + 1)); // a reused pid is not ours
            Assert.Equal(-1, Libc.PidfdOpenChecked(0, start));
        }
        finally { p.Kill(); p.WaitForExit(); }
    }

    [Fact]
    public void PollReadable_ReportsOnlyTheProcessesThatEnded()
    {
        using var quick = Sleep("0.1");
        using var slow = Sleep("5");
        int a = Libc.PidfdOpenChecked(quick.Id, ProcFs.StartTime(quick.Id)!.Value);
        int b = Libc.PidfdOpenChecked(slow.Id, ProcFs.StartTime(slow.Id)!.Value);
        try
        {
            int[] fds = [a, -1, b];
            var ready = new bool[3];
            var sw = Stopwatch.StartNew();
            while (!ready[0] && sw.Elapsed < TimeSpan.FromSeconds(5))
                Libc.PollReadable(fds, ready, 1000);
            Assert.True(ready[0]);
            Assert.False(ready[1]); // a skipped entry is never ready
            Assert.False(ready[2]);
            Assert.Equal(0, Libc.PollReadable([b], new bool[1], 10)); // a timeout
        }
        finally
        {
            Libc.Close(a);
            Libc.Close(b);
            slow.Kill();
            slow.WaitForExit();
        }
    }

    [Fact]
    public void Process_SaysStopped_AndNothingForAnotherStartTime()
    {
        using var p = Sleep("5");
        try
        {
            var start = ProcFs.StartTime(p.Id)!.Value;
            Assert.False(ProcFs.IsStopped(ProcFs.Process(p.Id, start)!.Value.State));
            Assert.Null(ProcFs.Process(p.Id, start + 1));
            Process.Start("kill", ["-STOP", p.Id.ToString()])!.WaitForExit();
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (!ProcFs.IsStopped(ProcFs.Process(p.Id, start)!.Value.State) && DateTime.UtcNow < deadline)
                Thread.Sleep(10);
            var s = ProcFs.Process(p.Id, start)!.Value;
            Assert.True(ProcFs.IsStopped(s.State));
            Assert.Null(s.ExitCode); // not a zombie: no exit code yet
        }
        finally { p.Kill(); p.WaitForExit(); }
    }
}
