using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Remove, "UnicornBridge", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
public sealed class RemoveUnicornBridgeCommand : UnicornCmdlet
{
    /// <summary>Bridge names (from Get-UnicornBridge by property name).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Bridge")]
    [ArgumentCompleter(typeof(BridgeCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>Disconnect the containers still on the bridge first.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
            ForItem(() =>
            {
                if (ShouldProcess(name, Force ? "Remove bridge, disconnecting its containers" : "Remove bridge"))
                    Engine.RemoveBridge(name, Force, Verbose);
            });
    }
}
