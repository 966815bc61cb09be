using System.Management.Automation;
using Unicorn.Cgroups;

namespace Unicorn.Commands;

/// <summary>The resource limits Start-UnicornContainer and Set-UnicornCgroup take. Sizes are
/// bytes, so PowerShell's suffixes work: -Memory 256MB.</summary>
public abstract class LimitsCmdlet : UnicornCmdlet
{
    /// <summary>Memory limit in bytes.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long? Memory { get; set; }

    /// <summary>Memory plus swap in bytes; -1 for unlimited swap.</summary>
    [Parameter]
    [ValidateRange(-1, long.MaxValue)]
    public long? MemorySwap { get; set; }

    /// <summary>CPU time as a number of cpus.</summary>
    [Parameter]
    public double? Cpus { get; set; }

    /// <summary>Relative CPU weight on cgroup v1's scale.</summary>
    [Parameter]
    public long? CpuShares { get; set; }

    /// <summary>Relative CPU weight on cgroup v2's scale.</summary>
    [Parameter]
    public long? CpuWeight { get; set; }

    /// <summary>The cpus the container may run on.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CpusetCpus { get; set; }

    /// <summary>Most processes at once.</summary>
    [Parameter]
    public long? PidsLimit { get; set; }

    /// <summary>Relative I/O weight on cgroup v2's scale.</summary>
    [Parameter]
    [Alias("BlkioWeight")]
    public long? IoWeight { get; set; }

    protected CgroupLimits Limits => new()
    {
        Memory = Memory, MemorySwap = MemorySwap, Cpus = Cpus, CpuShares = CpuShares, CpuWeight = CpuWeight,
        CpusetCpus = CpusetCpus, PidsLimit = PidsLimit, IoWeight = IoWeight,
    };
}
