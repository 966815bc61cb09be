using System.Management.Automation;
using Unicorn.Runtime;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Remove, "UnicornContainer", SupportsShouldProcess = true, DefaultParameterSetName = "Id")]
[OutputType(typeof(void))]
public sealed class RemoveUnicornContainerCommand : ContainerCmdlet
{
    readonly List<Container> _running = [];

    /// <summary>Kill a running container before removing it.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var id in TargetIds())
        {
            Container? c = null;
            ForItem(() =>
            {
                try { c = Engine.Get(id); }
                catch (CorruptStateException e) when (Force && e.ContainerId is { } damaged)
                {
                    // Its record is damaged: what is left of it goes all the same, with -Force.
                    if (ShouldProcess(Ids.Short(damaged), "Kill and remove what is left of the container, whose record is damaged"))
                        Engine.RemoveDamaged(damaged, Verbose);
                }
            });
            if (c is null)
                continue;
            bool running = c.State is ContainerState.Running or ContainerState.Unknown;
            if (!ShouldProcess($"{c.Name} ({c.ShortId})", running && Force ? "Kill and remove the container" : "Remove the container"))
                continue;
            if (running && Force)
                _running.Add(c); // killed all at once below, then removed
            else
                ForItem(() => Engine.Remove(c, Force, Verbose));
        }
    }

    // Running containers with -Force: SIGKILL to every init, one wait for all, then each removed.
    protected override void EndProcessing()
    {
        if (_running.Count == 0)
            return;
        Verbose($"Killing {_running.Count} container(s).");
        var ended = new Dictionary<string, Container>();
        Engine.Stop(_running.Select(c => c.Id).ToList(), Signals.SIGKILL, TimeSpan.Zero, default, o =>
        {
            if (o.Container is { } c)
                ended[o.Id] = c;
        });
        foreach (var c in _running)
            ForItem(() => Engine.Remove(ended.GetValueOrDefault(c.Id) ?? c, Force, Verbose));
    }
}
