using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsLifecycle.Wait, "UnicornContainer", DefaultParameterSetName = "Id")]
[OutputType(typeof(Container))]
public sealed class WaitUnicornContainerCommand : ContainerCmdlet
{
    readonly List<Container> _targets = [];
    readonly CancellationTokenSource _stop = new();

    /// <summary>Seconds to wait at most; forever when omitted.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Timeout { get; set; }

    protected override void ProcessRecord() => _targets.AddRange(Targets());

    // Each container is returned as soon as it has exited (one wait for all, on this thread);
    // Ctrl+C ends the wait, not the containers.
    protected override void EndProcessing()
    {
        var timeout = Timeout is int s ? TimeSpan.FromSeconds(s) : (TimeSpan?)null;
        var progress = new ContainerWaitProgress(this, "Waiting for containers", "exited", _targets.Count);
        Engine.WaitForExit(_targets.Select(c => c.Id).ToList(), timeout, _stop.Token, outcome =>
        {
            if (outcome.Container is not { } c)
                WriteError(outcome.Error is UnicornException u ? ToErrorRecord(u) : new ErrorRecord(outcome.Error, "ContainerWaitFailed", ErrorCategory.NotSpecified, outcome.Id));
            else if (c.State.IsRunning())
                WriteError(new ErrorRecord(new TimeoutException($"The container {c.Name} was still {c.State.ToString().ToLowerInvariant()} after {Timeout} s."),
                    "ContainerWaitTimeout", ErrorCategory.OperationTimeout, c));
            else
            {
                if (outcome.Warning is { } warning)
                    WriteWarning(warning);
                WriteObject(c);
            }
            progress.Step();
        });
        progress.Complete();
    }

    protected override void StopProcessing() => _stop.Cancel();
}
