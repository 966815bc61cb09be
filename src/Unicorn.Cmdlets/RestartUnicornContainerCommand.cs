using System.Management.Automation;

namespace Unicorn.Commands;

/// <summary>Stops containers that run (as Stop-UnicornContainer does) and starts them again (as
/// Start-UnicornContainer -Id does): Restart-Service for containers, docker restart.</summary>
[Cmdlet(VerbsLifecycle.Restart, "UnicornContainer", SupportsShouldProcess = true, DefaultParameterSetName = "Id")]
[OutputType(typeof(Container))]
public sealed class RestartUnicornContainerCommand : ContainerCmdlet
{
    readonly List<Container> _targets = [];
    readonly CancellationTokenSource _stop = new();

    /// <summary>Seconds to wait after SIGTERM before SIGKILL.</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public int Timeout { get; set; } = 10;

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var c in Targets())
        {
            if (c.AutoRemove) // stopped, it would be removed: nothing would be left to start
            {
                WriteError(new ErrorRecord(new InvalidOperationException(
                    $"The container {c.Name} was started with -Rm: it is removed once it ends, so it cannot be restarted. Start a new one."),
                    "ContainerAutoRemove", ErrorCategory.InvalidOperation, c));
                continue;
            }
            if (ShouldProcess($"{c.Name} ({c.ShortId})", $"Restart the container (SIGTERM, then SIGKILL after {Timeout} s, then start it again)"))
                _targets.Add(c);
        }
    }

    // All stopped at once (one wait for all, as Stop-UnicornContainer), then each started again.
    protected override void EndProcessing()
    {
        var stopped = new List<string>();
        Engine.Stop(_targets.Select(c => c.Id).ToList(), Signals.SIGTERM, TimeSpan.FromSeconds(Timeout), _stop.Token, outcome =>
        {
            if (outcome.Error is { } error)
                WriteError(error is UnicornException u ? ToErrorRecord(u) : new ErrorRecord(error, "ContainerStopFailed", ErrorCategory.NotSpecified, outcome.Id));
            else
            {
                if (outcome.Warning is { } warning)
                    WriteWarning(warning);
                stopped.Add(outcome.Id);
            }
        });
        foreach (var id in stopped)
        {
            if (_stop.IsCancellationRequested)
                return;
            ForItem(() =>
            {
                using var started = Engine.StartAgain(id, attach: false, Verbose);
                var c = started.Current();
                Verbose($"{c.Name} runs again as pid {c.Pid}.");
                if (PassThru)
                    WriteObject(c);
            });
        }
    }

    protected override void StopProcessing() => _stop.Cancel();
}
