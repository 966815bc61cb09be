using System.Management.Automation;

namespace Unicorn.Commands;

/// <summary>A cmdlet that acts on containers: given as objects from the pipeline, or as names,
/// ids or id prefixes (positionally, or by property name from any object that has an Id or
/// ContainerId, deserialized ones too).</summary>
public abstract class ContainerCmdlet : UnicornCmdlet
{
    // Not positional: a container given by position binds to Id (by its name), which leaves
    // the first position free for a command after a piped container.
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public Container[] InputObject { get; set; } = [];

    /// <summary>Names (with wildcards), ids or unique id prefixes; a piped string is a name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "Id")]
    [Alias("ContainerId")]
    [ArgumentCompleter(typeof(ContainerCompleter))]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Id { get; set; } = [];

    /// <summary>The containers this record names, as they are now (a piped object may be stale);
    /// one that is not found is a non-terminating error.</summary>
    protected IEnumerable<Container> Targets() => Resolve(ParameterSetName == "InputObject" ? InputObject.Select(c => c.Id) : Id);

    /// <summary>The names, ids or prefixes this record gives, wildcards expanded, not yet resolved.</summary>
    protected IEnumerable<string> TargetIds() => ParameterSetName == "InputObject" ? InputObject.Select(c => c.Id) : ExpandWildcards(Id);
}

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

/// <summary>"n of N stopped" while many containers are waited for, shown from the start of the
/// wait (the first may take the whole timeout); nothing for a single container. A record of its
/// own each time: a host may keep them (a runspace's Streams.Progress does).</summary>
sealed class ContainerWaitProgress
{
    readonly Cmdlet _cmdlet;
    readonly string _activity, _ended;
    readonly int _total;
    int _done;

    public ContainerWaitProgress(Cmdlet cmdlet, string activity, string ended, int total)
    {
        (_cmdlet, _activity, _ended, _total) = (cmdlet, activity, ended, total);
        Write(ProgressRecordType.Processing);
    }

    /// <summary>One more container has ended.</summary>
    public void Step()
    {
        _done++;
        Write(ProgressRecordType.Processing);
    }

    public void Complete() => Write(ProgressRecordType.Completed);

    void Write(ProgressRecordType type)
    {
        if (_total > 1)
            _cmdlet.WriteProgress(new ProgressRecord(1, _activity, $"{_done} of {_total} {_ended}") { PercentComplete = 100 * _done / _total, RecordType = type });
    }
}

/// <summary>A cmdlet that runs a process in a running container (Invoke-UnicornCommand,
/// Enter-UnicornContainer): what it shares besides the command.</summary>
public abstract class ContainerProcessCmdlet : ContainerCmdlet
{
    /// <summary>Added to the container's environment.</summary>
    [Parameter]
    [Alias("Env")]
    public System.Collections.Hashtable? Environment { get; set; }

    /// <summary>The container's working directory when omitted.</summary>
    [Parameter]
    [Alias("WorkDir")]
    [ValidateNotNullOrEmpty]
    public string? WorkingDirectory { get; set; }

    protected ExecOptions Options(string[] command) =>
        new() { Command = command, Environment = ToDictionary(Environment), WorkingDirectory = WorkingDirectory };
}
