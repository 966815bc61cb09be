#!/usr/bin/env pwsh
<#
.SYNOPSIS
Stopping, waiting for and removing many containers at once (issue 12): the wall time of one
Stop-UnicornContainer, Wait-UnicornContainer and Remove-UnicornContainer -Force on -Count containers.

.DESCRIPTION
Starts -Count detached containers on one shared copy of the default rootfs (-RootfsPath, so that no
overlay mount per container is timed): half `sleep 600` as pid 1, which ignores SIGTERM (the kernel
delivers no signal without a handler to a namespace's pid 1) and so needs the SIGKILL after the
timeout; half `sleep 600` behind -Init, which ends on SIGTERM. Then times, each in one call:
  stop    Get-UnicornContainer | Stop-UnicornContainer -Timeout <Timeout>: the ideal is one timeout;
  wait    -Count such containers again: Wait-UnicornContainer -Timeout <Timeout> on all, which all
          outlive it (a ContainerWaitTimeout each): the ideal is one timeout;
  remove  then Remove-UnicornContainer -Force on all of them (SIGKILL, wait, remove).
Prints one table; writes it to <repo>/out/bench/stop.json.

Needs root. Fresh temporary state and data roots, removed at the end with every container.

.EXAMPLE
dotnet pwsh -NoProfile -NonInteractive -File bench/Measure-Stop.ps1 -ModulePath out/Unicorn
#>
[CmdletBinding()]
param(
    [string] $ModulePath = (Join-Path (Split-Path $PSScriptRoot -Parent) 'out/Unicorn'),
    [ValidateRange(2, 2000)]
    [int] $Count = 200,
    [ValidateRange(0, 60)]
    [int] $Timeout = 2
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
Assert-BenchRoot

Import-Module (Resolve-Path $ModulePath).Path -Force
$roots = New-BenchRoots
$ns = [pscustomobject]@{ Crun = $null; Runc = $null; ParentNs = $null; Hybrid = $false; Notes = @() }
$rows = [Collections.Generic.List[object]]::new()
try {
    $rootfs = Join-Path $roots.Base 'rootfs'
    $default = New-UnicornRootfs
    Copy-Item -Path "$($default.LowerDir)/*" -Destination (New-Item -ItemType Directory $rootfs) -Recurse
    $default | Remove-UnicornRootfs

    function Start-Many([int] $n, [string[]] $command, [switch] $MixInit) {
        $started = [Diagnostics.Stopwatch]::StartNew()
        for ($i = 0; $i -lt $n; $i++) {
            $init = -not $MixInit -or ($i % 2 -eq 0)
            Start-UnicornContainer -RootfsPath $rootfs -Command $command -Init:$init -Detach | Out-Null
        }
        $started.Elapsed.TotalSeconds
    }
    function Measure-Call([string] $name, [scriptblock] $script, [double] $startS) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $out = @(& $script)
        $sw.Stop()
        $row = [pscustomobject]@{ Operation = $name; Containers = $Count; Seconds = [math]::Round($sw.Elapsed.TotalSeconds, 2); StartAllS = [math]::Round($startS, 1) }
        $rows.Add($row)
        Write-Host ("{0,-8} {1} containers: {2:N2} s" -f $name, $Count, $sw.Elapsed.TotalSeconds)
        $out
    }

    $s = Start-Many $Count /bin/sleep, 600 -MixInit
    $stopped = Measure-Call 'stop' { Get-UnicornContainer | Stop-UnicornContainer -Timeout $Timeout -PassThru } $s
    $codes = $stopped | Group-Object ExitCode | ForEach-Object { "$($_.Name) x$($_.Count)" }
    Write-Host "  exit codes: $($codes -join ', ')"
    Get-UnicornContainer | Remove-UnicornContainer -Force

    $s = Start-Many $Count /bin/sleep, 600 -MixInit
    $null = Measure-Call 'wait' { Get-UnicornContainer | Wait-UnicornContainer -Timeout $Timeout -ErrorAction SilentlyContinue } $s

    $null = Measure-Call 'remove' { Get-UnicornContainer | Remove-UnicornContainer -Force } 0

    $rows | Format-Table -AutoSize | Out-Host
    $result = [ordered]@{ Timeout = $Timeout; Count = $Count; Module = (Resolve-Path $ModulePath).Path; Rows = $rows }
    $dir = Join-Path (Split-Path $PSScriptRoot -Parent) 'out/bench'
    New-Item -ItemType Directory -Force $dir | Out-Null
    $result | ConvertTo-Json -Depth 5 | Set-Content (Join-Path $dir 'stop.json')
}
finally {
    # No crun or runc ran: a prefix of no one's (not 'unicorn-bench-', which other runs' cgroup
    # parents share), so that only this run's own cgroup parent is touched.
    $null = Clear-BenchEnvironment $roots $ns "unicorn-stop-none-$([guid]::NewGuid().ToString('n'))"

}
