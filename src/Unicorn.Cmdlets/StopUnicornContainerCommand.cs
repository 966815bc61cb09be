using System.Management.Automation;
using Unicorn.Runtime;

namespace Unicorn.Commands;

[Cmdlet(VerbsLifecycle.Stop, "UnicornContainer", SupportsShouldProcess = true, DefaultParameterSetName = "Id")]
[OutputType(typeof(Container))]
public sealed class StopUnicornContainerCommand : StoppingContainerCmdlet
{
    /// <summary>The first signal: a name (TERM, SIGINT) or a number.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(SignalCompleter))]
    [ValidateNotNullOrEmpty]
    public string Signal { get; set; } = "TERM";

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
                Targeted.Add(c);
    }

    protected override void EndProcessing() => StopAll(_signal, stopped =>
    {
        Verbose($"{stopped.Name} is {stopped.State}{(stopped.ExitCode is int code ? $" ({code})" : "")}.");
        if (PassThru)
            WriteObject(stopped);
    });
}
