namespace Unicorn.Runtime;

/// <summary>One record of the log file: a whole line (F), or a part of one (P) that the next
/// record of its stream continues.</summary>
public readonly record struct LogRecord(DateTime Time, string Stream, bool Partial, string Text);
