<#
.SYNOPSIS
The demo: one container on the embedded default rootfs, showing from inside its hostname, that
its command is pid 1, its mounts and its interfaces; then the container object.
Run by build.ps1 -Task Demo. It keeps its state in a temporary folder and removes it after.
#>
param([Parameter(Mandatory)] [string] $ModulePath)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath

$root = Join-Path ([IO.Path]::GetTempPath()) "unicorn-demo-$PID"
$env:UNICORN_STATE_ROOT = Join-Path $root 'state'
$env:UNICORN_DATA_ROOT = Join-Path $root 'data'
try {
    # Plain sh and /proc, so it runs on either flavour of the default rootfs (busybox or host tools).
    $script = @'
echo "hostname:   $(cat /proc/sys/kernel/hostname)"
echo "my pid:     $$"
echo "processes:"; for p in /proc/[0-9]*; do echo "  ${p#/proc/} $(cat $p/comm)"; done
echo "mounts:"; while read -r dev mp fs rest; do echo "  $mp ($fs)"; done < /proc/mounts
echo "interfaces:"; for i in /sys/class/net/*; do echo "  ${i##*/} $(cat $i/operstate)"; done
'@
    Write-Host "> New-UnicornRootfs | Start-UnicornContainer -Name demo -Hostname demo -Command /bin/sh, -c, <script> -Wait" -ForegroundColor Cyan
    $c = New-UnicornRootfs | Start-UnicornContainer -Name demo -Hostname demo -Command /bin/sh, -c, $script -Wait
    Write-Host "`n> `$c | Format-List" -ForegroundColor Cyan
    $c | Format-List Id, Name, State, ExitCode, Command, Hostname, Image, Rootfs, Created, Started, Finished | Out-Host
    Write-Host '> Get-UnicornContainer' -ForegroundColor Cyan
    Get-UnicornContainer | Out-Host
    $c | Remove-UnicornContainer
    Write-Host 'Removed the container and its rootfs.' -ForegroundColor Cyan
}
finally {
    Get-UnicornContainer | Remove-UnicornContainer -Force
    Remove-Item $root -Recurse -Force -ErrorAction Ignore
}
