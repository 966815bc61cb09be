namespace Unicorn;

/// <summary>A file, directory or symbolic link that a copy made in a container.</summary>
public sealed class ContainerItem
{
    public required string ContainerId { get; init; }
    public required string ContainerName { get; init; }
    /// <summary>Its path inside the container.</summary>
    public required string Path { get; init; }
    /// <summary>File, Directory or SymbolicLink.</summary>
    public required string ItemType { get; init; }
    public long Length { get; init; }
    /// <summary>As ls -l shows it (and PowerShell's UnixMode): "-rw-r--r--".</summary>
    public required string UnixMode { get; init; }
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public DateTime LastWriteTime { get; init; }

    public override string ToString() => $"{ContainerName}:{Path}";
}
