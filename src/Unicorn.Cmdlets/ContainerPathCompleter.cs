using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>Tab completion of a copy's container side (web:): container names followed by ':'.
/// No match leaves PowerShell to complete a host path as usual.</summary>
public sealed class ContainerPathCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var word = wordToComplete.Trim('\'', '"');
        var names = word.Length == 0 || word.IndexOfAny(['/', ':', '.', '~']) >= 0 ? []
            : ContainerEngine.FromEnvironment().List().Where(c => c.Name.StartsWith(word, StringComparison.OrdinalIgnoreCase))
                .Select(c => new CompletionResult(c.Name + ":/", c.Name + ":", CompletionResultType.ParameterValue, $"{c.Name} ({c.ShortId}) {c.State}")).ToList();
        return names.Count > 0 ? names : null!; // null, not none: PowerShell then completes a path
    }
}
