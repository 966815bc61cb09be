using System.Runtime.InteropServices;
using System.Text;
using L = Tmds.Linux.LibC;

namespace Unicorn.Native;

/// <summary>The system calls the engine makes, through Tmds.LibC, each turning a failure
/// into a <see cref="NativeException"/> that names the call and the path.</summary>
public static unsafe class Libc
{
    public static string StrError(int errno)
    {
        byte* buf = stackalloc byte[256];
        // Tmds.LibC binds the GNU strerror_r, which may return a static string instead of filling buf.
        var text = Marshal.PtrToStringUTF8((IntPtr)StrErrorR(errno, buf, 256));
        return string.IsNullOrEmpty(text) ? $"errno {errno}" : text;
    }

    [DllImport("libc", EntryPoint = "strerror_r")]
    static extern byte* StrErrorR(int errnum, byte* buf, nint buflen);

    static void Check(long rc, string call, string? path)
    {
        if (rc < 0)
            throw new NativeException(L.errno, call, path);
    }

    /// <summary>Runs f with s as a NUL-terminated UTF-8 string on the stack.</summary>
    static T WithPath<T>(string s, Func<IntPtr, T> f)
    {
        var bytes = Encoding.UTF8.GetBytes(s + "\0");
        fixed (byte* p = bytes)
            return f((IntPtr)p);
    }

    public static void Mount(string? source, string target, string? fsType, ulong flags, string? data)
    {
        var src = source is null ? null : Encoding.UTF8.GetBytes(source + "\0");
        var tgt = Encoding.UTF8.GetBytes(target + "\0");
        var fs = fsType is null ? null : Encoding.UTF8.GetBytes(fsType + "\0");
        var dat = data is null ? null : Encoding.UTF8.GetBytes(data + "\0");
        fixed (byte* s = src, t = tgt, f = fs, d = dat)
            Check(L.mount(s, t, f, (Tmds.Linux.ulong_t)flags, d), $"mount {fsType ?? "bind"} on", target);
    }

    /// <summary>Unmounts target; false if it was not mounted.</summary>
    public static bool Unmount(string target, bool detach = false)
    {
        int rc = WithPath(target, p => L.umount2((byte*)p, detach ? L.MNT_DETACH : 0));
        if (rc == 0)
            return true;
        int errno = L.errno;
        if (errno == Errno.EINVAL || errno == Errno.ENOENT)
            return false;
        throw new NativeException(errno, "umount", target);
    }

    /// <summary>Is a file system mounted at path? Told by its device differing from its
    /// parent's: two stats, not a read of the whole mount table. (A bind mount from the same
    /// file system would not show; the engine only asks this of its overlay mounts.)</summary>
    public static bool IsMountPoint(string path)
    {
        ulong Device(string p) => WithPath(p, s => { Tmds.Linux.stat st; return L.stat((byte*)s, &st) == 0 ? (ulong)st.st_dev : ulong.MaxValue; });
        var self = Device(path);
        return self != ulong.MaxValue && self != Device(path + "/..");
    }

    // pidfds name one process, never a later one with the same pid; 434 and 424 on every
    // architecture (the syscall table is shared from 424 on).
    const int SYS_pidfd_open = 434, SYS_pidfd_send_signal = 424;

    /// <summary>A pidfd for pid (close-on-exec), or -1 if the process is gone.</summary>
    public static int PidfdOpen(int pid) => (int)(long)L.syscall(SYS_pidfd_open, pid, 0);

    /// <summary>Sends signal through a pidfd; false if the process has ended.</summary>
    public static bool PidfdSignal(int pidfd, int signal) => (long)L.syscall(SYS_pidfd_send_signal, pidfd, signal, 0, 0) == 0;

    /// <summary>Waits up to timeoutMs for fd to become readable (a pidfd: its process ended).</summary>
    public static bool WaitReadable(int fd, int timeoutMs)
    {
        var p = new Tmds.Linux.pollfd { fd = fd, events = (short)L.POLLIN };
        return L.poll(&p, 1, timeoutMs) > 0;
    }

    public static void Close(int fd) => L.close(fd);

    /// <summary>A pipe whose ends close on exec; (read, write).</summary>
    public static (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        Check(L.pipe2(fds, L.O_CLOEXEC), "pipe2", null);
        return (fds[0], fds[1]);
    }

