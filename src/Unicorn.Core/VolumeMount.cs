namespace Unicorn;

/// <summary>A bind mount: a host path seen at a path inside the container.</summary>
public sealed record VolumeMount(string Source, string Destination, bool ReadOnly)
{
    public override string ToString() => $"{Source}:{Destination}{(ReadOnly ? ":ro" : "")}";
}
