using System.Runtime.CompilerServices;

namespace Unicorn.Images;

/// <summary>What one import may still extract: bytes of file content (the -MaxSize it was
/// given) and entries, counted across its layers as they are extracted. Exceeding either is
/// ImageTooLarge; or, for a copy, what tooLarge makes of the entry and of what was exceeded.</summary>
public sealed class ExtractionBudget(long maxBytes, Func<string, string, UnicornException>? tooLarge = null)
{
    long _bytes, _entries;

    /// <summary>No limit on bytes (entries and depth are still bounded).</summary>
    public static ExtractionBudget Unlimited => new(long.MaxValue);

    public long MaxBytes => maxBytes;
    public long Bytes => _bytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void TakeEntry(string entry)
    {
        if (++_entries > ImageLimits.MaxEntries)
            throw tooLarge?.Invoke(entry, $"more than {ImageLimits.MaxEntries} files, directories and links") ?? TooLarge(entry, $"it holds more than {ImageLimits.MaxEntries} files, directories and links, more than any real image",
                "Do not use it.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void TakeBytes(long bytes, string entry)
    {
        if (bytes > maxBytes - _bytes)
            throw tooLarge?.Invoke(entry, $"more than {ImageLimits.Bytes(maxBytes)} of files") ?? TooLarge(entry, $"its files come to more than {ImageLimits.Bytes(maxBytes)}, the most an import may extract (-MaxSize), by the entry '{entry}'",
                "If you trust the image and have the space, import it again with a larger -MaxSize.");
        _bytes += bytes;
    }

    static UnicornException TooLarge(string entry, string why, string remedy) => new("ImageTooLarge", ErrorKind.LimitsExceeded,
        $"The image is too large to import: {why}. Nothing of it was kept. {remedy}", entry);
}
