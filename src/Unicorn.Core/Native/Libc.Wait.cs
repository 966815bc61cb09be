using L = Tmds.Linux.LibC;

namespace Unicorn.Native;

// Waiting for many processes on one thread: a pidfd per process, all polled together.
public static unsafe partial class Libc
{
    /// <summary>Polls fds (negative entries are skipped) for up to timeoutMs and sets ready[i]
    /// for each one that became readable (a pidfd: its process has ended, zombie or reaped).
    /// Returns how many did; 0 on timeout or a signal.</summary>
    public static int PollReadable(ReadOnlySpan<int> fds, Span<bool> ready, int timeoutMs)
    {
        var p = new Tmds.Linux.pollfd[fds.Length];
        for (int i = 0; i < fds.Length; i++)
            p[i] = new Tmds.Linux.pollfd { fd = fds[i], events = (short)L.POLLIN };
        int n;
        fixed (Tmds.Linux.pollfd* pp = p)
            n = L.poll(pp, (Tmds.Linux.ulong_t)(ulong)p.Length, timeoutMs);
        ready.Clear();
        if (n <= 0)
            return 0;
        for (int i = 0; i < fds.Length; i++)
            ready[i] = fds[i] >= 0 && p[i].revents != 0;
        return n;
    }

    /// <summary>A pidfd for the process pid that started at startTime (field 22 of its stat):
    /// -1 if it is gone or the pid now names another process. A zombie still counts: its pidfd
    /// is readable at once.</summary>
    public static int PidfdOpenChecked(int pid, ulong startTime)
    {
        if (pid <= 0)
            return -1;
        int fd = PidfdOpen(pid);
        if (fd < 0)
            return -1;
        // Checked after the open: the fd names the process that had the start time, if any.
        if (ProcFs.StartTime(pid) == startTime)
            return fd;
        Close(fd);
        return -1;
    }

    /// <summary>Is fd readable right now (a pidfd: its process has ended)?</summary>
    public static bool IsReadable(int fd) => fd >= 0 && WaitReadable(fd, 0);

    /// <summary>isatty(fd): is the descriptor a terminal?</summary>
    public static bool IsATty(int fd) => L.isatty(fd) == 1;
}
