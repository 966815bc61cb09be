using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Get, "UnicornCgroup", DefaultParameterSetName = "Id")]
[OutputType(typeof(CgroupStats))]
public sealed class GetUnicornCgroupCommand : ContainerCmdlet
{
    readonly List<(Container Container, CgroupStats First)> _read = [];

    /// <summary>Milliseconds between the two readings CpuPercent is worked out from.</summary>
    [Parameter]
    [ValidateRange(10, 60_000)]
    public int SampleInterval { get; set; } = 250;

    protected override void ProcessRecord()
    {
        foreach (var c in Targets())
            ForItem(() => _read.Add((c, Engine.GetCgroup(c.Id))));
    }

    // One interval for all: a fleet is sampled in a quarter second, not a quarter second each.
    protected override void EndProcessing()
    {
        if (_read.Count == 0)
            return;
        Thread.Sleep(SampleInterval);
        foreach (var (c, first) in _read)
            ForItem(() =>
            {
                var second = Engine.GetCgroup(c.Id);
                if (first.CpuUsage is long a && second.CpuUsage is long b)
                    second.CpuPercent = Math.Round(100.0 * (b - a) / ((second.Time - first.Time).Ticks * 100.0), 1);
                WriteObject(second);
            });
    }
}
