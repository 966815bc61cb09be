namespace Unicorn;

/// <summary>What kind of failure; the names match PowerShell's ErrorCategory, which the
/// engine does not reference.</summary>
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
