using System.Management.Automation;

namespace Unicorn.Commands;

/// <summary>Deletes what containers left under the data root once their state was gone (after a
/// reboot): their logs.</summary>
[Cmdlet(VerbsCommon.Remove, "UnicornLeftover", SupportsShouldProcess = true)]
[OutputType(typeof(Leftover))]
public sealed class RemoveUnicornLeftoverCommand : UnicornCmdlet
{
    /// <summary>Writes each leftover removed.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void EndProcessing()
    {
        foreach (var leftover in Engine.Leftovers().ToList())
            ForItem(() =>
            {
                if (!ShouldProcess($"{leftover.Path} ({leftover.Size} bytes)", $"Delete the log of container {Ids.Short(leftover.ContainerId)}, which no longer exists"))
                    return;
                Engine.Remove(leftover);
                if (PassThru)
                    WriteObject(leftover);
            });
    }
}
