using System.Management.Automation;
using Unicorn.Network;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Remove, "UnicornBridge", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Name")]
[OutputType(typeof(void))]
public sealed class RemoveUnicornBridgeCommand : UnicornCmdlet
{
    /// <summary>Bridges from Get-UnicornBridge. (Not names by property: a container piped in
    /// would bind its own Name, and remove a bridge that happens to share it.)</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public BridgeInfo[] InputObject { get; set; } = [];

    /// <summary>Bridge names.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Name")]
    [Alias("Bridge")]
    [ArgumentCompleter(typeof(BridgeCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>Disconnect the containers still on the bridge first.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in ParameterSetName == "InputObject" ? InputObject.Select(b => b.Name) : Name)
            ForItem(() =>
            {
                if (ShouldProcess(name, Force ? "Remove bridge, disconnecting its containers" : "Remove bridge"))
                    Engine.RemoveBridge(name, Force, Verbose);
            });
    }
}
