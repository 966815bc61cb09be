using Unicorn.Native;

namespace Unicorn.Network;

/// <summary>An rtnetlink request the kernel refused.</summary>
public sealed class NetlinkException(int errno, string what, string? detail)
    : UnicornException(errno == Errno.EEXIST ? "NetworkObjectExists" : "NetlinkRequestFailed",
        errno == Errno.EEXIST ? ErrorKind.ResourceExists : errno == Errno.EPERM ? ErrorKind.PermissionDenied : ErrorKind.NotSpecified,
        $"{what} failed: {Libc.StrError(errno)}{(detail is { Length: > 0 } ? $" ({detail})" : "")}.", what)
{
    public int ErrorNumber { get; } = errno;
}
