using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Remove, "UnicornContainer", SupportsShouldProcess = true, DefaultParameterSetName = "Id")]
[OutputType(typeof(void))]
public sealed class RemoveUnicornContainerCommand : UnicornCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public Container[] InputObject { get; set; } = [];

    /// <summary>Names, ids or unique id prefixes; any object with an Id or ContainerId property
    /// binds here, deserialized ones too.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = "Id")]
    [Alias("ContainerId")]
    [ArgumentCompleter(typeof(ContainerCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Id { get; set; } = [];

    /// <summary>Kill a running container before removing it.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var id in ParameterSetName == "InputObject" ? InputObject.Select(c => c.Id) : Id)
            ForItem(() =>
            {
                var c = Engine.Get(id); // fresh state: the piped object may be stale
                if (ShouldProcess($"{c.Name} ({c.ShortId})", c.State == ContainerState.Running && Force ? "Kill and remove the container" : "Remove the container"))
                    Engine.Remove(c, Force, Verbose);
            });
    }
}
