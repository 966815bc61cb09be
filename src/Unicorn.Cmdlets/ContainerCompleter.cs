using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>Tab completion of container names, which every container parameter takes.</summary>
public sealed class ContainerCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var word = wordToComplete.Trim('\'', '"');
        foreach (var c in ContainerEngine.FromEnvironment().List())
        {
            if (c.Name.StartsWith(word, StringComparison.OrdinalIgnoreCase))
                yield return new CompletionResult(c.Name, c.Name, CompletionResultType.ParameterValue, $"{c.Name} ({c.ShortId}) {c.State}: {string.Join(' ', c.Command)}");
        }
    }
}
