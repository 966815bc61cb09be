namespace Unicorn;

/// <summary>What kind of failure; the names match PowerShell's ErrorCategory, which the
/// engine does not reference. Written as its name by ConvertTo-Json.</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))]
public enum ErrorKind
{
    NotSpecified,
    InvalidArgument,
    InvalidOperation,
    ObjectNotFound,
    ResourceBusy,
    ResourceExists,
    ResourceUnavailable,
    PermissionDenied,
    NotInstalled,
    OperationStopped,
    WriteError,
    LimitsExceeded,
    SecurityError,
    ReadError,
}

/// <summary>A failure the user can act on: a stable ErrorId, a kind, the object it concerns,
/// and a message that says what to do.</summary>
public class UnicornException : Exception
{
    public UnicornException(string errorId, ErrorKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    public string ErrorId { get; }
    public ErrorKind Kind { get; }
    public object? Target { get; }
}

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
