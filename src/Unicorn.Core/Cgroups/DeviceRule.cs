namespace Unicorn.Cgroups;

/// <summary>A rule of the v1 devices controller: allow or deny a type of device ('a' all, 'c',
/// 'b'), a major and minor number (null: any), and the access (r, w, m: mknod).</summary>
public sealed record DeviceRule(bool Allow, char Type, long? Major, long? Minor, string Access)
{
    /// <summary>What the kernel reads from devices.allow or devices.deny ("a" alone means every device).</summary>
    public string Line => Type == 'a' ? "a" : $"{Type} {Number(Major)}:{Number(Minor)} {Access}";

    static string Number(long? n) => n is { } v and >= 0 ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "*";

    public static readonly DeviceRule DenyAll = new(false, 'a', null, null, "rwm");
    public static readonly DeviceRule AllowAll = new(true, 'a', null, null, "rwm");

    /// <summary>Docker's (and runc's) default device rules: any device may be made (mknod), only
    /// null, zero, full, random, urandom, tty, console, ptmx, the ptys and tun opened.</summary>
    public static readonly IReadOnlyList<DeviceRule> Defaults =
    [
        new(true, 'c', null, null, "m"), new(true, 'b', null, null, "m"),
        new(true, 'c', 1, 3, "rwm"), new(true, 'c', 1, 5, "rwm"), new(true, 'c', 1, 7, "rwm"), new(true, 'c', 1, 8, "rwm"),
        new(true, 'c', 1, 9, "rwm"), new(true, 'c', 5, 0, "rwm"), new(true, 'c', 5, 1, "rwm"), new(true, 'c', 5, 2, "rwm"),
        new(true, 'c', 136, null, "rwm"), new(true, 'c', 10, 200, "rwm"),
    ];

    /// <summary>Do the rules, in order, leave every device allowed (a privileged container)?</summary>
    public static bool AllowsAll(IEnumerable<DeviceRule> rules)
    {
        bool all = false;
        foreach (var r in rules)
            if (r.Type == 'a')
                all = r.Allow;
            else if (!r.Allow)
                all = false;
        return all;
    }
}
