#!/usr/bin/env pwsh
<#
.SYNOPSIS
Start latency of a /bin/true container: Unicorn next to crun and runc, in one warm session.

.DESCRIPTION
Runs round-robin (unicorn, crun, runc, unicorn, crun, runc, ...) so that machine noise hits every
runtime alike, after warm-up rounds that are not counted:
  unicorn  the wall time of `$rootfs | Start-UnicornContainer -Command /bin/true -Wait` only;
  crun     `crun --root <tmp> --cgroup-manager=disabled run --bundle <bundle> <id>`, invoked from
           this session (Unicorn makes no cgroup yet, so neither does crun here);
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

$repo = Split-Path $PSScriptRoot -Parent
$target = 0.75
$nsVariable = 'UNICORN_BENCH_PARENT_MNTNS'
$unifiedControllers = '/sys/fs/cgroup/unified/cgroup.controllers'

function Get-MountNamespace { (Get-Item /proc/self/ns/mnt).LinkTarget }

function Find-Tool([string[]] $candidates) {
    foreach ($c in $candidates) {
        if ($c.Contains('/') -and (Test-Path $c -PathType Leaf)) { return $c }
    }
    $cmd = Get-Command $candidates[-1] -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if ($cmd) { return $cmd.Source }
    return $null
}

if ((& id -u) -ne '0') { throw 'The benchmark needs root: containers, overlay mounts and crun/runc all do.' }

$crun = Find-Tool '/usr/bin/crun', '/usr/local/bin/crun', 'crun'
$runc = Find-Tool '/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', 'runc'
$notes = [Collections.Generic.List[string]]::new()

# --- crun on a hybrid cgroup host: into a private mount namespace, once, before anything else ------
# crun 1.x refuses a hybrid host whose cgroup2 mount has any controller (hugetlb, say, when no v1
# hierarchy holds it), even with --cgroup-manager=disabled: that check comes before the manager's.
$hybridWithV2Controllers = (Test-Path $unifiedControllers) -and -not (Test-Path /sys/fs/cgroup/cgroup.controllers) -and
    ((Get-Content $unifiedControllers -Raw) -match '\S')
$parentNs = [Environment]::GetEnvironmentVariable($nsVariable)
if ($crun -and $hybridWithV2Controllers -and -not $parentNs) {
    $unshare = Find-Tool '/usr/bin/unshare', '/bin/unshare', 'unshare'
    if ($unshare) {
        # This same command line again, under unshare; the child makes the one bind mount.
        $argv = [IO.File]::ReadAllText('/proc/self/cmdline').TrimEnd([char]0).Split([char]0)
        $argv[0] = [Environment]::ProcessPath
        [Environment]::SetEnvironmentVariable($nsVariable, (Get-MountNamespace))
        Write-Host "Hybrid cgroup host with cgroup2 controllers ($((Get-Content $unifiedControllers -Raw).Trim())): running in a private mount namespace, so that crun runs."
        & $unshare --mount --propagation private -- @argv
        exit $LASTEXITCODE
    }
}
if ($parentNs) {
    if ((Get-MountNamespace) -eq $parentNs) { throw "$nsVariable is set but this is not a new mount namespace; refusing to mount anything." }
    if ($hybridWithV2Controllers) {
        & mount --bind /dev/null $unifiedControllers
        if ($LASTEXITCODE -ne 0) { throw "mount --bind /dev/null $unifiedControllers failed." }
        $notes.Add("Hybrid cgroup host: ran in a private mount namespace with /dev/null bound over $unifiedControllers (crun refuses a hybrid host whose cgroup2 mount has controllers, even with --cgroup-manager=disabled); all runtimes ran there alike.")
    }
}
if ($crun -and $hybridWithV2Controllers -and -not $parentNs) {
    $notes.Add('crun skipped: hybrid cgroup host, and no unshare to work around it.'); $crun = $null
}
elseif (-not $crun) { $notes.Add('crun skipped: not installed.') }
if (-not $runc) { $notes.Add('runc skipped: not installed.') }

# The rows, in round order. Compared rows first; the others are information.
$rows = [ordered]@{
    'unicorn' = 'Start-UnicornContainer -Command /bin/true -Wait (rootfs made before, container removed after, both untimed)'
}
if ($crun) { $rows['crun'] = 'crun --root <tmp> --cgroup-manager=disabled run --bundle <bundle> <id>' }
if ($runc) { $rows['runc'] = 'runc --root <tmp> run --bundle <bundle> <id> (makes and removes a cgroup per container)' }
$rows['New-UnicornRootfs'] = 'New-UnicornRootfs (untimed part of the unicorn round)'
$rows['Remove-UnicornContainer'] = 'Remove-UnicornContainer (untimed part of the unicorn round)'
if ($crun) { $rows['crun (default cgroups)'] = 'crun --root <tmp> run --bundle <bundle> <id> (default cgroupfs manager: a cgroup per container)' }
$rows['pwsh & /bin/true'] = 'a native call from this session: the floor under the crun and runc rows'
$compared = @('unicorn', 'crun', 'runc') | Where-Object { $rows.Contains($_) }