    public static void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                long n = L.write(fd, p + done, (Tmds.Linux.size_t)(data.Length - done));
                if (n < 0 && L.errno == Errno.EINTR)
                    continue;
                Check(n, "write", $"fd {fd}");
                done += (int)n;
            }
        }
    }

    /// <summary>Blocks until an exclusive open-file-description lock on fd is held; it is
    /// released when fd closes.</summary>
    public static void LockExclusive(int fd, string path)
    {
        var fl = new Tmds.Linux.flock { l_type = (short)L.F_WRLCK, l_whence = (short)L.SEEK_SET };
        while (L.fcntl(fd, L.F_OFD_SETLKW, &fl) < 0)
        {
            if (L.errno != Errno.EINTR)
                throw new NativeException(L.errno, "fcntl F_OFD_SETLKW", path);
        }
    }

    public static int Open(string path, int flags, int mode = 0)
    {
        int fd = WithPath(path, p => L.open((byte*)p, flags | L.O_CLOEXEC, (Tmds.Linux.mode_t)(uint)mode));
        Check(fd, "open", path);
        return fd;
    }

    public static void Fsync(int fd, string path) => Check(L.fsync(fd), "fsync", path);

    public static void MakeNode(string path, uint mode, uint major, uint minor)
    {
        ulong dev = ((ulong)major << 8) | minor; // old-style encoding suffices for majors/minors < 256
        Check(WithPath(path, p => L.mknod((byte*)p, (Tmds.Linux.mode_t)mode, (Tmds.Linux.dev_t)dev)), "mknod", path);
    }

    // Not in Tmds.LibC: waitpid, and posix_spawn, the safe way to start a process from a
    // multi-threaded runtime (vfork+exec inside libc, no managed code in the child).
    [DllImport("libc", SetLastError = true)]
    static extern int waitpid(int pid, out int status, int options);

    [DllImport("libc")] static extern int posix_spawn(out int pid, byte* path, IntPtr fileActions, IntPtr attr, byte** argv, byte** envp);
    [DllImport("libc")] static extern int posix_spawn_file_actions_init(IntPtr fa);
    [DllImport("libc")] static extern int posix_spawn_file_actions_destroy(IntPtr fa);
    [DllImport("libc")] static extern int posix_spawn_file_actions_adddup2(IntPtr fa, int fd, int newfd);
    [DllImport("libc")] static extern int posix_spawn_file_actions_addopen(IntPtr fa, int fd, byte* path, int oflag, int mode);
    [DllImport("libc")] static extern int posix_spawnattr_init(IntPtr attr);
    [DllImport("libc")] static extern int posix_spawnattr_destroy(IntPtr attr);
    [DllImport("libc")] static extern int posix_spawnattr_setflags(IntPtr attr, short flags);
    [DllImport("libc")] static extern int posix_spawnattr_setsigmask(IntPtr attr, IntPtr sigset);
    [DllImport("libc")] static extern int posix_spawnattr_setsigdefault(IntPtr attr, IntPtr sigset);
    [DllImport("libc")] static extern int sigemptyset(IntPtr set);
    [DllImport("libc")] static extern int sigfillset(IntPtr set);

    const short POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08;

    /// <summary>Reaps a child of ours. (ECHILD, already reaped, is fine: only the child's end matters.)</summary>
    public static void WaitPid(int pid)
    {
        while (waitpid(pid, out _, 0) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.ECHILD)
                return;
            if (errno != Errno.EINTR)
                throw new NativeException(errno, "waitpid", pid.ToString());
        }
    }

    /// <summary>Starts path with argv. fds maps each of the child's descriptors to one of
    /// ours; a null source opens /dev/null. Every other descriptor closes (ours are all
    /// close-on-exec), and the child starts with default signal dispositions and an empty
    /// mask, whatever the runtime has set.</summary>
    public static int Spawn(string path, string[] argv, IReadOnlyList<(int Child, int? Ours)> fds)
    {
        var strings = new List<IntPtr>();
        IntPtr Str(string s) { var p = Marshal.StringToCoTaskMemUTF8(s); strings.Add(p); return p; }
        IntPtr fa = Marshal.AllocHGlobal(256), attr = Marshal.AllocHGlobal(1024), sigs = Marshal.AllocHGlobal(256);
        try
        {
            posix_spawn_file_actions_init(fa);
            posix_spawnattr_init(attr);
            foreach (var (child, ours) in fds)
            {
                int rc = ours is int fd
                    ? posix_spawn_file_actions_adddup2(fa, fd, child)
                    : posix_spawn_file_actions_addopen(fa, child, (byte*)Str("/dev/null"), child == 0 ? L.O_RDONLY : L.O_WRONLY, 0);
                if (rc != 0)
                    throw new NativeException(rc, "posix_spawn_file_actions", path);
            }
            sigemptyset(sigs);
            posix_spawnattr_setsigmask(attr, sigs);
            sigfillset(sigs);
            posix_spawnattr_setsigdefault(attr, sigs);
            posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

            var args = new IntPtr[argv.Length + 1];
            for (int i = 0; i < argv.Length; i++)
                args[i] = Str(argv[i]);
            var env = new IntPtr[] { Str("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), IntPtr.Zero };
            fixed (IntPtr* a = args, e = env)
            {
                int rc = posix_spawn(out int pid, (byte*)Str(path), fa, attr, (byte**)a, (byte**)e);
                if (rc != 0)
                    throw new NativeException(rc, "posix_spawn", path);
                return pid;
            }
        }
        finally
        {
            posix_spawn_file_actions_destroy(fa);
            posix_spawnattr_destroy(attr);
            Marshal.FreeHGlobal(fa);
            Marshal.FreeHGlobal(attr);
            Marshal.FreeHGlobal(sigs);
            strings.ForEach(Marshal.FreeCoTaskMem);
        }
    }

    /// <summary>Moves fd to a number of at least min (close-on-exec), so that the dup2s of a
    /// spawn onto low numbers cannot clobber it.</summary>
    public static int DupAbove(int fd, int min)
    {
        if (fd >= min)
            return fd;
        int copy = L.fcntl(fd, L.F_DUPFD_CLOEXEC, min);
        Check(copy, "fcntl F_DUPFD_CLOEXEC", $"fd {fd}");
        L.close(fd);
        return copy;
    }
}
