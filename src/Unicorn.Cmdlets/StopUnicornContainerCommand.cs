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

    protected override void Begin()
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

    // All at once: every init signalled, then one wait for all on this thread (pidfds in one
    // poll), so a fleet stops in one timeout, not one timeout (or one thread) per container.
    protected override void EndProcessing()
    {
        var progress = new ContainerWaitProgress(this, "Stopping containers", $"stopped ({Signals.Name(_signal)}, then SIGKILL after {Timeout} s)", _targets.Count);
        Engine.Stop(_targets.Select(c => c.Id).ToList(), _signal, TimeSpan.FromSeconds(Timeout), _stop.Token, outcome =>
        {
            if (outcome.Error is { } error)
                WriteError(error is UnicornException u ? ToErrorRecord(u) : new ErrorRecord(error, "ContainerStopFailed", ErrorCategory.NotSpecified, outcome.Id));
            else
            {
                var stopped = outcome.Container!;
                if (outcome.Warning is { } warning)
                    WriteWarning(warning);
                Verbose($"{stopped.Name} is {stopped.State}{(stopped.ExitCode is int code ? $" ({code})" : "")}.");
                if (PassThru)
                    WriteObject(stopped);
            }
            progress.Step();
        });
        progress.Complete();
    }

    protected override void StopProcessing() => _stop.Cancel();
}
