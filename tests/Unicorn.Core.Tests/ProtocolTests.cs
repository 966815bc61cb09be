using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Unicorn.Runtime;

namespace Unicorn.Tests;

/// <summary>The launcher's protocol has three copies that must agree: the keys spec.c reads,
/// the keys SpecFile writes, and the table in src/launcher/README.md.</summary>
public partial class ProtocolTests
{
    static string Launcher([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "../../src/launcher"));

    static string Readme => File.ReadAllText(Path.Combine(Launcher(), "README.md"));

    /// <summary>The rows of the README table under a heading (its first column, without backticks).</summary>
    static SortedSet<string> TableKeys(string heading)
    {
        var section = Readme[Readme.IndexOf(heading, StringComparison.Ordinal)..];
        var end = section.IndexOf("\n#", heading.Length, StringComparison.Ordinal);
        return [.. TableRow().Matches(end < 0 ? section : section[..end]).Select(m => m.Groups[1].Value)];
    }

    [Fact]
    public void SpecKeysAreTheSameInTheLauncherTheEngineAndTheReadme()
    {
        SortedSet<string> launcher = [.. SpecKeyRead().Matches(File.ReadAllText(Path.Combine(Launcher(), "spec.c"))).Select(m => m.Groups[1].Value)];
        SortedSet<string> engine = [.. SpecFile.Keys];
        var readme = TableKeys("## The spec file");

        Assert.NotEmpty(launcher);
        Assert.Equal(launcher, engine);
        Assert.Equal(launcher, readme);
    }

    [Fact]
    public void TheReadmeNamesEveryCFile()
    {
        SortedSet<string> files = [.. Directory.GetFiles(Launcher()).Where(f => f.EndsWith(".c") || f.EndsWith(".h")).Select(f => Path.GetFileName(f))];
        Assert.Equal(files, TableKeys("| file | concern |"));
    }

    [GeneratedRegex(@"strcmp\(key, ""([a-z0-9]+)""\)")]
    private static partial Regex SpecKeyRead();

    [GeneratedRegex(@"^\| `([^`]+)` \|", RegexOptions.Multiline)]
    private static partial Regex TableRow();
}
