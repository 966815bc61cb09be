#!/usr/bin/env pwsh
<#
.SYNOPSIS
Start latency of a /bin/true container: Unicorn next to crun and runc, in one warm session.

.DESCRIPTION
Runs round-robin (unicorn, crun, runc, unicorn, crun, runc, ...) so that machine noise hits every
runtime alike, after warm-up rounds that are not counted:
  unicorn  the wall time of `$rootfs | Start-UnicornContainer -Command /bin/true -Wait` only;
  crun     `crun --root <tmp> --cgroup-manager=disabled run --bundle <bundle> <id>`, invoked from
           this session (Unicorn makes a cgroup only for limits, so this crun row makes none either);
  runc     `runc --root <tmp> run --bundle <bundle> <id>` likewise (runc as root always makes a
           cgroup; it has no way to skip it).
Information rows, in the same rounds: New-UnicornRootfs and Remove-UnicornContainer (the untimed
parts of the Unicorn round), crun with its default cgroup manager, and `& /bin/true` (what a
native call from pwsh costs at least).

The OCI bundles hold a copy of Unicorn's default (busybox) rootfs and the `crun spec` config with
args ["/bin/true"] and terminal false. Prints median, p10 and p90 per row and the median ratios;
writes them, with every sample, to <repo>/out/bench/start-latency.json. bench/README.md has the
details.

Needs root. Unicorn's state and data roots are fresh temporary directories, removed at the end.

On a hybrid cgroup host whose cgroup2 hierarchy holds a controller, crun refuses to run at all
("cgroups in hybrid mode not supported"), whatever its cgroup manager. Then the script runs
itself again in a private mount namespace (unshare) where /dev/null is bound over
/sys/fs/cgroup/unified/cgroup.controllers, for every runtime alike; nothing changes for the host.

