using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>Tab completion of signal names.</summary>
public sealed class SignalCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Signals.All.Where(s => s.StartsWith(wordToComplete.Trim('\'', '"'), StringComparison.OrdinalIgnoreCase))
            .Select(s => new CompletionResult(s, s, CompletionResultType.ParameterValue, "SIG" + s));
}
