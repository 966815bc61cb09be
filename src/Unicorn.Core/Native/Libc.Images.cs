using L = Tmds.Linux.LibC;

namespace Unicorn.Native;

// Reading an image's files (an OCI layout directory) where the image's author chose every name:
// by descriptor, below the layout's own, never through a symbolic link.
public static unsafe partial class Libc
{
    /// <summary>Opens the file at path (relative, "/"-separated) below dirFd as O_PATH, one
    /// component at a time, following no symbolic link on the way or at the end (a final one
    /// is itself opened): 0 or the errno. Nothing is opened for reading, so no fifo blocks and
    /// no device's driver is called: fstat the descriptor, then reopen it through
    /// /proc/self/fd if it is what was wanted. A "..", "." or empty component is EXDEV, as
    /// openat2 RESOLVE_BENEATH would have it.</summary>
    public static int TryOpenBeneath(int dirFd, string path, out int fd)
    {
        const int EXDEV = 18; // not in Errno; fixed on every architecture
        var parts = path.Split('/');
        fd = -1;
        if (parts.Any(p => p is "" or "." or ".."))
            return EXDEV;
        int dir = dirFd;
        try
        {
            for (int i = 0; i < parts.Length - 1; i++)
            {
                int err = TryOpenAt(dir, parts[i], L.O_PATH | L.O_DIRECTORY | L.O_NOFOLLOW, 0, out int next);
                if (dir != dirFd)
                    Close(dir);
                dir = next;
                if (err != 0)
                    return err;
            }
            return TryOpenAt(dir, parts[^1], L.O_PATH | L.O_NOFOLLOW, 0, out fd);
        }
        finally
        {
            if (dir != dirFd && dir >= 0)
                Close(dir);
        }
    }
}
