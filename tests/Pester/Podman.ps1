# podman in a world of its own: its configuration, storage, run and temporary directories under one
# directory, netns none, cgroupfs, file events and locks, so that it touches nothing of the host's
# containers. Dot-sourced by OciClients.Tests.ps1 and bench/Measure-Oci.ps1.

<#
.SYNOPSIS
Writes containers.conf and storage.conf under Directory and a podman.sh that runs podman with them
(and with --runtime Runtime, if given); returns podman.sh's path. Runtime names are the runtimes
podman should call with --log-format=json (runtime_supports_json).
#>
function New-PodmanWorld {
    param([Parameter(Mandatory)] [string] $Directory, [string] $Runtime, [string[]] $RuntimeNames = @())
    New-Item -ItemType Directory -Path $Directory -Force | Out-Null
    # Limits no higher than podman's own (it sets its nproc to pid_max when it can): without
    # CAP_SYS_RESOURCE the runtime could not raise them.
    $nofile = bash -c 'ulimit -Hn'
    $nproc = [math]::Min([long](bash -c 'ulimit -Hu'), [long](Get-Content /proc/sys/kernel/pid_max))
    $names = (@('crun', 'runc', 'unicorn') + $RuntimeNames | Select-Object -Unique | ForEach-Object { "`"$_`"" }) -join ', '
    @"
[containers]
netns = "none"
log_driver = "k8s-file"
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]
[network]
network_backend = "cni"
network_config_dir = "$Directory/networks"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$Directory/events.log"
lock_type = "file"
tmp_dir = "$Directory/tmp"
volume_path = "$Directory/volumes"
static_dir = "$Directory/storage/libpod"
runtime_supports_json = [$names]
"@ | Set-Content "$Directory/containers.conf"
    @"
[storage]
driver = "vfs"
graphroot = "$Directory/storage"
runroot = "$Directory/run"
"@ | Set-Content "$Directory/storage.conf"
    # One command line for direct calls and for tmux alike.
    $runtimeFlag = if ($Runtime) { "--runtime $Runtime " } else { '' }
    @"
#!/bin/sh
export CONTAINERS_CONF=$Directory/containers.conf CONTAINERS_STORAGE_CONF=$Directory/storage.conf
exec podman $runtimeFlag--root $Directory/storage --runroot $Directory/run --tmpdir $Directory/tmp --cgroup-manager cgroupfs --events-backend file --storage-driver vfs "`$@"
"@ | Set-Content "$Directory/podman.sh"
    chmod 755 "$Directory/podman.sh"
    "$Directory/podman.sh"
}
