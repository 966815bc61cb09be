namespace Unicorn.Images;

/// <summary>What a copy (rather than a layer) keeps of the files it writes. Without Archive,
/// the files become the copier's (its uid and gid), without setuid and setgid bits (which chown
/// would clear too) and without extended attributes; modes and times are kept. With it, owners,
/// those bits and the attributes are kept as well (cp -a, docker cp -a). FIFOs and devices are
/// never written: Skipped hears of each (its path, and what it is).</summary>
public sealed record CopyRules(bool Archive, Action<string, string> Skipped);
