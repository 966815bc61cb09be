namespace Unicorn.Cgroups;

/// <summary>Resource limits, in the units users give (bytes, cpus, weights); null is "leave
/// as it is". Which files they become depends on the cgroup version (<see cref="CgroupManager"/>).</summary>
public sealed record CgroupLimits
{
    /// <summary>Memory limit in bytes.</summary>
    public long? Memory { get; init; }
    /// <summary>Memory plus swap in bytes (Docker's --memory-swap); -1 for unlimited swap.</summary>
    public long? MemorySwap { get; init; }
    /// <summary>CPU time as a number of cpus (0.5: half of one).</summary>
    public double? Cpus { get; init; }
    /// <summary>Relative CPU weight, cgroup v1's scale (2-262144, default 1024).</summary>
    public long? CpuShares { get; init; }
    /// <summary>Relative CPU weight, cgroup v2's scale (1-10000, default 100).</summary>
    public long? CpuWeight { get; init; }
    /// <summary>The cpus it may run on: "0-1", "0,2".</summary>
    public string? CpusetCpus { get; init; }
    /// <summary>Most processes (and threads) at once.</summary>
    public long? PidsLimit { get; init; }
    /// <summary>Relative I/O weight, cgroup v2's scale (1-10000); v1's blkio.weight (10-1000) is scaled.</summary>
    public long? IoWeight { get; init; }

    public bool IsEmpty => this == new CgroupLimits();

    /// <summary>The memory the kernel needs at least to start a process in a cgroup.</summary>
    public const long MinimumMemory = 6 * 1024 * 1024;

    static UnicornException Invalid(string limit, string reason, object? value) =>
        new("InvalidCgroupLimit", ErrorKind.InvalidArgument, $"The limit {limit} {reason}", value);

    /// <summary>Checks the values on their own (the host's cpus and controllers are checked when
    /// they are applied). Throws naming the limit and the reason.</summary>
    public void Validate()
    {
        if (Memory is < MinimumMemory)
            throw Invalid("-Memory", $"must be at least {MinimumMemory / 1024 / 1024} MB: below that no process can start.", Memory);
        if (MemorySwap is { } swap && swap != -1 && (Memory is not { } m || swap < m))
            throw Invalid("-MemorySwap", "counts memory plus swap: it needs -Memory and must be at least as large (or -1 for unlimited swap).", swap);
        if (Cpus is { } cpus && (cpus < 0.01 || cpus > Environment.ProcessorCount))
            throw Invalid("-Cpus", $"must be from 0.01 to this host's {Environment.ProcessorCount} cpus.", cpus);
        if (CpuShares is < 2 or > 262144)
            throw Invalid("-CpuShares", "must be from 2 to 262144 (1024 is the default).", CpuShares);
        if (CpuWeight is < 1 or > 10000)
            throw Invalid("-CpuWeight", "must be from 1 to 10000 (100 is the default).", CpuWeight);
        if (CpuShares is not null && CpuWeight is not null)
            throw Invalid("-CpuShares", "and -CpuWeight say the same thing on two scales: give one.", CpuShares);
        if (PidsLimit is < 1)
            throw Invalid("-PidsLimit", "must be at least 1.", PidsLimit);
        if (IoWeight is < 1 or > 10000)
            throw Invalid("-IoWeight", "must be from 1 to 10000 (100 is the default).", IoWeight);
        if (CpusetCpus is { } set && ParseCpuList(set) is null)
            throw Invalid("-CpusetCpus", $"'{set}' is not a cpu list such as 0-1 or 0,2.", set);
    }

    const int MaxCpus = 8192; // the kernel's own largest NR_CPUS

    /// <summary>The cpus in a list such as "0-2,5", or null if it is not one.</summary>
    public static SortedSet<int>? ParseCpuList(string list)
    {
        var cpus = new SortedSet<int>();
        foreach (var part in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var ends = part.Split('-');
            if (ends.Length > 2 || !int.TryParse(ends[0], out int a) || !int.TryParse(ends[^1], out int b) || a < 0 || b < a || b >= MaxCpus)
                return null;
            for (int i = a; i <= b; i++)
                cpus.Add(i);
        }
        return cpus.Count == 0 ? null : cpus;
    }

    // runc's conversions between the two scales, so either may be given on either version.
    public static long SharesToWeight(long shares) => 1 + (shares - 2) * 9999 / 262142;
    public static long WeightToShares(long weight) => 2 + (weight - 1) * 262142 / 9999;
}
