using System.Management.Automation;
using Unicorn.Network;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Get, "UnicornBridge")]
[OutputType(typeof(BridgeInfo))]
public sealed class GetUnicornBridgeCommand : UnicornCmdlet
{
    /// <summary>Bridge names; wildcards allowed. All bridges when omitted.</summary>
    // Not bound from the pipeline by property name: a container piped in would bind its own Name.
    [Parameter(Position = 0)]
    [Alias("Bridge")]
    [ArgumentCompleter(typeof(BridgeCompleter))]
    [SupportsWildcards]
    public string[] Name { get; set; } = [];

    protected override void ProcessRecord()
    {
        ForItem(() =>
        {
            var bridges = Engine.Networks.List().ToList();
            if (Name.Length == 0)
            {
                WriteObject(bridges, enumerateCollection: true);
                return;
            }
            foreach (var name in Name)
            {
                var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
                var found = bridges.Where(b => pattern.IsMatch(b.Name)).ToList();
                if (found.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
                    WriteError(ToErrorRecord(new UnicornException("BridgeNotFound", ErrorKind.ObjectNotFound,
                        $"Unicorn has no bridge named '{name}'. Get-UnicornBridge lists them.", name)));
                WriteObject(found, enumerateCollection: true);
            }
        });
    }
}
