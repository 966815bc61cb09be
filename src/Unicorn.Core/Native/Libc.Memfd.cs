using L = Tmds.Linux.LibC;

namespace Unicorn.Native;

public static unsafe partial class Libc
{
    const uint MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2, MFD_EXEC = 0x10;
    const int F_ADD_SEALS = 1033, F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4, F_SEAL_WRITE = 8;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)] static extern nint sendfile(int outFd, int inFd, long* offset, nint count);

    /// <summary>A sealed in-memory copy of the file at path: an fd whose content no one can change
    /// any more (the kernel refuses every write, even root's), close-on-exec.</summary>
    public static int SealedCopy(string path, string name)
    {
        fixed (byte* n = System.Text.Encoding.UTF8.GetBytes(name + "\0"))
        {
            // MFD_EXEC: executable even where vm.memfd_noexec makes memfds noexec by default; older
            // kernels do not know the flag (EINVAL) and make every memfd executable.
            int fd = L.memfd_create(n, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
            if (fd < 0 && L.errno == L.EINVAL)
                fd = L.memfd_create(n, MFD_CLOEXEC | MFD_ALLOW_SEALING);
            Check(fd, "memfd_create", path);
            try
            {
                // The kernel copies (sendfile): the launcher's megabyte does not pass through our memory.
                using (var source = File.OpenHandle(path))
                {
                    long size = RandomAccess.GetLength(source), done = 0;
                    while (done < size)
                    {
                        nint copied = sendfile(fd, (int)source.DangerousGetHandle(), null, (nint)(size - done));
                        if (copied < 0 && L.errno == L.EINTR)
                            continue;
                        Check(copied, "sendfile", path);
                        if (copied == 0)
                            throw new IOException($"'{path}' ended before its {size} bytes were copied.");
                        done += copied;
                    }
                }
                Check(L.fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE), "fcntl F_ADD_SEALS", path);
                return fd;
            }
            catch
            {
                L.close(fd);
                throw;
            }
        }
    }

    const int SYS_fsopen = 430, SYS_fsconfig = 431, SYS_fsmount = 432;
    const int FSOPEN_CLOEXEC = 1, FSCONFIG_SET_STRING = 1, FSCONFIG_CMD_CREATE = 6, FSMOUNT_CLOEXEC = 1;
    const int MOUNT_ATTR_RDONLY = 1, MOUNT_ATTR_NOSUID = 2, MOUNT_ATTR_NODEV = 4;

    /// <summary>The file at path seen through a read-only overlayfs mounted nowhere (runc's
    /// "overlayfs" seal): an fd whose file no one can write through, made without copying it.
    /// An overlay without an upper layer takes two lower ones: the file's directory on top, and
    /// spare, any directory neither inside nor above it. Null where the kernel cannot make
    /// one (no overlayfs or fsopen, overlapping layers): then the caller copies.</summary>
    public static int? SealedView(string path, string spare)
    {
        var dir = Path.GetDirectoryName(path)!;
        // Overlay's lowerdir list: ':' separates layers and '\' escapes.
        static string Layer(string d) => d.Replace("\\", "\\\\").Replace(":", "\\:");
        int context = -1, mount = -1;
        try
        {
            fixed (byte* type = "overlay\0"u8, key = "lowerdir\0"u8)
            fixed (byte* layers = System.Text.Encoding.UTF8.GetBytes($"{Layer(dir)}:{Layer(spare)}\0"))
            {
                context = (int)(long)L.syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
                if (context < 0 || (long)L.syscall(SYS_fsconfig, context, FSCONFIG_SET_STRING, key, layers, 0) < 0)
                    return null;
                // xino off where it can be: with the layers on two filesystems the kernel would log
                // about inode numbers that nothing here looks at.
                fixed (byte* xino = "xino\0"u8, off = "off\0"u8)
                    L.syscall(SYS_fsconfig, context, FSCONFIG_SET_STRING, xino, off, 0);
                if ((long)L.syscall(SYS_fsconfig, context, FSCONFIG_CMD_CREATE, 0, 0, 0) < 0
                    || (mount = (int)(long)L.syscall(SYS_fsmount, context, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)) < 0)
                    return null;
            }
            int fd = WithPath(Path.GetFileName(path), p => L.openat(mount, (byte*)p, L.O_RDONLY | L.O_NOFOLLOW | L.O_CLOEXEC));
            return fd < 0 ? null : fd;
        }
        finally
        {
            // The open file holds its mount, which is attached nowhere: nothing to unmount.
            if (mount >= 0)
                L.close(mount);
            if (context >= 0)
                L.close(context);
        }
    }
}
