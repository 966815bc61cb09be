namespace Unicorn;

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
