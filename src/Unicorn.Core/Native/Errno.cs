namespace Unicorn.Native;

/// <summary>The errno values the engine decides on.</summary>
public static class Errno
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EACCES = 13, EBUSY = 16, EEXIST = 17,
        ENOTDIR = 20, EINVAL = 22, ENOEXEC = 8, ECHILD = 10, EAGAIN = 11, ENODEV = 19, ECANCELED = 125;
}
