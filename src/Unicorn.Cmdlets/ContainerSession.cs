using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Runspaces;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>Opens PowerShell remote runspaces into running containers: the engine starts
/// <c>pwsh -s</c> there, PowerShell's remoting speaks to it over its stdio.</summary>
static class ContainerSession
{
    /// <summary>The transport's name, Get-PSSession's Transport column.</summary>
    public const string TransportName = "Unicorn";

    /// <summary>The host's $PSHOME: the PowerShell the engine binds into a container that has none of its own.</summary>
    static string HostPowerShellHome => Path.GetDirectoryName(typeof(PSObject).Assembly.Location)!;

    /// <summary>An open runspace in container c, or an UnicornException (SessionOpenFailed) that
    /// says why not; nothing is left running when it fails. cancel, when set, ends the opening.</summary>
    public static Runspace Open(ContainerEngine engine, Container c, PSHost? host, string? powerShellPath, string? name, Action<Action> onCancel)
    {
        var server = engine.StartPowerShell(c.Id, powerShellPath, HostPowerShellHome);
        var info = new UnicornConnectionInfo(c.Name, server, code => DescribeEnd(engine, c, code));
        var runspace = RunspaceFactory.CreateRunspace(info, host, TypeTable.LoadDefaultTypeFiles(), null, name);
        onCancel(() => server.Kill(Signals.SIGKILL));
        try
        {
            runspace.Open();
            return runspace;
        }
        catch (RuntimeException e)
        {
            runspace.Dispose();
            server.Kill(Signals.SIGKILL); // gone already, unless the transport never started
            throw new UnicornException("SessionOpenFailed", ErrorKind.ResourceUnavailable,
                $"Could not open a PowerShell session in container '{c.Name}': {e.Message.TrimEnd('.')}. " +
                "Check that the container runs, and that its root filesystem can run PowerShell (or give its own pwsh with -PowerShellPath).",
                c.Name, e);
        }
    }

    /// <summary>Why a session's PowerShell ended when nobody closed the session.</summary>
    static string DescribeEnd(ContainerEngine engine, Container c, int code)
    {
        // A stopping container's processes die together: its pid 1 may not be gone yet when its
        // PowerShell is, so the container gets a moment to show that it stopped.
        for (var deadline = DateTime.UtcNow.AddSeconds(1); DateTime.UtcNow < deadline; Thread.Sleep(50))
            if (engine.Find(c.Id) is not { State: ContainerState.Running })
                return $"The session ended: container '{c.Name}' is no longer running.";
        return $"The session ended: its PowerShell in container '{c.Name}' exited with code {code}.";
    }
}
