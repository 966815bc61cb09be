namespace Unicorn;

/// <summary>One line a container wrote, as its supervisor logged it.</summary>
public sealed record LogEntry(string ContainerId, DateTime Time, string Stream, string Text)
{
    /// <summary>The text: a log entry used as a string (Write-Warning, Out-File) is its line.</summary>
    public override string ToString() => Text;
}
