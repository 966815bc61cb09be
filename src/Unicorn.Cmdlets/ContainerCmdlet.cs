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
