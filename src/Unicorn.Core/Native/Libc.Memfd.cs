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
}