# --- setup ------------------------------------------------------------------------------------------
$ModulePath = (Resolve-Path $ModulePath).Path
$base = Join-Path ([IO.Path]::GetTempPath()) "unicorn-bench-$([Guid]::NewGuid().ToString('N').Substring(0, 12))"
$stateRoot = Join-Path $base 'state'
$dataRoot = Join-Path $base 'data'
$oci = Join-Path $base 'oci'
New-Item -ItemType Directory -Path $stateRoot, $dataRoot, $oci -Force | Out-Null
$env:UNICORN_STATE_ROOT = $stateRoot
$env:UNICORN_DATA_ROOT = $dataRoot
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

    # OCI bundles: one per runtime, each a copy of that same busybox tree (runc makes mount points
    # such as dev/pts in it, so Unicorn's image is not used in place), and one config for both.
    $bundles = @{}
    $ociRuntimes = @(if ($crun) { 'crun' }; if ($runc) { 'runc' })
    if ($ociRuntimes) {
        $specDir = Join-Path $oci 'spec'
        New-Item -ItemType Directory -Path $specDir | Out-Null
        Push-Location $specDir
        try { & ($crun ?? $runc) spec; if ($LASTEXITCODE -ne 0) { throw 'Making the OCI config (spec) failed.' } }
        finally { Pop-Location }
        $spec = Get-Content (Join-Path $specDir 'config.json') -Raw | ConvertFrom-Json -AsHashtable
        $spec.process.args = @('/bin/true')
        $spec.process.terminal = $false
        $spec.root.path = 'rootfs'
        $spec.root.readonly = $true
        $nsTypes = @($spec.linux.namespaces | ForEach-Object { $_.type })
        foreach ($ns in 'pid', 'mount', 'uts', 'ipc', 'network') {
            if ($ns -notin $nsTypes) { $spec.linux.namespaces += @{ type = $ns } }
        }
        $configJson = $spec | ConvertTo-Json -Depth 20
        foreach ($rt in $ociRuntimes) {
            $bundle = Join-Path $oci "bundle-$rt"
            New-Item -ItemType Directory -Path $bundle, (Join-Path $oci "root-$rt") | Out-Null
            & cp -a $lowerDir (Join-Path $bundle 'rootfs')
            if ($LASTEXITCODE -ne 0) { throw "Copying $lowerDir failed." }
            Set-Content (Join-Path $bundle 'config.json') $configJson
            $bundles[$rt] = $bundle
        }
    }

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

        if ($crun) {
            $round['crun'] = Invoke-Oci $crun (Join-Path $oci 'root-crun') @('--cgroup-manager=disabled') $bundles['crun'] "${idPrefix}crun-$((++$n))" $sw
        }
        if ($runc) {
            $round['runc'] = Invoke-Oci $runc (Join-Path $oci 'root-runc') @() $bundles['runc'] "${idPrefix}runc-$((++$n))" $sw
        }
        # Information rows after the compared ones, so that they do not change their order.
        if ($crun) {
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
    try {
        if (Get-Module Unicorn) {
            Get-UnicornContainer -ErrorAction Ignore | Remove-UnicornContainer -Force -ErrorAction Continue
            Get-UnicornRootfs -ErrorAction Ignore | Remove-UnicornRootfs -ErrorAction Continue
        }
    }
    catch { Write-Warning "Cleaning up Unicorn: $_" }
    foreach ($rt in 'crun', 'runc') {
        $root = Join-Path $oci "root-$rt"
        $exe = if ($rt -eq 'crun') { $crun } else { $runc }
        if ($exe -and (Test-Path $root)) {
            foreach ($left in Get-ChildItem $root -Directory -ErrorAction Ignore) {
                Write-Warning "$rt left state for $($left.Name); deleting it."
                & $exe --root $root delete -f $left.Name 2>&1 | Out-Null
            }
        }
    }
    # Cgroups crun and runc made (at a hierarchy's root, or under this process's cgroup): all gone?
    $cgroupDirs = foreach ($line in Get-Content /proc/self/cgroup) {
        $f = $line.Split(':', 3)
        $hierarchy = if ($f[1] -eq '') { 'unified' } else { ($f[1] -replace '^name=', '').Split(',')[0] }
        foreach ($d in "/sys/fs/cgroup/$hierarchy", "/sys/fs/cgroup/$hierarchy$($f[2])", '/sys/fs/cgroup') {
            if (Test-Path $d) { $d }
        }
    }
    foreach ($d in $cgroupDirs | Sort-Object -Unique) {
        foreach ($left in Get-ChildItem $d -Directory -Filter "$idPrefix*" -ErrorAction Ignore) {
            Write-Warning "Cgroup $($left.FullName) was left behind; removing it."
            Remove-Item $left.FullName -ErrorAction Continue
        }
    }
    if ($parentNs -and $hybridWithV2Controllers) { & umount $unifiedControllers 2>&1 | Out-Null }

    $mounted = @(Get-Content /proc/self/mountinfo | ForEach-Object { $_.Split(' ')[4] } |
            Where-Object { $_ -eq $base -or $_.StartsWith("$base/") })
    if ($mounted) {
        $failed = $true
        Write-Warning "Still mounted under $($base), so it is left in place: $($mounted -join ', ')"
    }
    else {
        Remove-Item $base -Recurse -Force -ErrorAction Continue
    }
    Remove-Item Env:UNICORN_STATE_ROOT, Env:UNICORN_DATA_ROOT -ErrorAction Ignore
}
if ($failed) { exit 1 }

