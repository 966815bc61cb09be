namespace Unicorn;

/// <summary>A state file that cannot be read as what it should be (truncated by a crash or a full
/// disk, or garbage): CorruptState, naming the file. What it belongs to says what to do.</summary>
public sealed class CorruptStateException(string path, string reason, string? action = null, Exception? inner = null)
    : UnicornException("CorruptState", ErrorKind.ReadError, $"The state file '{path}' is damaged ({reason}).{(action is null ? "" : " " + action)}", path, inner)
{
    public string Path { get; } = path;
    public string Reason { get; } = reason;
    /// <summary>The container whose record it is, when it is one's.</summary>
    public string? ContainerId { get; init; }
    /// <summary>The rootfs whose record it is, when it is one's.</summary>
    public string? RootfsId { get; init; }
}
