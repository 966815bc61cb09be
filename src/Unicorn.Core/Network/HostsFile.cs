using System.Net;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Unicorn.Native;

namespace Unicorn.Network;

/// <summary>A container's /etc/hosts: a file in its state directory (out of the container's
/// reach: no path the container controls is ever resolved to write it), bound over the
/// rootfs's /etc/hosts at start. The engine owns the lines of the addresses of the bridges the
/// container is on; every other line (localhost, its hostname, what the container wrote
/// itself) is kept. The content is the container's to change, so it is read as hostile: a
/// bounded size, lines taken apart without trusting them.</summary>
public static class HostsFile
{
    /// <summary>The most that is read of a file the container may have filled.</summary>
    const int MaxSize = 1 << 20;

    /// <summary>What a container's /etc/hosts holds before any bridge.</summary>
    public static string Initial(string hostname) =>
        $"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n";

    /// <summary>One line per address: "address\tname name...".</summary>
    public static string Line(string address, IEnumerable<string> names) => $"{address}\t{string.Join(' ', names)}";

    /// <summary>Replaces the lines of addresses in subnets with lines (none: the bridge is
    /// gone from the container's view). The file is bound into the container, so it is
    /// rewritten in place (a rename would leave the container the old inode): one write of the
    /// whole new content, then a truncate to its length, so that a reader never finds it empty.
    /// A file that is gone (its container removed meanwhile) is no error.</summary>
    public static void Update(string path, IReadOnlyCollection<IPNetwork> subnets, IEnumerable<string> lines)
    {
        int fd;
        try { fd = Libc.Open(path, Tmds.Linux.LibC.O_RDWR | Tmds.Linux.LibC.O_NOFOLLOW | Tmds.Linux.LibC.O_CLOEXEC); }
        catch (NativeException e) when (e.ErrorNumber == Errno.ENOENT) { return; }
        using var file = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            // As large as the file is now (a few hundred bytes, usually), at most MaxSize.
            var buffer = new byte[Math.Min(RandomAccess.GetLength(file), MaxSize)];
            int length = 0, n;
            while (length < buffer.Length && (n = RandomAccess.Read(file, buffer.AsSpan(length), length)) > 0)
                length += n;
            var kept = Encoding.UTF8.GetString(buffer, 0, length).Split('\n').Where(l => !Managed(l, subnets)).ToList();
            while (kept.Count > 0 && kept[^1].Length == 0)
                kept.RemoveAt(kept.Count - 1);
            var content = Encoding.UTF8.GetBytes(string.Concat(kept.Concat(lines).Select(l => l + "\n")));
            RandomAccess.Write(file, content, 0);
            RandomAccess.SetLength(file, content.Length);
        }
        catch (IOException e)
        {
            throw Files.FileSystemError(path, e);
        }
    }

    /// <summary>Is the line one of an address in subnets (the engine's to write)?</summary>
    static bool Managed(string line, IReadOnlyCollection<IPNetwork> subnets)
    {
        var first = line.AsSpan().TrimStart();
        int end = first.IndexOfAny(' ', '\t');
        return IPAddress.TryParse(end < 0 ? first : first[..end], out var ip) && subnets.Any(s => s.Contains(ip));
    }
}
