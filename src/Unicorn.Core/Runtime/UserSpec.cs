namespace Unicorn;

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
        var passwd = Read(rootfs, "etc/passwd");
        var groups = Read(rootfs, "etc/group");
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

    // Read through the rootfs without following a symlink out of it: these two files only.
    static List<string[]> Read(string rootfs, string file)
    {
        var path = Path.Combine(rootfs, file);
        var info = new FileInfo(path);
        if (!info.Exists || info.LinkTarget is not null)
            return [];
        return File.ReadLines(path).Where(l => !l.StartsWith('#')).Select(l => l.Split(':')).ToList();
    }
}
