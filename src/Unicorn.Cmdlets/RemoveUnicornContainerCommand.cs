using System.Management.Automation;

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
        foreach (var c in Targets())
        {
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
