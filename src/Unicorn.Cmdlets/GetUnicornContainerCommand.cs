using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Get, "UnicornContainer", DefaultParameterSetName = "Name")]
[OutputType(typeof(Container))]
public sealed class GetUnicornContainerCommand : UnicornCmdlet
{
    /// <summary>Names, with wildcards; all containers when omitted.</summary>
    [Parameter(Position = 0, ParameterSetName = "Name")]
    [ArgumentCompleter(typeof(ContainerCompleter))]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    /// <summary>Ids or unique id prefixes.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "Id")]
    [Alias("ContainerId")]
    [ArgumentCompleter(typeof(ContainerCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Id { get; set; } = [];

    /// <summary>Only containers in this state.</summary>
    [Parameter]
    public ContainerState[]? State { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == "Id")
        {
            foreach (var id in Id)
                ForItem(() => Emit(Engine.Get(id)));
            return;
        }
        if (Name is null)
        {
            foreach (var c in Engine.List(e => WriteError(ToErrorRecord(e))))
                Emit(c);
            return;
        }
        foreach (var c in Resolve(Name)) // a plain name may also be an id prefix
            Emit(c);
    }

    void Emit(Container c)
    {
        if (State is null || State.Contains(c.State))
            WriteObject(c);
    }
}
