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
        foreach (var id in TargetIds())
            ForItem(() =>
            {
                Container c;
                try { c = Engine.Get(id); }
                catch (CorruptStateException e) when (Force && e.ContainerId is { } damaged)
                {
                    // Its record is damaged: what is left of it goes all the same, with -Force.
                    if (ShouldProcess(Ids.Short(damaged), "Kill and remove what is left of the container, whose record is damaged"))
                        Engine.RemoveDamaged(damaged, Verbose);
                    return;
                }
                if (ShouldProcess($"{c.Name} ({c.ShortId})", c.State is ContainerState.Running or ContainerState.Unknown && Force ? "Kill and remove the container" : "Remove the container"))
                    Engine.Remove(c, Force, Verbose);
            });
    }
}
