using Unicorn.Network;

namespace Unicorn.Runtime;

public sealed partial class ContainerEngine
{
    BridgeNetwork? _networks;
    public BridgeNetwork Networks => _networks ??= new(Paths, id => File.Exists(Paths.ContainerRecord(id)));

    /// <summary>Connects a running container to a bridge (a hot-plugged interface).</summary>
    public BridgeAttachment Connect(string nameOrId, BridgeOptions options, Action<string>? log = null)
    {
        var c = Get(nameOrId);
        if (c.State != ContainerState.Running || ReadStart(c.Id) is not { } start)
            throw NotRunning(c.Name);
        return Networks.Connect(c.Id, c.Name, start.Pid, start.PidStartTime, c.Hostname, options, log);
    }

    /// <summary>Disconnects a container from one bridge, or from all (bridge null).</summary>
    public void Disconnect(string nameOrId, string? bridge, Action<string>? log = null)
    {
        var c = Get(nameOrId);
        var bridges = bridge is null ? Networks.Attachments(c.Id).Select(a => a.Bridge).ToList() : [bridge];
        foreach (var b in bridges)
            Networks.Disconnect(c.Id, b, log);
    }

    /// <summary>Removes a bridge; with force, disconnects its containers first.</summary>
    public void RemoveBridge(string bridge, bool force, Action<string>? log = null) =>
        Networks.RemoveBridge(bridge, force ? (id, b) => Networks.Disconnect(id, b, log) : null, log);
}
