using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Remove, "UnicornContainer", SupportsShouldProcess = true, DefaultParameterSetName = "Id")]
[OutputType(typeof(void))]
public sealed class RemoveUnicornContainerCommand : ContainerCmdlet
{
    /// <summary>Kill a running container before removing it.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var c in Targets())
            ForItem(() =>
            {
                if (ShouldProcess($"{c.Name} ({c.ShortId})", c.State is ContainerState.Running or ContainerState.Unknown && Force ? "Kill and remove the container" : "Remove the container"))
                    Engine.Remove(c, Force, Verbose);
            });
    }
}
