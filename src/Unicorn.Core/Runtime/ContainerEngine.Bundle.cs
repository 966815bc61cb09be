using Unicorn.Oci;

namespace Unicorn.Runtime;

// Start-UnicornContainer -Bundle: an OCI bundle (config.json and its root) run as a container of
// this engine, supervised, logged and listed like any other. What runs and how it is confined
// is the config's, through the same translation `unicorn create` uses (OciSpec), so a bundle
// behaves alike from both faces; the engine adds its supervisor, log and networks.
public sealed partial class ContainerEngine
{
    /// <summary>The namespaces a supervised container has: all new (the supervisor's restarts
    /// and exec rely on them). Joining others by path is what the OCI runtime does.</summary>
    static readonly string[] BundleNamespaces = ["pid", "network", "ipc", "uts", "mount"];

    /// <summary>Reads and checks the bundle of options, and takes from its config what the
    /// engine records of any container: the root, the command, its directory and environment,
    /// the hostname, whether it has a terminal. Parameters that the config decides are refused.</summary>
    static OciConfig LoadBundle(StartOptions options)
    {
        var bundle = options.Bundle = Path.GetFullPath(options.Bundle!);
        if (options.Image is not null || options.RootfsId is not null || options.RootfsPath is not null || options.Command is not null
            || options.Volumes.Count > 0 || options.User is not null || options.WorkingDirectory is not null || options.Environment.Count > 0
            || !options.Limits.IsEmpty)
            throw new UnicornException("BundleAndParameters", ErrorKind.InvalidArgument,
                "A bundle's config.json says the root, command, user, environment, mounts and limits: leave out -Image, -RootfsPath, -Command, -Volume, -User, -WorkingDirectory, -Environment and the limits, or edit the config.", bundle);
        var oci = OciConfig.Load(bundle);
        var namespaces = (oci.Linux?.Namespaces ?? []).ToList();
        if (namespaces.Any(n => n.Path is not null) || !namespaces.Select(n => n.Type).Order().SequenceEqual(BundleNamespaces.Order()))
            throw new UnicornException("BundleNamespaces", ErrorKind.NotImplemented,
                $"Start-UnicornContainer runs a bundle in new {string.Join(", ", BundleNamespaces)} namespaces, no more and none joined; the config has {string.Join(", ", namespaces.Select(n => n.Path is null ? n.Type : $"{n.Type} at {n.Path}"))}. Run it with the OCI runtime instead: unicorn run --bundle {bundle} <id>.", bundle);
        var process = oci.Process!;
        options.RootfsPath = OciSpec.RootfsPath(oci, bundle);
        options.Command = [.. process.Args!];
        options.WorkingDirectory = process.Cwd;
        options.Hostname ??= oci.Hostname;
        options.Environment = new Dictionary<string, string>();
        foreach (var e in process.Env ?? []) // a name given twice: the last, as execve's reader takes it
            options.Environment[e.Split('=', 2)[0]] = e.Split('=', 2) is [_, var v] ? v : "";
        if (process.Terminal) // its command on a terminal of ours, as -Interactive
            RequireTerminal("a bundle whose process.terminal is true", "set process.terminal to false in its config.json");
        options.Interactive |= process.Terminal;
        return oci;
    }

    /// <summary>The launcher's spec for a bundle's container (see <see cref="Park"/>): the
    /// config's, as `unicorn create` writes it, with the supervisor's log, its cgroup (made
    /// here, in every hierarchy, with the config's limits and device rules) and its policies.</summary>
    SpecFile BundleSpec(ContainerConfig config, string bundle, bool attach, Rollback undo)
    {
        var oci = OciConfig.Load(bundle);
        var dir = Paths.ContainerDir(config.Id);
        RecordCgroup(config.Id);
        undo.Push(() => Cgroups.Remove(config.Id));
        Cgroups.Create(config.Id, OciResources.Limits(oci.Linux?.Resources), everyController: true);
        Cgroups.ApplyDeviceRules(config.Id, OciResources.DeviceRules(oci.Linux?.Resources));
        return OciSpec.ForInit(oci, bundle, dir, Cgroups, config.Id).Cgroup(Cgroups, config.Id)
            .Supervised(Paths.LogFile(config.Id), attach, config.Init).LogRotation(config.LogMaxSize, config.LogMaxFiles).Restart(config.Restart);
    }
}
