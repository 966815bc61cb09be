using System.Collections.Concurrent;
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

    // Each container is returned as soon as it has exited; Ctrl+C ends the wait, not the containers.
    protected override void EndProcessing()
    {
        var timeout = Timeout is int s ? TimeSpan.FromSeconds(s) : (TimeSpan?)null;
        var done = new BlockingCollection<(Container? Container, Exception? Error)>();
        foreach (var c in _targets)
            Task.Run(() =>
            {
                try { done.Add((Engine.WaitForExit(c.Id, timeout, _stop.Token), null)); }
                catch (Exception e) { done.Add((null, e)); } // removed meanwhile, say: never hang on it
            });
        for (int i = 0; i < _targets.Count; i++)
        {
            Container? c;
            Exception? error;
            try { (c, error) = done.Take(_stop.Token); }
            catch (OperationCanceledException) { return; }
            if (c is null)
                WriteError(error is UnicornException u ? ToErrorRecord(u) : new ErrorRecord(error, "ContainerWaitFailed", ErrorCategory.NotSpecified, null));
            else if (c.State is ContainerState.Running or ContainerState.Created or ContainerState.Unknown)
                WriteError(new ErrorRecord(new TimeoutException($"The container {c.Name} was still {c.State.ToString().ToLowerInvariant()} after {Timeout} s."),
                    "ContainerWaitTimeout", ErrorCategory.OperationTimeout, c));
            else
                WriteObject(c);
        }
    }

    protected override void StopProcessing() => _stop.Cancel();
}
