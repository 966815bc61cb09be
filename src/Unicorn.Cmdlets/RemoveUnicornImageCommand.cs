using System.Management.Automation;
using Unicorn.Images;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Remove, "UnicornImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Name")]
[OutputType(typeof(void))]
public sealed class RemoveUnicornImageCommand : UnicornCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public Image[] InputObject { get; set; } = [];

    /// <summary>Names or ids.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Name")]
    [ArgumentCompleter(typeof(ImageCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>Remove an image that root filesystems use (their layers stay until they go).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var key in ParameterSetName == "InputObject" ? InputObject.Select(i => i.Id) : Name)
            ForItem(() =>
            {
                var removal = Engine.PlanImageRemoval(Engine.Images.Get(key), Force);
                if (ShouldProcess($"{removal.Image} ({removal.Image.ShortId})", "Remove image"))
                    removal.Run(Verbose);
            });
    }
}
