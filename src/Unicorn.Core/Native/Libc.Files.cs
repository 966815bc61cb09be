using System.Runtime.InteropServices;
using System.Text;
using L = Tmds.Linux.LibC;

namespace Unicorn.Native;

// Reading a tree that someone else may change meanwhile (a running container's rootfs): every
// call is relative to a descriptor already held, never a path resolved again, and the type of
// a file is told by fstat of what was opened, never by an earlier lstat of its name.
public static unsafe partial class Libc
{
    const int ELOOP = 40, ENOSYS = 38, EISDIR = 21; // (ERANGE, ENODATA, EOPNOTSUPP: in Libc.cs)

    /// <summary>A directory entry: its name as the kernel gave it (NUL-terminated), and as text.</summary>
    public readonly record struct DirectoryEntry(byte[] NameZ, string Name, byte Type)
    {
        public const byte DT_UNKNOWN = 0, DT_CHR = 2;
    }

    [DllImport("libc", SetLastError = true)] static extern nint getdents64(int fd, byte* dirp, nint count);

    /// <summary>The entries of the directory open at fd ("." and ".." left out). Names that are
    /// not UTF-8 are left out too: a tar name could not say them.</summary>
    public static List<DirectoryEntry> ReadDirectory(int fd, string path)
    {
        var entries = new List<DirectoryEntry>();
        var buffer = new byte[32 * 1024];
        fixed (byte* b = buffer)
        {
            while (true)
            {
                long n = getdents64(fd, b, buffer.Length);
                if (n == 0)
                    return entries;
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.EINTR)
                        continue;
                    throw new NativeException(errno, "getdents64", path);
                }
                // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[].
                for (long at = 0; at < n;)
                {
                    var record = buffer.AsSpan((int)at);
                    int length = record[16] | record[17] << 8;
                    var name = record[19..length];
                    name = name[..name.IndexOf((byte)0)];
                    at += length;
                    if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8) || !System.Text.Unicode.Utf8.IsValid(name))
                        continue;
                    var nameZ = new byte[name.Length + 1];
                    name.CopyTo(nameZ);
                    entries.Add(new DirectoryEntry(nameZ, Encoding.UTF8.GetString(name), record[18]));
                }
            }
        }
    }

    /// <summary>Opens name in the directory dirFd as an O_PATH descriptor, not following a
    /// symbolic link: whatever the name is now (a link, a FIFO, a device), without the open
    /// that a FIFO would block on or a device's driver would act on. 0 or the errno.</summary>
    public static int TryOpenPathAt(int dirFd, byte[] nameZ, out int fd)
    {
        fixed (byte* p = nameZ)
        {
            do fd = L.openat(dirFd, p, L.O_PATH | L.O_NOFOLLOW | L.O_CLOEXEC, 0);
            while (fd < 0 && L.errno == Errno.EINTR);
            return fd >= 0 ? 0 : L.errno;
        }
    }

    /// <summary>fstatat of name in dirFd, not following a symbolic link; false if it is gone.</summary>
    public static bool TryStatAt(int dirFd, byte[] nameZ, out FileStatus status)
    {
        Tmds.Linux.stat st;
        fixed (byte* p = nameZ)
            if (L.fstatat(dirFd, p, &st, L.AT_SYMLINK_NOFOLLOW) == 0)
            {
                status = StatusOf(st);
                return true;
            }
        status = default;
        return false;
    }

    /// <summary>fstat: what the file open at fd is.</summary>
    public static FileStatus Fstat(int fd, string path)
    {
        Tmds.Linux.stat st;
        Check(L.fstat(fd, &st), "fstat", path);
        return StatusOf(st);
    }

    /// <summary>Opens a directory path names, not following a symbolic link at its end. 0 or the errno.</summary>
    public static int TryOpenDirectory(string path, out int fd)
    {
        Span<byte> buf = stackalloc byte[1024];
        fixed (byte* p = Utf8Z(path, buf))
        {
            fd = L.open(p, L.O_RDONLY | L.O_DIRECTORY | L.O_NOFOLLOW | L.O_CLOEXEC, 0);
            return fd >= 0 ? 0 : L.errno;
        }
    }

    /// <summary>The directory an O_PATH descriptor holds, opened for reading: the same
    /// directory, whatever its name has become.</summary>
    public static int OpenDirectoryOf(int pathFd, string path)
    {
        int fd;
        fixed (byte* p = ".\0"u8)
            fd = L.openat(pathFd, p, L.O_RDONLY | L.O_DIRECTORY | L.O_NOFOLLOW | L.O_CLOEXEC, 0);
        Check(fd, "openat", path);
        return fd;
    }

    /// <summary>The file an O_PATH descriptor holds, opened again for reading, through
    /// /proc/self/fd: the same inode, not whatever its name leads to now. Call it only for a
    /// regular file (fstat said so): opening a device or a FIFO has effects of its own.</summary>
    public static int Reopen(int pathFd, int flags, string path)
    {
        Span<byte> buf = stackalloc byte[64];
        int fd;
        fixed (byte* p = Utf8Z(ProcFd(pathFd), buf))
        {
            do fd = L.open(p, flags | L.O_NOCTTY | L.O_CLOEXEC, 0); // (no O_NOFOLLOW: the magic link is the way)
            while (fd < 0 && L.errno == Errno.EINTR);
        }
        Check(fd, "open", path);
        return fd;
    }

    static string ProcFd(int fd) => $"/proc/self/fd/{fd}";

    /// <summary>The target of the symbolic link an O_PATH descriptor holds (readlinkat with
    /// an empty name: the link itself, not one found again by its name).</summary>
    public static string ReadLink(int linkFd, string path)
    {
        for (int size = 4096; ; size *= 4)
        {
            var target = new byte[size];
            long n;
            fixed (byte* t = target, empty = "\0"u8)
                n = L.readlinkat(linkFd, empty, t, (Tmds.Linux.size_t)size);
            Check(n, "readlinkat", path);
            if (n < size)
                return Encoding.UTF8.GetString(target, 0, (int)n);
            if (size >= 64 * 1024)
                throw new NativeException(ENAMETOOLONG, "readlinkat", path);
        }
    }

    const int ENAMETOOLONG = 36;

    [DllImport("libc", SetLastError = true)] static extern nint flistxattr(int fd, byte* list, nint size);
    [DllImport("libc", SetLastError = true)] static extern nint fgetxattr(int fd, byte* name, byte* value, nint size);
    [DllImport("libc", SetLastError = true)] static extern nint listxattr(byte* path, byte* list, nint size);
    [DllImport("libc", SetLastError = true)] static extern nint getxattr(byte* path, byte* name, byte* value, nint size);

    /// <summary>The names of the extended attributes of the file fd holds. An O_PATH
    /// descriptor (pathOnly) takes the path /proc/self/fd/N, followed: it leads to the inode
    /// held, a symbolic link's own included (flistxattr refuses O_PATH descriptors).</summary>
    public static string[] ListXattrs(int fd, bool pathOnly, string path)
    {
        Span<byte> pbuf = stackalloc byte[64];
        var proc = Utf8Z(pathOnly ? ProcFd(fd) : "", pbuf);
        fixed (byte* p = proc)
        {
            while (true)
            {
                long size = pathOnly ? listxattr(p, null, 0) : flistxattr(fd, null, 0);
                if (size == 0)
                    return [];
                if (size < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EOPNOTSUPP)
                        return [];
                    throw new NativeException(errno, "listxattr", path);
                }
                var list = new byte[size];
                fixed (byte* l = list)
                {
                    long n = pathOnly ? listxattr(p, l, list.Length) : flistxattr(fd, l, list.Length);
                    if (n < 0 && Marshal.GetLastPInvokeError() == ERANGE)
                        continue; // grew meanwhile
                    if (n < 0)
                        throw new NativeException(Marshal.GetLastPInvokeError(), "listxattr", path);
                    return Encoding.UTF8.GetString(list, 0, (int)n).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                }
            }
        }
    }

    /// <summary>The value of the extended attribute name of the file fd holds (see
    /// <see cref="ListXattrs"/>), or null if it has none by that name.</summary>
    public static byte[]? GetXattr(int fd, bool pathOnly, string name, string path)
    {
        Span<byte> pbuf = stackalloc byte[64], nbuf = stackalloc byte[512];
        var proc = Utf8Z(pathOnly ? ProcFd(fd) : "", pbuf);
        fixed (byte* p = proc, n = Utf8Z(name, nbuf))
        {
            while (true)
            {
                long size = pathOnly ? getxattr(p, n, null, 0) : fgetxattr(fd, n, null, 0);
                if (size < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == ENODATA)
                        return null;
                    throw new NativeException(errno, $"getxattr {name}", path);
                }
                var value = new byte[size];
                fixed (byte* v = value)
                {
                    long got = pathOnly ? getxattr(p, n, v, value.Length) : fgetxattr(fd, n, v, value.Length);
                    if (got < 0 && Marshal.GetLastPInvokeError() == ERANGE)
                        continue; // grew meanwhile
                    if (got < 0)
                        throw new NativeException(Marshal.GetLastPInvokeError(), $"getxattr {name}", path);
                    return value.AsSpan(0, (int)got).ToArray();
                }
            }
        }
    }

    /// <summary>Opens path inside the directory rootFd as an O_PATH descriptor, resolved as if
    /// rootFd were "/" (openat2 RESOLVE_IN_ROOT): no "..", absolute or relative symbolic link
    /// leads out of it. Where openat2 is missing (before Linux 5.6, or a seccomp filter that
    /// refuses it), a walk one component at a time that follows no symbolic link at all.
    /// 0 or the errno.</summary>
    public static int TryOpenPathInRoot(int rootFd, string path, out int fd)
    {
        int err = TryOpenInRoot(rootFd, path, L.O_PATH, out fd);
        if (err != ENOSYS && err != Errno.EPERM)
            return err;
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        int dir = rootFd;
        fd = -1;
        try
        {
            for (int i = 0; i < parts.Length; i++)
            {
                bool last = i == parts.Length - 1;
                err = TryOpenAt(dir, parts[i], L.O_PATH | L.O_NOFOLLOW | (last ? 0 : L.O_DIRECTORY), 0, out int next);
                if (err != 0)
                    return err;
                if (dir != rootFd)
                    L.close(dir);
                dir = next;
            }
            (fd, dir) = (dir, rootFd);
            return 0;
        }
        finally
        {
            if (dir != rootFd)
                L.close(dir);
        }
    }

    [DllImport("libc", SetLastError = true)] static extern int renameat(int olddirfd, byte* oldpath, int newdirfd, byte* newpath);

    /// <summary>Renames fromName to toName, both in dirFd; toName is replaced (if a symbolic
    /// link, the link itself, never what it points to).</summary>
    public static void RenameAt(int dirFd, string fromName, string toName, string path)
    {
        Span<byte> fbuf = stackalloc byte[1024], tbuf = stackalloc byte[1024];
        fixed (byte* f = Utf8Z(fromName, fbuf), t = Utf8Z(toName, tbuf))
            if (renameat(dirFd, f, dirFd, t) < 0)
                throw new NativeException(Marshal.GetLastPInvokeError(), "renameat", path);
    }

    /// <summary>An unnamed file in the directory dirFd (O_TMPFILE), for writing: no one can
    /// open it, nor make something in its place, before <see cref="LinkTemporaryFile"/> names
    /// it. 0 or the errno (EOPNOTSUPP or EISDIR where the file system cannot).</summary>
    public static int TryOpenTemporaryFile(int dirFd, uint mode, out int fd)
    {
        fixed (byte* p = ".\0"u8)
            fd = L.openat(dirFd, p, L.O_TMPFILE | L.O_WRONLY | L.O_CLOEXEC, (Tmds.Linux.mode_t)mode);
        return fd >= 0 ? 0 : L.errno;
    }

    /// <summary>Gives the unnamed file fd a name in dirFd; EEXIST if the name is taken. 0 or the errno.</summary>
    public static int TryLinkTemporaryFile(int fd, int dirFd, string name)
    {
        Span<byte> pbuf = stackalloc byte[64], nbuf = stackalloc byte[1024];
        fixed (byte* p = Utf8Z(ProcFd(fd), pbuf), n = Utf8Z(name, nbuf))
            return L.linkat(L.AT_FDCWD, p, dirFd, n, L.AT_SYMLINK_FOLLOW) == 0 ? 0 : L.errno;
    }

    public static bool IsTemporaryFileUnsupported(int errno) => errno is EOPNOTSUPP or EISDIR or Errno.EINVAL;

    /// <summary>A new file name in dirFd, made by this call (O_EXCL: never one that was there,
    /// nor a symbolic link's target). 0 or the errno (EEXIST if the name is taken).</summary>
    public static int TryCreateExclusiveAt(int dirFd, string name, uint mode, out int fd) =>
        TryOpenAt(dirFd, name, L.O_WRONLY | L.O_CREAT | L.O_EXCL | L.O_NOFOLLOW, (int)mode, out fd);

    public static bool IsLoop(int errno) => errno == ELOOP;
}
