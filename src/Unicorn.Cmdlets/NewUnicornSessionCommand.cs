using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace Unicorn.Commands;

/// <summary>A PowerShell session (PSSession) into a running container, for Invoke-Command,
/// Enter-PSSession, Import-PSSession, Copy-Item -ToSession and Remove-PSSession.</summary>
[Cmdlet(VerbsCommon.New, "UnicornSession", DefaultParameterSetName = "Id")]
[OutputType(typeof(PSSession))]
public sealed class NewUnicornSessionCommand : ContainerCmdlet
{
    Action? _cancel;

    /// <summary>The session's name (Get-PSSession -Name); PowerShell's RunspaceN when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    /// <summary>The container's own pwsh; the host's PowerShell, bound in read-only, when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PowerShellPath { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var c in Targets())
            ForItem(() =>
            {
                Verbose($"Starting PowerShell ({PowerShellPath ?? "the host's"}) in {c.Name} and opening a session to it.");
                var runspace = ContainerSession.Open(Engine, c, Host, PowerShellPath, Name, cancel => _cancel = cancel);
                _cancel = null;
                // Created through the cmdlet, the session is in this runspace's list: Get-PSSession
                // shows it, Remove-PSSession closes it.
                WriteObject(PSSession.Create(runspace, ContainerSession.TransportName, this));
            });
    }

    protected override void StopProcessing() => _cancel?.Invoke();
}
