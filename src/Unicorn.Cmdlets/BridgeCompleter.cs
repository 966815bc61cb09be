using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>Tab completion of Unicorn's bridge names.</summary>
public sealed class BridgeCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var word = wordToComplete.Trim('\'', '"');
        foreach (var b in ContainerEngine.FromEnvironment().Networks.List())
            if (b.Name.StartsWith(word, StringComparison.OrdinalIgnoreCase))
                yield return new CompletionResult(b.Name, b.Name, CompletionResultType.ParameterValue, $"{b.Name} {string.Join(", ", b.Subnet)}");
    }
}
