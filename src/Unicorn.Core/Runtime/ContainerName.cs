using System.Text.RegularExpressions;

namespace Unicorn.Runtime;

/// <summary>The rule for a container's name, as Docker's: letters, digits, '_', '.' and '-',
/// starting with a letter or digit, at most 128. A name is a file name under state/names, so
/// it can hold no '/'. The one copy: the engine checks it, the cmdlets validate with it.</summary>
public static partial class ContainerName
{
    public const string Pattern = @"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}\z"; // \z: $ would take a final newline

    [GeneratedRegex(Pattern)]
    private static partial Regex Rule();

    public static bool IsValid(string name) => Rule().IsMatch(name);
}
