using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>Tab completion of image names.</summary>
public sealed class ImageCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var word = wordToComplete.Trim('\'', '"');
        foreach (var i in ContainerEngine.FromEnvironment().Images.List())
            foreach (var n in i.Names.Where(n => n.StartsWith(word, StringComparison.OrdinalIgnoreCase)))
                yield return new CompletionResult(n, n, CompletionResultType.ParameterValue, $"{n} {i.ShortId}");
    }
}
