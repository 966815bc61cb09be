namespace Unicorn.Commands;

/// <summary>The whole of a process run with -PassThru.</summary>
public sealed record ExecResult(string ContainerId, string[] Command, int ExitCode, string[] Output, string[] Error);
