namespace Unicorn;

/// <summary>A container's cgroup as Get-UnicornCgroup shows it: limits and usage, read from
/// the cgroup files. Bytes, nanoseconds, counts; null where the host cannot say.</summary>
public sealed class CgroupStats
{
    public required string ContainerId { get; init; }
    public required string Name { get; init; }
    public required string Path { get; init; }
    public required string Version { get; init; }
    public long? MemoryUsage { get; init; }
    public long? MemoryPeak { get; init; }
    public long? MemoryLimit { get; init; }
    public long? OomKills { get; init; }
    public long? CpuUsage { get; init; }
    public long? CpuUser { get; init; }
    public long? CpuSystem { get; init; }
    public long? CpuThrottled { get; init; }
    /// <summary>The quota in cpus (0.5: half of one); null when unlimited.</summary>
    public double? CpuLimit { get; init; }
    /// <summary>Percent of one cpu used over the sampling interval (Get-UnicornCgroup): set
    /// by the engine from two readings, see <see cref="CpuPercentBetween"/>.</summary>
    public double? CpuPercent { get; internal set; }
    public string? CpusetCpus { get; init; }
    public long? Pids { get; init; }
    public long? PidsLimit { get; init; }
    public long? IoReadBytes { get; init; }
    public long? IoWriteBytes { get; init; }
    public DateTime Time { get; init; }

    /// <summary>The cpu a cgroup used between two of its readings, in percent of one cpu (150:
    /// one and a half cpus), to a tenth; null when either reading lacks the usage or no time
    /// passed between them.</summary>
    public static double? CpuPercentBetween(CgroupStats before, CgroupStats after)
    {
        var elapsed = after.Time - before.Time;
        if (before.CpuUsage is not long a || after.CpuUsage is not long b || elapsed <= TimeSpan.Zero)
            return null;
        // CpuUsage is in nanoseconds; a tick is 100.
        return Math.Round(100.0 * (b - a) / (elapsed.Ticks * 100.0), 1);
    }
}
