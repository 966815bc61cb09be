namespace Unicorn.Oci;

/// <summary>`unicorn --help`: runc's commands, as this runtime takes them.</summary>
static class Help
{
    public const string Text = """
        unicorn: the OCI runtime command line of Unicorn (runc's), for podman, containerd and Kubernetes nodes

        usage: unicorn [global options] command [command options] [arguments...]

        commands:
           create    create a container from a bundle (--bundle, --pid-file, --console-socket, --preserve-fds, --no-pivot)
           start     run the command of a created container
           run       create and start, then wait for it (--detach: do not); a terminal without --console-socket is yours
           state     the state of a container (OCI state JSON)
           kill      send a signal (default TERM) to the init, or to every process with --all
           delete    delete a stopped container (--force: kill it first)
           exec      run a process in a running container (--process process.json, or a command; --tty: on a terminal)
           ps        the processes of a container (--format table|json)
           pause     freeze every process of a container
           resume    thaw a paused container
           update    change a container's resources (--resources file|-, or --memory, --cpu-quota, ...)
           list      the containers under --root
           features  what this runtime supports (OCI features JSON)
           spec      write a default config.json into --bundle

        global options:
           --root value          where the containers' state is kept (default: /run/unicorn-oci)
           --log value           append errors to this file (as runc's logrus does)
           --log-format value    text or json (default: text)
           --systemd-cgroup      taken, but a systemd cgroupsPath (slice:prefix:name) is refused: no systemd here
           --version, -v         print the version

        The cmdlets (Import-Module Unicorn) are Unicorn's main face; Get-Help about_Unicorn.

        """;
}
