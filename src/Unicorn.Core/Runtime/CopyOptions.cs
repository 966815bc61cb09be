using Unicorn.Images;

namespace Unicorn.Runtime;

/// <summary>How a copy runs: what it may overwrite and keep, how much it may write, and whom it
/// tells (on the calling thread) of its progress (bytes so far) and of the files it skipped.</summary>
public sealed class CopyOptions
{
    public bool Force { get; init; }
    /// <summary>Keep owners, setuid and setgid bits and extended attributes (see <see cref="CopyRules"/>).</summary>
    public bool Archive { get; init; }
    public long MaxSize { get; init; } = ContainerCopy.DefaultMaxSize;
    public Action<string>? Warning { get; init; }
    public Action<long>? Progress { get; init; }
    public CancellationToken Cancel { get; init; }
}