.EXAMPLE
dotnet pwsh -NoProfile -NonInteractive -File bench/Measure-StartLatency.ps1 -ModulePath out/Unicorn
#>
[CmdletBinding()]
param(
    [string] $ModulePath = (Join-Path (Split-Path $PSScriptRoot -Parent) 'out/Unicorn'),
    [ValidateRange(1, 1000000)]
    [int] $Iterations = 100,
    [ValidateRange(0, 1000000)]
    [int] $Warmup = 10
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$target = 0.75
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

Assert-BenchRoot
# crun on a hybrid cgroup host: this script again in a private mount namespace, once, before anything else.
$ns = Enter-BenchMountNamespace
$crun = $ns.Crun
$runc = $ns.Runc
$notes = $ns.Notes

# The rows, in round order. Compared rows first; the others are information.
$rows = [ordered]@{
    'unicorn' = 'Start-UnicornContainer -Command /bin/true -Wait (rootfs made before, container removed after, both untimed)'
}
if ($crun) { $rows['crun'] = 'crun --root <tmp> --cgroup-manager=disabled run --bundle <bundle> <id>' }
if ($runc) { $rows['runc'] = 'runc --root <tmp> run --bundle <bundle> <id> (makes and removes a cgroup per container)' }
$rows['unicorn -Privileged'] = 'the same start with the hardening off: every capability, no seccomp filter, no masked paths, no no_new_privs'
$rows['unicorn -Memory 256MB'] = 'the same start with a memory limit: a cgroup made and limited, joined by the init itself before its command, removed after (untimed)'
$rows['New-UnicornRootfs'] = 'New-UnicornRootfs (untimed part of the unicorn round)'
$rows['Remove-UnicornContainer'] = 'Remove-UnicornContainer (untimed part of the unicorn round)'
if ($crun) { $rows['crun (default cgroups)'] = 'crun --root <tmp> run --bundle <bundle> <id> (default cgroupfs manager: a cgroup per container)' }
$rows['pwsh & /bin/true'] = 'a native call from this session: the floor under the crun and runc rows'
$compared = @('unicorn', 'crun', 'runc') | Where-Object { $rows.Contains($_) }

# --- setup ------------------------------------------------------------------------------------------
$ModulePath = (Resolve-Path $ModulePath).Path
$roots = New-BenchRoots
$oci = $roots.Oci
$idPrefix = "ubench-$PID-"

$samples = [ordered]@{}
foreach ($row in $rows.Keys) { $samples[$row] = [Collections.Generic.List[double]]::new() }

# Times one `run`; its output is kept only to explain a failure.
function Invoke-Oci([string] $exe, [string] $root, [string[]] $global, [string] $bundle, [string] $id, [Diagnostics.Stopwatch] $sw) {
    $sw.Restart()
    $output = & $exe --root $root @global run --bundle $bundle $id 2>&1
    $sw.Stop()
    $code = $LASTEXITCODE
    # `run` deletes its state when the container ends; make sure, and clean up if not.
    if (Test-Path (Join-Path $root $id)) {
        & $exe --root $root delete -f $id 2>&1 | Out-Null
        Write-Warning "$(Split-Path $exe -Leaf) left state for $id; deleted it."
    }
    if ($code -ne 0) { throw "$(Split-Path $exe -Leaf) run failed ($code): $($output -join "`n")" }
    return $sw.Elapsed.TotalMilliseconds
}

$failed = $false
try {
    # -Verbose on this script is for its own round log; the cmdlets stay quiet (and unslowed).
    Import-Module $ModulePath -Force -Verbose:$false
    $moduleVersion = (Get-Module Unicorn).Version.ToString()

    # The default image is assembled on first use: do it here, untimed, and learn its directory.
    $first = New-UnicornRootfs -Verbose:$false
    $lowerDir = $first.LowerDir
    $first | Remove-UnicornRootfs -Verbose:$false

    # OCI bundles: one per runtime, each a copy of that same busybox tree, and one config for both.
    $ociRuntimes = @(if ($crun) { 'crun' }; if ($runc) { 'runc' })
    $bundles = New-OciBundles $oci $lowerDir $ociRuntimes ($crun ?? $runc) @('/bin/true')

    $sw = [Diagnostics.Stopwatch]::new()
    $trueExe = (Get-Command true -CommandType Application | Select-Object -First 1).Source
    $n = 0
    Write-Host "Unicorn $moduleVersion from $ModulePath; $Warmup warm-up and $Iterations measured rounds of: $($rows.Keys -join ', ')."
    for ($i = -$Warmup; $i -lt $Iterations; $i++) {
        $round = @{}

        # unicorn: only Start-UnicornContainer is the measured span.
        $sw.Restart()
        $r = New-UnicornRootfs -Verbose:$false
        $sw.Stop(); $round['New-UnicornRootfs'] = $sw.Elapsed.TotalMilliseconds
        $sw.Restart()
        $c = $r | Start-UnicornContainer -Command /bin/true -Wait -Verbose:$false
        $sw.Stop(); $round['unicorn'] = $sw.Elapsed.TotalMilliseconds
        $sw.Restart()
        $c | Remove-UnicornContainer -Verbose:$false
        $sw.Stop(); $round['Remove-UnicornContainer'] = $sw.Elapsed.TotalMilliseconds
        if ($c.ExitCode -ne 0) { throw "The Unicorn container exited with $($c.ExitCode)." }
        # The same start unconfined, right after: the difference is the hardening's cost.
        $r = New-UnicornRootfs -Verbose:$false
        $sw.Restart()
        $c = $r | Start-UnicornContainer -Command /bin/true -Privileged -Wait -Verbose:$false
        $sw.Stop(); $round['unicorn -Privileged'] = $sw.Elapsed.TotalMilliseconds
        $c | Remove-UnicornContainer -Verbose:$false
        # The same start with a limit, right after: the difference is the cgroup's cost.
        $r = New-UnicornRootfs -Verbose:$false
        $sw.Restart()
        $c = $r | Start-UnicornContainer -Command /bin/true -Memory 256MB -Wait -Verbose:$false
        $sw.Stop(); $round['unicorn -Memory 256MB'] = $sw.Elapsed.TotalMilliseconds
        $c | Remove-UnicornContainer -Verbose:$false

        if ($crun) {
            $round['crun'] = Invoke-Oci $crun (Join-Path $oci 'root-crun') @('--cgroup-manager=disabled') $bundles['crun'] "${idPrefix}crun-$((++$n))" $sw
        }
        if ($runc) {
            $round['runc'] = Invoke-Oci $runc (Join-Path $oci 'root-runc') @() $bundles['runc'] "${idPrefix}runc-$((++$n))" $sw
        }
        # Information rows after the compared ones, so that they do not change their order. crun's
        # cgroups start after a quiet spell: on cgroup v1 the first process migration after one
        # waits for an RCU grace period and the next ones, soon after, do not, so without it the
        # order of the rows would decide whether it pays. Unicorn migrates no process (its init
        # moves only its own thread, or is born in its cgroup), so its row needs no such spell.
        if ($crun) {
            Start-Sleep -Milliseconds 50
            $round['crun (default cgroups)'] = Invoke-Oci $crun (Join-Path $oci 'root-crun') @() $bundles['crun'] "${idPrefix}crun-cg-$((++$n))" $sw
        }
        $sw.Restart()
        $null = & $trueExe 2>&1
        $sw.Stop(); $round['pwsh & /bin/true'] = $sw.Elapsed.TotalMilliseconds
        if ($LASTEXITCODE -ne 0) { throw "$trueExe failed." }

        if ($i -ge 0) {
            foreach ($row in $round.Keys) { $samples[$row].Add($round[$row]) }
        }
        Write-Verbose ("round {0}: {1}" -f $i, (($rows.Keys | ForEach-Object { '{0} {1:F1}' -f $_, $round[$_] }) -join ', '))
    }
}
catch {
    $failed = $true
    Write-Host "Benchmark failed: $_" -ForegroundColor Red
    Write-Host $_.ScriptStackTrace
}
finally {
    # --- cleanup: every container and rootfs, the OCI runtimes' state and cgroups, then the dirs ----
    if (Clear-BenchEnvironment $roots $ns $idPrefix) { $failed = $true }
}
if ($failed) { exit 1 }

# --- results ----------------------------------------------------------------------------------------
$stats = [ordered]@{}
foreach ($row in $rows.Keys) {
    $stats[$row] = [ordered]@{ what = $rows[$row]; compared = $row -in $compared }
    foreach ($kv in (Get-SampleStats $samples[$row]).GetEnumerator()) { $stats[$row][$kv.Key] = $kv.Value }
}
$ratios = [ordered]@{}
foreach ($row in 'crun', 'runc', 'crun (default cgroups)') {
    if ($stats.Contains($row)) { $ratios["unicorn/$row"] = [Math]::Round($stats['unicorn'].medianMs / $stats[$row].medianMs, 3) }
}

Write-Host ''
$rows.Keys | ForEach-Object {
    [pscustomobject]@{
        Row         = $(if ($_ -in $compared) { $_ } else { "  $_" })
        'Median ms' = '{0,9:F1}' -f $stats[$_].medianMs
        'p10 ms'    = '{0,6:F1}' -f $stats[$_].p10Ms
        'p90 ms'    = '{0,6:F1}' -f $stats[$_].p90Ms
    }
} | Write-BenchTable
foreach ($row in $rows.Keys) { Write-Host ("  {0,-24} {1}" -f "${row}:", $rows[$row]) }
Write-Host '  (indented rows are information only)'
foreach ($note in $notes) { Write-Host "Note: $note" }

$result = [ordered]@{
    date       = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
    iterations = $Iterations
    warmup     = $Warmup
    roundOrder = @($rows.Keys)
    host       = Get-BenchHost $moduleVersion $ns
    notes      = @($notes)
    ratios     = $ratios
    target     = [ordered]@{ 'unicorn/crun' = $target }
    results    = $stats
}
Write-BenchJson $result 'start-latency.json'
if ($ratios.Contains('unicorn/crun (default cgroups)')) {
    Write-Host ('unicorn/crun (default cgroups) median ratio: {0:F2} (information: a cgroup per container for crun; Unicorn makes one only for limits)' -f $ratios['unicorn/crun (default cgroups)'])
}
if ($ratios.Contains('unicorn/runc')) { Write-Host ('unicorn/runc median ratio: {0:F2} (runc makes a cgroup per container; Unicorn only for limits)' -f $ratios['unicorn/runc']) }
if ($stats.Contains('unicorn -Memory 256MB')) {
    Write-Host ('hardening cost: +{0:F2} ms ({1:F2} with the defaults, {2:F2} with -Privileged; target < 1 ms)' -f ($stats['unicorn'].medianMs - $stats['unicorn -Privileged'].medianMs), $stats['unicorn'].medianMs, $stats['unicorn -Privileged'].medianMs)
    Write-Host ('cgroup cost: unicorn +{0:F1} ms ({1:F1} with -Memory 256MB, {2:F1} without; target < 1 ms)' -f ($stats['unicorn -Memory 256MB'].medianMs - $stats['unicorn'].medianMs), $stats['unicorn -Memory 256MB'].medianMs, $stats['unicorn'].medianMs)
    if ($stats.Contains('crun (default cgroups)')) {
        Write-Host ('cgroup cost: crun +{0:F1} ms ({1:F1} with its default cgroups, {2:F1} without)' -f ($stats['crun (default cgroups)'].medianMs - $stats['crun'].medianMs), $stats['crun (default cgroups)'].medianMs, $stats['crun'].medianMs)
        Write-Host ('unicorn -Memory 256MB / crun (default cgroups) median ratio: {0:F2}' -f ($stats['unicorn -Memory 256MB'].medianMs / $stats['crun (default cgroups)'].medianMs))
    }
}
if ($ratios.Contains('unicorn/crun')) { Write-Host ('unicorn/crun median ratio: {0:F2} (target <= {1:F2})' -f $ratios['unicorn/crun'], $target) }
else { Write-Host 'unicorn/crun median ratio: n/a (crun did not run)' }
