using System.Management.Automation;
using System.Management.Automation.Internal;
using System.Management.Automation.Remoting.Client;
using System.Management.Automation.Runspaces;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>Where a container session goes: a <c>pwsh -s</c> already started in the container.
/// PowerShell's remote runspace asks it for the transport; its ComputerName (the container's name)
/// is what Get-PSSession and Enter-PSSession's prompt show.</summary>
sealed class UnicornConnectionInfo(string container, ExecProcess server, Func<int, string> describeEnd) : RunspaceConnectionInfo
{
    public override string ComputerName { get; set; } = container;

    // A local process: nothing to authenticate.
    public override PSCredential? Credential { get => null; set { } }
    public override AuthenticationMechanism AuthenticationMechanism { get => AuthenticationMechanism.Default; set { } }
    public override string CertificateThumbprint { get => string.Empty; set { } }

    // The runspace keeps copies; all of them speak to the same process.
    public override RunspaceConnectionInfo Clone() => (RunspaceConnectionInfo)MemberwiseClone();

    public override BaseClientSessionTransportManager CreateClientSessionTransportManager(Guid instanceId, string sessionName, PSRemotingCryptoHelper cryptoHelper) =>
        new UnicornSessionTransport(instanceId, cryptoHelper, server, describeEnd);
}
