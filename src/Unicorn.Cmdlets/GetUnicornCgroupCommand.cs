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
        var screen = Watch && OutputIsTerminal() ? new Redrawn(this) : null;
        do
        {
            if (previous.Count == 0 || _stop.Token.WaitHandle.WaitOne(SampleInterval))
                return;
            var sample = new List<CgroupStats>();
            foreach (var c in _targets.Where(c => previous.ContainsKey(c.Id)))
                ForItem(() =>
                {
                    var now = previous[c.Id] = Engine.GetCgroup(c.Id, previous[c.Id]);
                    if (screen is null)
                        WriteObject(now);
                    else
                        sample.Add(now);
                });
            screen?.Draw(sample);
        } while (Watch);
    }

    /// <summary>Output that a person reads on the console: this command ends its pipeline, in
    /// the console host, whose output is not redirected. Piped or redirected, -Watch writes
    /// objects instead, one set per interval.</summary>
    bool OutputIsTerminal() =>
        MyInvocation.PipelinePosition == MyInvocation.PipelineLength && Host.Name == "ConsoleHost"
        && Host.UI.SupportsVirtualTerminal && !Console.IsOutputRedirected;

    /// <summary>The table, drawn again in place at each interval (as docker stats does): the
    /// cursor goes back up over the last drawing, which is erased.</summary>
    sealed class Redrawn(PSCmdlet cmdlet)
    {
        static readonly ScriptBlock Table = ScriptBlock.Create("param($width) $input | Format-Table | Out-String -Width $width");
        int _lines;

        public void Draw(List<CgroupStats> sample)
        {
            int width = 120;
            try { width = cmdlet.Host.UI.RawUI.WindowSize.Width; }
            catch (Exception e) when (e is NotImplementedException or System.Management.Automation.Host.HostException or IOException) { }
            var text = string.Concat(cmdlet.InvokeCommand.InvokeScript(false, Table, sample, width)).Trim('\r', '\n') + "\n";
            var up = _lines > 0 ? $"\e[{_lines}F\e[J" : "";
            cmdlet.Host.UI.Write(up + text);
            _lines = text.Count(ch => ch == '\n');
        }
    }

    protected override void StopProcessing() => _stop.Cancel();
}
