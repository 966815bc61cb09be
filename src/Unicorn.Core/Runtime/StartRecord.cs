namespace Unicorn.Runtime;

/// <summary>What the engine learnt when the command started: state/containers/&lt;id&gt;/started.
/// Pid and start time together name the init process; a reused pid has another start time.</summary>
/// RestartCount: the restarts its supervisor made before this run (its restart policy).
public sealed record StartRecord(int Pid, ulong PidStartTime, int SupervisorPid, ulong SupervisorStartTime, DateTime Started, int RestartCount = 0);
