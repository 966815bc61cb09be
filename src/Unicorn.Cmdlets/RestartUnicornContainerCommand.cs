using System.Management.Automation;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>Stops containers that run (as Stop-UnicornContainer does) and starts them again (as
/// Start-UnicornContainer -Id does): Restart-Service for containers, docker restart.</summary>
[Cmdlet(VerbsLifecycle.Restart, "UnicornContainer", SupportsShouldProcess = true, DefaultParameterSetName = "Id")]
[OutputType(typeof(Container))]
public sealed class RestartUnicornContainerCommand : StoppingContainerCmdlet
{
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
                Targeted.Add(c);
        }
    }

    // All stopped at once (one wait for all, as Stop-UnicornContainer), then each started again.
    protected override void EndProcessing()
    {
        var stopped = new List<string>();
        StopAll(Signals.SIGTERM, c => stopped.Add(c.Id));
        foreach (var id in stopped)
        {
            if (Cancel.IsCancellationRequested)
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
}
