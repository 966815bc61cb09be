using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Get, "UnicornCgroup", DefaultParameterSetName = "Id")]
[OutputType(typeof(CgroupStats))]
public sealed class GetUnicornCgroupCommand : ContainerCmdlet
{
    readonly List<Container> _targets = [];
    readonly CancellationTokenSource _stop = new();

    /// <summary>Milliseconds between the two readings CpuPercent is worked out from.</summary>
    [Parameter]
    [ValidateRange(10, 60_000)]
    public int SampleInterval { get; set; } = 250;

    /// <summary>Keep sampling, one set of objects per interval, until Ctrl+C (like docker stats).</summary>
    [Parameter]
    public SwitchParameter Watch { get; set; }

    protected override void ProcessRecord() => _targets.AddRange(Targets());

    // One interval for all: a fleet is sampled in a quarter second, not a quarter second each.
    protected override void EndProcessing()
    {
        var previous = new Dictionary<string, CgroupStats>();
        foreach (var c in _targets)
            ForItem(() => previous[c.Id] = Engine.GetCgroup(c.Id));
        do
        {
            if (previous.Count == 0 || _stop.Token.WaitHandle.WaitOne(SampleInterval))
                return;
            foreach (var c in _targets.Where(c => previous.ContainsKey(c.Id)))
                ForItem(() =>
                {
                    var now = Engine.GetCgroup(c.Id);
                    if (previous[c.Id].CpuUsage is long a && now.CpuUsage is long b)
                        now.CpuPercent = Math.Round(100.0 * (b - a) / ((now.Time - previous[c.Id].Time).Ticks * 100.0), 1);
                    previous[c.Id] = now;
                    WriteObject(now);
                });
        } while (Watch);
    }

    protected override void StopProcessing() => _stop.Cancel();
}
