using System.Runtime.InteropServices;
using System.Text;
using L = Tmds.Linux.LibC;

namespace Unicorn.Native;

/// <summary>The system calls the engine makes, through Tmds.LibC, each turning a failure
/// into a <see cref="NativeException"/> that names the call and the path.</summary>
public static unsafe partial class Libc
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
    public static void LockExclusive(int fd, string path) => Lock(fd, path, L.F_WRLCK);

    /// <summary>A lock that others may share, but not with an exclusive one.</summary>
    public static void LockShared(int fd, string path) => Lock(fd, path, L.F_RDLCK);

    /// <summary>Does any open file description hold a lock on fd's file (that an exclusive
    /// lock would conflict with)? Asks only; takes nothing.</summary>
    public static bool IsLocked(int fd, string path)
    {
        var fl = new Tmds.Linux.flock { l_type = (short)L.F_WRLCK, l_whence = (short)L.SEEK_SET };
        Check(L.fcntl(fd, L.F_OFD_GETLK, &fl), "fcntl F_OFD_GETLK", path);
        return fl.l_type != L.F_UNLCK;
    }

    static void Lock(int fd, string path, int type)
    {
        var fl = new Tmds.Linux.flock { l_type = (short)type, l_whence = (short)L.SEEK_SET };
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

    /// <summary>Reaps a child of ours and returns how it ended, as a shell says it: its exit
    /// status, or 128 + the signal that killed it.</summary>
    public static int WaitExitCode(int pid)
    {
        int status;
        while (waitpid(pid, out status, 0) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
                throw new NativeException(errno, "waitpid", pid.ToString());
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
    }

    [DllImport("libc", SetLastError = true)]
    static extern int prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    /// <summary>Orphans among our descendants become our children (PR_SET_CHILD_SUBREAPER), as
    /// conmon and the containerd shim make themselves: `unicorn run` reaps its container's init.</summary>
    public static void BecomeSubreaper()
    {
        const int PR_SET_CHILD_SUBREAPER = 36;
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
            throw new NativeException(Marshal.GetLastPInvokeError(), "prctl PR_SET_CHILD_SUBREAPER", null);
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

    // ---- File trees (image layers): calls relative to directory descriptors, extended
    // attributes and lstat. The Try… calls return 0 or the errno, for the caller to decide. ----

    /// <summary>What lstat says of a file.</summary>
    public readonly record struct FileStatus(uint Mode, uint Uid, uint Gid, long Size, ulong Device, ulong Inode,
        ulong Links, uint DeviceMajor, uint DeviceMinor, long MtimeSeconds, long MtimeNanoseconds)
    {
        public uint Type => Mode & (uint)L.S_IFMT;
        public bool IsDirectory => Type == (uint)L.S_IFDIR;
    }

    static FileStatus StatusOf(in Tmds.Linux.stat st)
    {
        ulong rdev = st.st_rdev;
        return new FileStatus((uint)(ushort)st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_dev, st.st_ino, st.st_nlink,
            DevMajor(rdev), DevMinor(rdev), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }

    // glibc's encoding of device numbers (sys/sysmacros.h), which takes 32-bit majors and minors.
    static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
    static uint DevMajor(ulong dev) => (uint)(((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff));
    static uint DevMinor(ulong dev) => (uint)(((dev >> 12) & 0xffffff00) | (dev & 0xff));

    /// <summary>s as a NUL-terminated UTF-8 string: in buffer when it fits (no allocation, for
    /// the calls made once per file), else in a new array.</summary>
    static ReadOnlySpan<byte> Utf8Z(string s, Span<byte> buffer)
    {
        if (Encoding.UTF8.GetMaxByteCount(s.Length) >= buffer.Length)
            return Encoding.UTF8.GetBytes(s + "\0");
        int n = Encoding.UTF8.GetBytes(s, buffer);
        buffer[n] = 0;
        return buffer[..(n + 1)];
    }

    static Tmds.Linux.timespec TimeSpec(DateTimeOffset t)
    {
        long ticks = t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks; // 100 ns each
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest);
        if (rest < 0)
            (seconds, rest) = (seconds - 1, rest + TimeSpan.TicksPerSecond);
        return new Tmds.Linux.timespec { tv_sec = seconds, tv_nsec = (Tmds.Linux.long_t)(rest * 100) };
    }

    public static uint EffectiveUid => L.geteuid();
    public static uint EffectiveGid => L.getegid();

    /// <summary>openat2 with RESOLVE_IN_ROOT: path is resolved as if rootFd were "/", so that
    /// neither "..", nor an absolute or relative symbolic link, can lead out of it. ENOSYS on
    /// kernels before 5.6.</summary>
    public static int TryOpenInRoot(int rootFd, string path, int flags, out int fd)
    {
        var how = new Tmds.Linux.open_how { flags = (ulong)(flags | L.O_CLOEXEC), resolve = L.RESOLVE_IN_ROOT | L.RESOLVE_NO_MAGICLINKS };
        Span<byte> buf = stackalloc byte[1024];
        fixed (byte* p = Utf8Z(path, buf))
        {
            for (int attempt = 0; ; attempt++)
            {
                fd = L.openat2(rootFd, p, &how, (Tmds.Linux.size_t)sizeof(Tmds.Linux.open_how));
                if (fd >= 0)
                    return 0;
                int errno = L.errno;
                // EAGAIN: a rename or mount raced the resolution, which the kernel then refuses.
                if ((errno != Errno.EINTR && errno != Errno.EAGAIN) || attempt == 16)
                    return errno;
            }
        }
    }

    public static int TryOpenAt(int dirFd, string name, int flags, int mode, out int fd)
    {
        Span<byte> buf = stackalloc byte[1024];
        fixed (byte* p = Utf8Z(name, buf))
        {
            do fd = L.openat(dirFd, p, flags | L.O_CLOEXEC, (Tmds.Linux.mode_t)(uint)mode);
            while (fd < 0 && L.errno == Errno.EINTR);
            return fd >= 0 ? 0 : L.errno;
        }
    }

    /// <summary>The directory fd that stands for the working directory (paths as they are).</summary>
    public static int AtCwd => L.AT_FDCWD;

    public static int TryMkdirAt(int dirFd, string name, int mode)
    {
        Span<byte> buf = stackalloc byte[1024];
        fixed (byte* p = Utf8Z(name, buf))
            return L.mkdirat(dirFd, p, (Tmds.Linux.mode_t)(uint)mode) == 0 ? 0 : L.errno;
    }

    public static int TrySymlinkAt(string target, int dirFd, string name)
    {
        Span<byte> buf = stackalloc byte[1024], tbuf = stackalloc byte[1024];
        fixed (byte* p = Utf8Z(name, buf), t = Utf8Z(target, tbuf))
            return L.symlinkat(t, dirFd, p) == 0 ? 0 : L.errno;
    }

    /// <summary>mknodat; mode holds the file type (S_IFCHR, S_IFBLK, S_IFIFO) and permissions.</summary>
    public static int TryMknodAt(int dirFd, string name, uint mode, uint major, uint minor)
    {
        Span<byte> buf = stackalloc byte[1024];
        fixed (byte* p = Utf8Z(name, buf))
            return L.mknodat(dirFd, p, (Tmds.Linux.mode_t)mode, (Tmds.Linux.dev_t)MakeDev(major, minor)) == 0 ? 0 : L.errno;
    }

    /// <summary>A hard link at toDirFd/toName to fromDirFd/fromName, which is not followed if
    /// it is a symbolic link.</summary>
    public static int TryLinkAt(int fromDirFd, string fromName, int toDirFd, string toName)
    {
        Span<byte> fbuf = stackalloc byte[1024], tbuf = stackalloc byte[1024];
        fixed (byte* f = Utf8Z(fromName, fbuf), t = Utf8Z(toName, tbuf))
            return L.linkat(fromDirFd, f, toDirFd, t, 0) == 0 ? 0 : L.errno;
    }

    /// <summary>fstatat, following a final symbolic link only if asked; false if there is nothing there.</summary>
    public static bool TryStatAt(int dirFd, string name, out FileStatus status, bool follow = false)
    {
        Span<byte> buf = stackalloc byte[1024];
        Tmds.Linux.stat st;
        fixed (byte* p = Utf8Z(name, buf))
        {
            if (L.fstatat(dirFd, p, &st, follow ? 0 : L.AT_SYMLINK_NOFOLLOW) == 0)
            {
                status = StatusOf(st);
                return true;
            }
        }
        int errno = L.errno;
        status = default;
        if (errno == Errno.ENOENT || errno == Errno.ENOTDIR)
            return false;
        throw new NativeException(errno, "fstatat", name);
    }

    /// <summary>lstat; false if there is nothing at path.</summary>
    public static bool TryLStat(string path, out FileStatus status) => TryStatAt(L.AT_FDCWD, path, out status);

    /// <summary>stat, following symbolic links (and /proc's magic links to open files); false if
    /// there is nothing at path.</summary>
    public static bool TryStat(string path, out FileStatus status) => TryStatAt(L.AT_FDCWD, path, out status, follow: true);

    public static void UnlinkAt(int dirFd, string name)
    {
        Span<byte> buf = stackalloc byte[1024];
        fixed (byte* p = Utf8Z(name, buf))
            Check(L.unlinkat(dirFd, p, 0), "unlinkat", name);
    }

    /// <summary>fchownat, not following a symbolic link.</summary>
    public static void ChownAt(int dirFd, string name, uint uid, uint gid)
    {
        Span<byte> buf = stackalloc byte[1024];
        fixed (byte* p = Utf8Z(name, buf))
            Check(L.fchownat(dirFd, p, uid, gid, L.AT_SYMLINK_NOFOLLOW), "fchownat", name);
    }

    /// <summary>fchmodat, not following a symbolic link (Linux cannot change a link's mode: on
    /// one it fails, EOPNOTSUPP): a name that a container has just swapped for a link to a host
    /// file does not lead the mode there.</summary>
    public static void ChmodAt(int dirFd, string name, uint mode)
    {
        Span<byte> buf = stackalloc byte[1024];
        fixed (byte* p = Utf8Z(name, buf))
            Check(L.fchmodat(dirFd, p, (Tmds.Linux.mode_t)mode, L.AT_SYMLINK_NOFOLLOW), "fchmodat", name);
    }

    public static void Fchown(int fd, uint uid, uint gid, string path) => Check(L.fchown(fd, uid, gid), "fchown", path);
    public static void Fchmod(int fd, uint mode, string path) => Check(L.fchmod(fd, (Tmds.Linux.mode_t)mode), "fchmod", path);

    /// <summary>utimensat, not following a symbolic link.</summary>
    public static void SetTimesAt(int dirFd, string name, DateTimeOffset atime, DateTimeOffset mtime)
    {
        Span<byte> buf = stackalloc byte[1024];
        var times = stackalloc Tmds.Linux.timespec[2] { TimeSpec(atime), TimeSpec(mtime) };
        fixed (byte* p = Utf8Z(name, buf))
            Check(L.utimensat(dirFd, p, times, L.AT_SYMLINK_NOFOLLOW), "utimensat", name);
    }

    public static void SetTimes(int fd, DateTimeOffset atime, DateTimeOffset mtime, string path)
    {
        var times = stackalloc Tmds.Linux.timespec[2] { TimeSpec(atime), TimeSpec(mtime) };
        Check(L.futimens(fd, times), "futimens", path);
    }

    // Not in Tmds.LibC: the extended attribute calls.
    [DllImport("libc", SetLastError = true)] static extern nint fsetxattr(int fd, byte* name, byte* value, nint size, int flags);
    [DllImport("libc", SetLastError = true)] static extern nint lsetxattr(byte* path, byte* name, byte* value, nint size, int flags);

    public static void SetXattr(int fd, string name, ReadOnlySpan<byte> value, string path)
    {
        Span<byte> nbuf = stackalloc byte[512];
        fixed (byte* n = Utf8Z(name, nbuf), v = value)
            if (fsetxattr(fd, n, v, value.Length, 0) < 0)
                throw new NativeException(Marshal.GetLastPInvokeError(), $"fsetxattr {name}", path);
    }

    /// <summary>lsetxattr: on a symbolic link itself, not on its target.</summary>
    public static void LSetXattr(string path, string name, ReadOnlySpan<byte> value)
    {
        Span<byte> pbuf = stackalloc byte[1024], nbuf = stackalloc byte[512];
        fixed (byte* p = Utf8Z(path, pbuf), n = Utf8Z(name, nbuf), v = value)
            if (lsetxattr(p, n, v, value.Length, 0) < 0)
                throw new NativeException(Marshal.GetLastPInvokeError(), $"lsetxattr {name}", path);
    }

    /// <summary>The names of path's extended attributes (of a symbolic link itself); none where
    /// the file system has none.</summary>
    public static string[] LListXattr(string path)
    {
        int fd = OpenNoFollow(path);
        try { return ListXattrs(fd, pathOnly: true, path); }
        finally { Close(fd); }
    }

    /// <summary>The value of path's extended attribute name, or null if it has none by that name.</summary>
    public static byte[]? LGetXattr(string path, string name)
    {
        int fd = OpenNoFollow(path);
        try { return GetXattr(fd, pathOnly: true, name, path); }
        finally { Close(fd); }
    }

    static int OpenNoFollow(string path) => Open(path, L.O_PATH | L.O_NOFOLLOW);

    const int ERANGE = 34, ENODATA = 61, EOPNOTSUPP = 95;
}
