using System.Collections;
using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Enter, "UnicornContainer", DefaultParameterSetName = "Id")]
[OutputType(typeof(void))]
public sealed class EnterUnicornContainerCommand : ContainerCmdlet
{
    /// <summary>The program to run; a shell by default.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string[] Command { get; set; } = ["/bin/sh"];

    /// <summary>Added to the container's environment.</summary>
    [Parameter]
    [Alias("Env")]
    public Hashtable? Environment { get; set; }

    /// <summary>The container's working directory when omitted.</summary>
    [Parameter]
    [Alias("WorkDir")]
    [ValidateNotNullOrEmpty]
    public string? WorkingDirectory { get; set; }

    protected override void ProcessRecord()
    {
        var options = new ExecOptions { Command = Command, Environment = ToDictionary(Environment), WorkingDirectory = WorkingDirectory };
        foreach (var c in Targets())
            ForItem(() =>
            {
                Verbose($"Entering {c.Name}: '{string.Join(' ', Command)}' on a terminal of its own; exit the program to come back.");
                int code = Engine.Enter(c.Id, options);
                SessionState.PSVariable.Set("global:LASTEXITCODE", code);
            });
    }
}
