namespace Unicorn.Native;

/// <summary>A failed system call: which call, on what path, and the errno's text.</summary>
public sealed class NativeException : UnicornException
{
    public NativeException(int errno, string call, string? path)
        : base(IdFor(errno), KindFor(errno), $"{call}{(path is null ? "" : $" {path}")} failed: {Libc.StrError(errno)}", path)
    {
        ErrorNumber = errno;
        Call = call;
    }

    public int ErrorNumber { get; }
    public string Call { get; }

    static string IdFor(int errno) => errno switch
    {
        Errno.EPERM or Errno.EACCES => "PermissionDenied",
        Errno.EBUSY => "ResourceBusy",
        Errno.ENOENT => "PathNotFound",
        _ => "SystemCallFailed",
    };

    static ErrorKind KindFor(int errno) => errno switch
    {
        Errno.EPERM or Errno.EACCES => ErrorKind.PermissionDenied,
        Errno.EBUSY => ErrorKind.ResourceBusy,
        Errno.ENOENT => ErrorKind.ObjectNotFound,
        _ => ErrorKind.NotSpecified,
    };
}
