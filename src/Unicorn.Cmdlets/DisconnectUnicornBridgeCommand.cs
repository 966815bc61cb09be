using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommunications.Disconnect, "UnicornBridge", SupportsShouldProcess = true, DefaultParameterSetName = "Id")]
[OutputType(typeof(Container))]
public sealed class DisconnectUnicornBridgeCommand : ContainerCmdlet
{
    /// <summary>The bridge to leave; every bridge the container is on when omitted.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BridgeCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Bridge { get; set; }

    /// <summary>Return the container.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var c in Targets())
            ForItem(() =>
            {
                if (!ShouldProcess($"{c.Name} ({c.ShortId})", $"Disconnect from {Bridge ?? "every bridge"}"))
                    return;
                Engine.Disconnect(c.Id, Bridge, Verbose);
                if (PassThru)
                    WriteObject(Engine.Get(c.Id));
            });
    }
}
