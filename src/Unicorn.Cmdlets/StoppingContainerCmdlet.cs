using System.Management.Automation;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>A cmdlet that stops containers (Stop-, Restart-UnicornContainer): all at once, every
/// init signalled, then one wait for all on this thread (pidfds in one poll), so a fleet stops in
/// one timeout, not one timeout (or one thread) per container.</summary>
public abstract class StoppingContainerCmdlet : ContainerCmdlet
{
    protected readonly List<Container> Targeted = [];
    protected readonly CancellationTokenSource Cancel = new();

    /// <summary>Seconds to wait after the signal before SIGKILL.</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public int Timeout { get; set; } = 10;

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Stops every container in Targeted with signal (SIGKILL after Timeout), with
    /// progress; stopped gets each that ended, as it ends; errors and warnings are written.</summary>
    protected void StopAll(int signal, Action<Container> stopped)
    {
        var progress = new ContainerWaitProgress(this, "Stopping containers", $"stopped ({Signals.Name(signal)}, then SIGKILL after {Timeout} s)", Targeted.Count);
        Engine.Stop(Targeted.Select(c => c.Id).ToList(), signal, TimeSpan.FromSeconds(Timeout), Cancel.Token, outcome =>
        {
            if (outcome.Error is { } error)
                WriteError(error is UnicornException u ? ToErrorRecord(u) : new ErrorRecord(error, "ContainerStopFailed", ErrorCategory.NotSpecified, outcome.Id));
            else
            {
                if (outcome.Warning is { } warning)
                    WriteWarning(warning);
                stopped(outcome.Container!);
            }
            progress.Step();
        });
        progress.Complete();
    }

    protected override void StopProcessing() => Cancel.Cancel();
}
