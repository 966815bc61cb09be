namespace Unicorn;

/// <summary>Finds the one id that is, or starts with, what the user typed.</summary>
public static class IdResolver
{
    /// <summary>The id equal to text, else the only id starting with it; null if none.
    /// Several candidates are an error that names them.</summary>
    public static string? Resolve(IEnumerable<string> ids, string text, string noun)
    {
        var matches = ids.Where(id => id.StartsWith(text, StringComparison.OrdinalIgnoreCase)).ToList();
        if (matches.Count <= 1)
            return matches.FirstOrDefault();
        if (matches.FirstOrDefault(id => id.Equals(text, StringComparison.OrdinalIgnoreCase)) is { } exact)
            return exact;
        throw new UnicornException($"Ambiguous{noun}Id", ErrorKind.InvalidArgument,
            $"'{text}' matches {matches.Count} {noun.ToLowerInvariant()}s ({string.Join(", ", matches.Select(Ids.Short))}); type more of the id.", text);
    }
}
