using System.Collections.Concurrent;
using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsLifecycle.Stop, "UnicornContainer", SupportsShouldProcess = true, DefaultParameterSetName = "Id")]
[OutputType(typeof(Container))]
public sealed class StopUnicornContainerCommand : ContainerCmdlet
{
    readonly List<Container> _targets = [];
    readonly CancellationTokenSource _stop = new();

    /// <summary>Seconds to wait after the signal before SIGKILL.</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public int Timeout { get; set; } = 10;

    /// <summary>The first signal: a name (TERM, SIGINT) or a number.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(SignalCompleter))]
    [ValidateNotNullOrEmpty]
    public string Signal { get; set; } = "TERM";

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    int _signal;

    protected override void BeginProcessing()
    {
        try { _signal = Signals.Parse(Signal); }
        catch (UnicornException e) { ThrowTerminatingError(ToErrorRecord(e)); }
    }

    protected override void ProcessRecord()
    {
        foreach (var c in Targets())
            if (ShouldProcess($"{c.Name} ({c.ShortId})", $"Stop the container ({Signals.Name(_signal)}, then SIGKILL after {Timeout} s)"))
                _targets.Add(c);
    }

    // All at once: a fleet stops in one timeout, not one timeout per container.
    protected override void EndProcessing()
    {
        var done = new BlockingCollection<(Container? Stopped, Exception? Error)>();
        foreach (var c in _targets)
            Task.Run(() =>
            {
                try { done.Add((Engine.Stop(c.Id, _signal, TimeSpan.FromSeconds(Timeout), _stop.Token), null)); }
                catch (Exception e) { done.Add((null, e)); } // every task reports, or the loop below would hang
            });

        var progress = new ProgressRecord(1, "Stopping containers", "Waiting for them to exit");
        for (int i = 0; i < _targets.Count; i++)
        {
            var (stopped, error) = done.Take();
            if (error is not null)
                WriteError(error is UnicornException u ? ToErrorRecord(u) : new ErrorRecord(error, "ContainerStopFailed", ErrorCategory.NotSpecified, null));
            else
            {
                Verbose($"{stopped!.Name} is {stopped.State}{(stopped.ExitCode is int code ? $" ({code})" : "")}.");
                if (PassThru)
                    WriteObject(stopped);
            }
            if (_targets.Count > 1)
            {
                progress.PercentComplete = 100 * (i + 1) / _targets.Count;
                progress.StatusDescription = $"{i + 1} of {_targets.Count} stopped";
                WriteProgress(progress);
            }
        }
        if (_targets.Count > 1)
        {
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
        }
    }

    protected override void StopProcessing() => _stop.Cancel();
}
