using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>Tab completion of rootfs ids.</summary>
public sealed class RootfsCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var word = wordToComplete.Trim('\'', '"');
        foreach (var r in ContainerEngine.FromEnvironment().Rootfs.List())
        {
            var id = Ids.Short(r.Id);
            if (id.StartsWith(word, StringComparison.OrdinalIgnoreCase))
                yield return new CompletionResult(id, id, CompletionResultType.ParameterValue, $"{id} {r.Image}{(r.ContainerId is null ? "" : $", container {Ids.Short(r.ContainerId)}")}");
        }
    }
}
