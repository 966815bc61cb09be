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

    /// <summary>Names, ids or unique id prefixes.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = "Id")]
    [Alias("ContainerId")]
    [ArgumentCompleter(typeof(ContainerCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Id { get; set; } = [];

    /// <summary>The containers this record names, as they are now (a piped object may be stale);
    /// one that is not found is a non-terminating error.</summary>
    protected IEnumerable<Container> Targets() => Resolve(TargetIds());

    /// <summary>The names, ids or prefixes this record gives, not yet resolved.</summary>
    protected IEnumerable<string> TargetIds() => ParameterSetName == "InputObject" ? InputObject.Select(c => c.Id) : Id;
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
