namespace Unicorn.Runtime;

/// <summary>What Invoke-UnicornCommand runs in a container.</summary>
public sealed class ExecOptions
{
    public string[] Command { get; set; } = [];
    /// <summary>Added to (or overriding) the container's environment.</summary>
    public IDictionary<string, string> Environment { get; set; } = new Dictionary<string, string>();
    /// <summary>The container's working directory when null.</summary>
    public string? WorkingDirectory { get; set; }
    /// <summary>Connect a pipe to the process's stdin (<see cref="ExecProcess.Stdin"/>); otherwise
    /// its stdin is /dev/null.</summary>
    public bool Stdin { get; set; }
    /// <summary>Host directories bound read-only at a path in the container for this process
    /// alone (<see cref="SpecFile.PrivateBind"/>): the host's pwsh of a session.</summary>
    internal IReadOnlyList<(string Source, string Destination)> PrivateBinds { get; init; } = [];
}
