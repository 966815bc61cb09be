using System.Management.Automation;
using Unicorn.Runtime;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Enter, "UnicornContainer", DefaultParameterSetName = "Id")]
[OutputType(typeof(void))]
public sealed class EnterUnicornContainerCommand : ContainerProcessCmdlet
{
    /// <summary>The program to run; a shell by default.</summary>
    [Parameter(Position = 1, ParameterSetName = "Id")]
    [Parameter(Position = 0, ParameterSetName = "InputObject")]
    [ValidateNotNullOrEmpty]
    public string[] Command { get; set; } = ["/bin/sh"];

    protected override void ProcessRecord()
    {
        OrStop(() => ContainerEngine.RequireTerminal("Enter-UnicornContainer", "run the command with Invoke-UnicornCommand, which needs no terminal"));
        var options = Options(Command);
        foreach (var c in Targets())
            ForItem(() =>
            {
                Verbose($"Entering {c.Name}: '{string.Join(' ', Command)}' on a terminal of its own; exit the program to come back.");
                int code = Engine.Enter(c.Id, options);
                SessionState.PSVariable.Set("global:LASTEXITCODE", code);
            });
    }
}
