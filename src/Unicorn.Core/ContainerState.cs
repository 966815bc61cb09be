namespace Unicorn;

/// <summary>Written as its name by ConvertTo-Json ("State": "Running"), as by the state files.</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))]
public enum ContainerState
{
    /// <summary>Being started: its state directory exists, its command has not run yet.</summary>
    Created,
    Running,
    /// <summary>Its command has ended and its supervisor waits out the back-off of its restart
    /// policy before it starts it again.</summary>
    Restarting,
    Exited,
    /// <summary>Its supervisor is gone (killed) while its init still runs: nobody will record
    /// how it ends. Remove-UnicornContainer -Force kills it and removes it.</summary>
    Unknown,
    /// <summary>Gone without a recorded exit: its supervisor and init were killed, or the
    /// machine lost its processes (a reboot). Remove-UnicornContainer removes what is left.</summary>
    Dead,
}

/// <summary>What a state means for what may be done to the container. Each question in one
/// place: they differ on purpose (a restarting container is active, its run is not).</summary>
public static class ContainerStates
{
    /// <summary>Not ended for good: it runs, is being started, runs without its supervisor, or
    /// waits to be started again (restart policy). What a stop ends, a removal needs -Force
    /// for, and a start again refuses.</summary>
    public static bool IsActive(this ContainerState s) =>
        s is ContainerState.Running or ContainerState.Created or ContainerState.Unknown or ContainerState.Restarting;

    /// <summary>Its current run has not ended: what a wait waits out (a restarting container's
    /// command has ended, as Docker's wait says).</summary>
    public static bool IsRunning(this ContainerState s) =>
        s is ContainerState.Running or ContainerState.Created or ContainerState.Unknown;

    /// <summary>Its supervisor may still write to its log: it runs, or is being started. A
    /// follow of the log (Get-UnicornContainerLog -Follow) ends once it is not.</summary>
    public static bool IsLogOpen(this ContainerState s) =>
        s is ContainerState.Running or ContainerState.Created;
}
