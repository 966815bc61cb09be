using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

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

/// <summary>Tab completion of signal names.</summary>
public sealed class SignalCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Signals.All.Where(s => s.StartsWith(wordToComplete.Trim('\'', '"'), StringComparison.OrdinalIgnoreCase))
            .Select(s => new CompletionResult(s, s, CompletionResultType.ParameterValue, "SIG" + s));
}

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