# --- results ----------------------------------------------------------------------------------------
function Get-Percentile([double[]] $sorted, [double] $p) {
    # Linear interpolation between the closest ranks (numpy's default).
    $pos = ($sorted.Count - 1) * $p
    $lo = [int][Math]::Floor($pos); $hi = [int][Math]::Ceiling($pos)
    return $sorted[$lo] + ($sorted[$hi] - $sorted[$lo]) * ($pos - $lo)
}

$stats = [ordered]@{}
foreach ($row in $rows.Keys) {
    $sorted = [double[]]($samples[$row] | Sort-Object)
    $stats[$row] = [ordered]@{
        what      = $rows[$row]
        compared  = $row -in $compared
        medianMs  = [Math]::Round((Get-Percentile $sorted 0.5), 3)
        p10Ms     = [Math]::Round((Get-Percentile $sorted 0.1), 3)
        p90Ms     = [Math]::Round((Get-Percentile $sorted 0.9), 3)
        minMs     = [Math]::Round($sorted[0], 3)
        maxMs     = [Math]::Round($sorted[-1], 3)
        samplesMs = @($samples[$row] | ForEach-Object { [Math]::Round($_, 3) })
    }
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
} | Format-Table -AutoSize | Out-String -Width 200 | ForEach-Object { Write-Host $_.Trim("`r", "`n") }
foreach ($row in $rows.Keys) { Write-Host ("  {0,-24} {1}" -f "${row}:", $rows[$row]) }
Write-Host '  (indented rows are information only)'
foreach ($note in $notes) { Write-Host "Note: $note" }

$cpu = (Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '^model name\s*:\s*', ''
$result = [ordered]@{
    date       = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
    iterations = $Iterations
    warmup     = $Warmup
    roundOrder = @($rows.Keys)
    host       = [ordered]@{
        kernel  = (Get-Content /proc/sys/kernel/osrelease -Raw).Trim()
        cpus    = [Environment]::ProcessorCount
        cpu     = $cpu
        pwsh    = $PSVersionTable.PSVersion.ToString()
        unicorn = $moduleVersion
        crun    = $(if ($crun) { (& $crun --version | Select-Object -First 1) } else { $null })
        runc    = $(if ($runc) { (& $runc --version | Select-Object -First 1) } else { $null })
    }
    notes      = @($notes)
    ratios     = $ratios
    target     = [ordered]@{ 'unicorn/crun' = $target }
    results    = $stats
}
$jsonPath = Join-Path $repo 'out/bench/start-latency.json'
New-Item -ItemType Directory -Path (Split-Path $jsonPath) -Force | Out-Null
$result | ConvertTo-Json -Depth 6 | Set-Content $jsonPath
Write-Host "Wrote $jsonPath"
if ($ratios.Contains('unicorn/crun (default cgroups)')) {
    Write-Host ('unicorn/crun (default cgroups) median ratio: {0:F2} (information: Unicorn makes no cgroup yet)' -f $ratios['unicorn/crun (default cgroups)'])
}
if ($ratios.Contains('unicorn/runc')) { Write-Host ('unicorn/runc median ratio: {0:F2} (runc makes a cgroup, Unicorn none yet)' -f $ratios['unicorn/runc']) }
if ($ratios.Contains('unicorn/crun')) { Write-Host ('unicorn/crun median ratio: {0:F2} (target <= {1:F2})' -f $ratios['unicorn/crun'], $target) }
else { Write-Host 'unicorn/crun median ratio: n/a (crun did not run)' }
