using System.Management.Automation;
using Unicorn.Runtime;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Unicorn.Commands;

/// <summary>What every Unicorn cmdlet shares: the engine, and engine failures turned into
/// error records with their stable ErrorId and category.</summary>
public abstract class UnicornCmdlet : PSCmdlet
{
    ContainerEngine? _engine;

    protected ContainerEngine Engine => _engine ??= ContainerEngine.FromEnvironment(ModuleDirectory);

    /// <summary>The folder of the module this cmdlet came from, where the launcher is too (not
    /// AppContext.BaseDirectory, which in pwsh is pwsh's own); null outside a module.</summary>
    protected string? ModuleDirectory => MyInvocation.MyCommand.Module?.ModuleBase;

    /// <summary>Refuses at once when not root (RootRequired), before any cmdlet touches
    /// anything; sealed, so that no cmdlet can skip it: cmdlets override <see cref="Begin"/>.</summary>
    protected sealed override void BeginProcessing()
    {
        OrStop(ContainerEngine.RequireRoot);
        Begin();
    }

    /// <summary>A cmdlet's BeginProcessing, after the root check.</summary>
    protected virtual void Begin() { }

    protected static ErrorRecord ToErrorRecord(UnicornException e) =>
        new(e, e.ErrorId, Enum.Parse<ErrorCategory>(e.Kind.ToString()), e.Target);

    /// <summary>The state or data root itself failed us (a full disk, permissions) where the
    /// engine did not name the file: UnicornFileSystemError all the same, with .NET's message
    /// (which names the path where it knows it).</summary>
    static ErrorRecord FileSystemError(Exception e) => new(
        new UnicornException("UnicornFileSystemError", e is UnauthorizedAccessException ? ErrorKind.PermissionDenied : ErrorKind.WriteError,
            $"{e.Message.TrimEnd('.')}. Free space on the state and data roots' file systems (or fix their permissions), then try again.", null, e),
        "UnicornFileSystemError", e is UnauthorizedAccessException ? ErrorCategory.PermissionDenied : ErrorCategory.WriteError, null);

    /// <summary>Runs one item's work; a failure becomes a non-terminating error, so the rest
    /// of the pipeline goes on.</summary>
    protected void ForItem(Action work)
    {
        try { work(); }
        catch (UnicornException e) { WriteError(ToErrorRecord(e)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { WriteError(FileSystemError(e)); }
    }

    /// <summary>Runs work whose failure must stop the pipeline (a container that did not start
    /// is not something a script should go past).</summary>
    protected void OrStop(Action work)
    {
        try { work(); }
        catch (UnicornException e) { ThrowTerminatingError(ToErrorRecord(e)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { ThrowTerminatingError(FileSystemError(e)); }
    }

    protected void Verbose(string message) => WriteVerbose(message);

    /// <summary>The containers named (names with wildcards, names, ids, prefixes), as they are
    /// now; one that is not found is a non-terminating error, a pattern that matches none gives
    /// none (as Get-ChildItem's do).</summary>
    protected IEnumerable<Container> Resolve(IEnumerable<string> namesOrIds)
    {
        foreach (var id in namesOrIds)
        {
            if (WildcardPattern.ContainsWildcardCharacters(id))
            {
                foreach (var match in Matching(id))
                    yield return match;
                continue;
            }
            Container? c = null;
            ForItem(() => c = Engine.Get(id));
            if (c is not null)
                yield return c;
        }
    }

    /// <summary>Names with wildcards as the ids of the containers they match; the others as given.</summary>
    protected IEnumerable<string> ExpandWildcards(IEnumerable<string> namesOrIds) =>
        namesOrIds.SelectMany(n => WildcardPattern.ContainsWildcardCharacters(n) ? Matching(n).Select(c => c.Id) : [n]);

    /// <summary>The containers whose names match a pattern (web*), in any case.</summary>
    IEnumerable<Container> Matching(string pattern)
    {
        var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
        return Engine.List(e => WriteError(ToErrorRecord(e))).Where(c => wildcard.IsMatch(c.Name)).ToList();
    }

    /// <summary>A -Environment hashtable as the engine takes it: values as strings.</summary>
    protected static Dictionary<string, string> ToDictionary(System.Collections.Hashtable? table) =>
        (table ?? []).Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => e.Key.ToString() ?? "", e => LanguagePrimitives.ConvertTo<string>(e.Value) ?? "");

    /// <summary>A user's path (relative, ~, PSDrive) as a full file system path.</summary>
    protected string FileSystemPath(string path) => GetUnresolvedProviderPathFromPSPath(path);
}
