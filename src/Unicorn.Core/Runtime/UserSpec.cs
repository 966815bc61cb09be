using System.Text;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Runtime;

/// <summary>The user a container's processes run as: uid, gid and supplementary groups,
/// resolved from "user[:group]" (names or numbers) against the container's own /etc/passwd
/// and /etc/group, as Docker and runc resolve them.</summary>
public sealed record UserSpec(uint Uid, uint Gid, uint[] Groups)
{
    /// <summary>The launcher's "user" value: uid:gid:groups (comma-separated).</summary>
    public string SpecValue => $"{Uid}:{Gid}:{string.Join(',', Groups)}";

    public static UserSpec Resolve(string user, string rootfs, IEnumerable<string>? groupAdd = null)
    {
        var parts = user.Split(':', 2);
        List<string[]> passwd, groups;
        int root = Libc.Open(rootfs, L.O_PATH | L.O_DIRECTORY);
        try
        {
            passwd = Read(root, "etc/passwd");
            groups = Read(root, "etc/group");
        }
        finally
        {
            Libc.Close(root);
        }
        // passwd: name:x:uid:gid:gecos:home:shell
        var entry = passwd.FirstOrDefault(f => f.Length >= 4 && (f[0] == parts[0] || f[2] == parts[0]));
        uint uid, gid;
        if (entry is not null && uint.TryParse(entry[2], out uid) && uint.TryParse(entry[3], out gid)) { }
        else if (uint.TryParse(parts[0], out uid))
            gid = 0; // a uid the image does not know: group 0, as Docker does
        else
            throw new UnicornException("UserNotFound", ErrorKind.ObjectNotFound,
                $"The user '{parts[0]}' is not in the container's /etc/passwd. Give a uid (such as 1000), or a user the image has.", user);
        if (parts.Length == 2)
        {
            // group: name:x:gid:members
            var g = groups.FirstOrDefault(f => f.Length >= 3 && (f[0] == parts[1] || f[2] == parts[1]));
            if (g is not null && uint.TryParse(g[2], out var named))
                gid = named;
            else if (!uint.TryParse(parts[1], out gid))
                throw new UnicornException("GroupNotFound", ErrorKind.ObjectNotFound,
                    $"The group '{parts[1]}' is not in the container's /etc/group. Give a gid, or a group the image has.", user);
        }
        var name = entry?[0];
        var extra = name is null ? [] : groups
            .Where(f => f.Length >= 4 && f[3].Split(',').Contains(name) && uint.TryParse(f[2], out _))
            .Select(f => uint.Parse(f[2])).Where(x => x != gid).Distinct().ToArray();
        // Groups asked for besides (Docker's --group-add): names from /etc/group, or numbers.
        var added = (groupAdd ?? []).Select(a => groups.FirstOrDefault(f => f.Length >= 3 && f[0] == a) is { } named && uint.TryParse(named[2], out var n) ? n
            : uint.TryParse(a, out var number) ? number
            : throw new UnicornException("GroupNotFound", ErrorKind.ObjectNotFound,
                $"The group '{a}' is not in the container's /etc/group. Give a gid, or a group the image has.", a));
        return new UserSpec(uid, gid, extra.Concat(added).Where(x => x != gid).Distinct().ToArray());
    }

    /// <summary>The most of /etc/passwd or /etc/group read; a larger one is refused.</summary>
    public const int MaxDatabaseSize = 4 << 20;

    /// <summary>The lines of file (etc/passwd or etc/group) of the rootfs open at root, split at
    /// ':'; none if the rootfs has no such file. The rootfs is the container's, which may be
    /// running and may have made the file anything at all: it is opened inside the rootfs
    /// (symbolic links and ".." resolved as if the rootfs were "/", as Docker resolves them),
    /// as an O_PATH descriptor, and read only if fstat of that says it is a regular file (a
    /// FIFO would block the read, a device's driver would act on the open), and only so much.</summary>
    static List<string[]> Read(int root, string file)
    {
        string shown = "/" + file;
        int err = Libc.TryOpenPathInRoot(root, file, out int pathFd);
        if (err == Errno.ENOENT || err == Errno.ENOTDIR)
            return [];
        if (err != 0)
            throw Unusable(shown, $"cannot be opened ({Libc.StrError(err)})");
        try
        {
            var st = Libc.Fstat(pathFd, shown);
            if (st.Type != (uint)L.S_IFREG)
                throw Unusable(shown, $"is {Describe(st.Type)}, not a regular file");
            if (st.Size > MaxDatabaseSize)
                throw TooLarge(shown, st.Size);
            int fd = Libc.Reopen(pathFd, L.O_RDONLY | L.O_NONBLOCK, shown);
            using var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, bufferSize: 0);
            var content = new byte[Math.Min(st.Size, MaxDatabaseSize) + 1];
            int length = 0, n;
            while (length < content.Length && (n = stream.Read(content, length, content.Length - length)) > 0)
                length += n;
            if (length > MaxDatabaseSize)
                throw TooLarge(shown, length); // grew since the fstat
            return Encoding.UTF8.GetString(content, 0, length).Split('\n')
                .Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split(':')).ToList();
        }
        finally
        {
            Libc.Close(pathFd);
        }
    }

    static string Describe(uint type) =>
        type == (uint)L.S_IFIFO ? "a FIFO"
        : type == (uint)L.S_IFCHR ? "a character device"
        : type == (uint)L.S_IFBLK ? "a block device"
        : type == (uint)L.S_IFSOCK ? "a socket"
        : type == (uint)L.S_IFDIR ? "a directory"
        : type == (uint)L.S_IFLNK ? "a symbolic link (this kernel has no openat2 to follow it inside the rootfs)"
        : "not a file";

    static UnicornException Unusable(string file, string what) => new("UserDatabaseUnusable", ErrorKind.InvalidOperation,
        $"The container's {file} {what}: users and groups are read only from a regular file inside the rootfs. Make {file} a regular file in the container (or remove it and give -User as numbers, uid[:gid]).", file);

    static UnicornException TooLarge(string file, long size) => new("UserDatabaseTooLarge", ErrorKind.LimitsExceeded,
        $"The container's {file} is {size} bytes; at most {MaxDatabaseSize >> 20} MiB of it is read. Make it smaller in the container (or remove it and give -User as numbers, uid[:gid]).", file);
}
