#!/usr/bin/env pwsh
<#
.SYNOPSIS
Start latency with two launcher binaries, side by side in one session.

.DESCRIPTION
Times `$rootfs | Start-UnicornContainer -Command /bin/true -Wait` (a fresh rootfs made before each
start, the container removed after, both untimed), round-robin between the -Baseline and the
-Candidate launcher (UNICORN_LAUNCHER set before each start), after warm-up rounds that are not
counted. One session and one engine for both: what differs is only the launcher, and machine
noise hits both alike. Prints median, p10 and p90 per launcher and the ratio of the medians.

Needs root. The state and data roots are fresh temporary directories, removed at the end. The
baseline must understand the candidate engine's spec (a default start's spec is the same).

.EXAMPLE
dotnet pwsh -NoProfile -NonInteractive -File bench/Compare-Launcher.ps1 -ModulePath out/Unicorn -Baseline /tmp/old/unicorn-launcher
#>
[CmdletBinding()]
param(
    [string] $ModulePath = (Join-Path (Split-Path $PSScriptRoot -Parent) 'out/Unicorn'),
    [Parameter(Mandatory)] [string] $Baseline,
    [string] $Candidate = (Join-Path $ModulePath 'unicorn-launcher'),
    [ValidateRange(1, 100000)] [int] $Iterations = 150,
    [ValidateRange(0, 100000)] [int] $Warmup = 10
)
$ErrorActionPreference = 'Stop'
$ModulePath = (Resolve-Path $ModulePath).Path
Import-Module $ModulePath -Force
$base = Join-Path ([IO.Path]::GetTempPath()) "unicorn-bench-$([guid]::NewGuid().ToString('n').Substring(0, 12))"
$env:UNICORN_STATE_ROOT = Join-Path $base 'state'; $env:UNICORN_DATA_ROOT = Join-Path $base 'data'
$env:UNICORN_CGROUP_PARENT = Split-Path $base -Leaf
$launchers = [ordered]@{ baseline = (Resolve-Path $Baseline).Path; candidate = (Resolve-Path $Candidate).Path }
$times = @{ baseline = [Collections.Generic.List[double]]::new(); candidate = [Collections.Generic.List[double]]::new() }
$watch = [Diagnostics.Stopwatch]::new()
try {
    for ($i = 0; $i -lt $Warmup + $Iterations; $i++) {
        foreach ($name in $launchers.Keys) {
            $env:UNICORN_LAUNCHER = $launchers[$name]
            $rootfs = New-UnicornRootfs
            $watch.Restart()
            $c = $rootfs | Start-UnicornContainer -Command /bin/true -Wait
            $watch.Stop()
            if ($i -ge $Warmup) { $times[$name].Add($watch.Elapsed.TotalMilliseconds) }
            $c | Remove-UnicornContainer
        }
    }
}
finally {
    Get-UnicornContainer | Remove-UnicornContainer -Force
    Get-UnicornRootfs | Remove-UnicornRootfs
    foreach ($dir in @(Get-ChildItem /sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT, /sys/fs/cgroup/$env:UNICORN_CGROUP_PARENT -Directory -ErrorAction Ignore)) {
        try { [IO.Directory]::Delete($dir.FullName) } catch { Write-Warning "rmdir $($dir.FullName): $_" }
    }
    Remove-Item $base -Recurse -Force -ErrorAction Ignore
    Remove-Item Env:UNICORN_STATE_ROOT, Env:UNICORN_DATA_ROOT, Env:UNICORN_CGROUP_PARENT, Env:UNICORN_LAUNCHER -ErrorAction Ignore
}
function Get-At([double[]] $sorted, [double] $p) { $sorted[[int][Math]::Round(($sorted.Count - 1) * $p)] }
$median = @{}
foreach ($name in $launchers.Keys) {
    $s = [double[]]($times[$name] | Sort-Object)
    $median[$name] = Get-At $s 0.5
    '{0,-10} {1,7:N2} ms  (p10 {2:N2}, p90 {3:N2})  {4}' -f $name, $median[$name], (Get-At $s 0.1), (Get-At $s 0.9), $launchers[$name]
}
'candidate/baseline median ratio: {0:N3}' -f ($median.candidate / $median.baseline)
