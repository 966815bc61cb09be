namespace Unicorn;

/// <summary>What a container left under the data root after its state went (a reboot emptied the
/// state root): its log, which no other cmdlet can reach any more.</summary>
public sealed record Leftover(string ContainerId, string Path, long Size)
{
    public string Kind => "ContainerLog";
}
