using System.Management.Automation;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>A cmdlet that runs a process in a running container (Invoke-UnicornCommand,
/// Enter-UnicornContainer): what it shares besides the command.</summary>
public abstract class ContainerProcessCmdlet : ContainerCmdlet
{
    /// <summary>Added to the container's environment.</summary>
    [Parameter]
    [Alias("Env")]
    public System.Collections.Hashtable? Environment { get; set; }

    /// <summary>The container's working directory when omitted.</summary>
    [Parameter]
    [Alias("WorkDir")]
    [ValidateNotNullOrEmpty]
    public string? WorkingDirectory { get; set; }

    protected ExecOptions Options(string[] command) =>
        new() { Command = command, Environment = ToDictionary(Environment), WorkingDirectory = WorkingDirectory };
}
