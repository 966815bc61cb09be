#!/usr/bin/env pwsh
<#
.SYNOPSIS
Host cost of running containers: the supervisor's memory, Get-UnicornContainer with many containers,
and Invoke-UnicornCommand next to crun exec and runc exec, in one warm session.

.DESCRIPTION
Starts detached Unicorn containers running `sleep 1000` (Start-UnicornContainer -Detach, each on a
default rootfs of its own), one after the other, up to the largest of -Counts and -RssContainers, and
on the way measures:
  supervisor RSS  VmRSS of the supervisor (unicorn-launcher, the parent of the container's init) of
                  each of the first -RssContainers containers; next to it, the VmRSS of the
                  `crun run` and `runc run` process while a container runs in the foreground (with
                  `run -d` neither leaves a process behind), read 0.5 s after the start;
  Get             Get-UnicornContainer (all containers), the median of -GetCalls warm calls, with
                  each of -Counts containers present, and how it grows;
  exec            `Invoke-UnicornCommand <c> -Command /bin/true`, round-robin with
                  `crun exec <id> /bin/true` and `runc exec <id> /bin/true` against containers of
                  theirs started with `run -d`, after warm-up rounds that are not counted; with the
                  smallest of -Counts Unicorn containers present.
The OCI bundles are like Measure-StartLatency.ps1's (crun without cgroups, runc with), running
`sleep 1000`. Prints tables and the headline numbers; writes them, with every sample, to
<repo>/out/bench/lifecycle.json. bench/README.md has the details.

Needs root. Unicorn's state and data roots are fresh temporary directories, removed at the end with
every container; crun's and runc's containers are killed and deleted. Like Measure-StartLatency.ps1,
on a hybrid cgroup host whose cgroup2 hierarchy holds a controller it runs itself again in a private
mount namespace, so that crun runs.

.EXAMPLE
dotnet pwsh -NoProfile -NonInteractive -File bench/Measure-Lifecycle.ps1 -ModulePath out/Unicorn
#>
[CmdletBinding()]
param(
    [string] $ModulePath = (Join-Path (Split-Path $PSScriptRoot -Parent) 'out/Unicorn'),
    # How many containers are present for each measurement of Get-UnicornContainer: numbers, or one
    # string of them separated by commas (what -File passes for `-Counts 1,50,200`).
    [string[]] $Counts = @('1', '50', '200'),
    # How many supervisors' RSS to read.
    [ValidateRange(1, 10000)]
    [int] $RssContainers = 20,
    # Timed Get-UnicornContainer calls per count (after 3 untimed ones).
    [ValidateRange(1, 100000)]
    [int] $GetCalls = 20,
    # Foreground `crun run` and `runc run` processes to read the RSS of.
    [ValidateRange(1, 1000)]
    [int] $RssSamples = 5,
    # Measured and warm-up rounds of exec.
    [ValidateRange(1, 1000000)]
    [int] $Iterations = 100,
    [ValidateRange(0, 1000000)]
    [int] $Warmup = 10
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$rssTargetKiB = 1024
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

# The parameter is a [string[]]: the numbers go in a variable of their own.
$getCounts = [int[]]@($Counts -split ',' | ForEach-Object {
        $c = 0
        if (-not [int]::TryParse($_.Trim(), [ref] $c) -or $c -lt 1 -or $c -gt 10000) { throw "-Counts: '$_' is not a number from 1 to 10000." }
        $c
    } | Sort-Object -Unique)
$levels = @(@($getCounts) + $RssContainers | Sort-Object -Unique)

Assert-BenchRoot
# crun on a hybrid cgroup host: this script again in a private mount namespace, once, before anything else.
$ns = Enter-BenchMountNamespace
$crun = $ns.Crun
$runc = $ns.Runc
$notes = $ns.Notes

$ociExe = @{ crun = $crun; runc = $runc }
$ociRuntimes = @(if ($crun) { 'crun' }; if ($runc) { 'runc' })
# The OCI rows: a runtime and its global options. crun without cgroups, like Unicorn (which makes
# none yet); runc has no way to skip them; crun with its default cgroupfs manager as information.
$ociVariants = [ordered]@{}
if ($crun) { $ociVariants['crun'] = @{ Rt = 'crun'; Global = @('--cgroup-manager=disabled') } }
if ($runc) { $ociVariants['runc'] = @{ Rt = 'runc'; Global = @() } }
if ($crun) { $ociVariants['crun (default cgroups)'] = @{ Rt = 'crun'; Global = @() } }

# The exec rows, in round order. Compared rows first; the others are information.
$execRows = [ordered]@{
    'unicorn' = 'Invoke-UnicornCommand <container> -Command /bin/true (sets $LASTEXITCODE, checked to be 0)'
}
if ($crun) { $execRows['crun'] = 'crun --root <tmp> --cgroup-manager=disabled exec <id> /bin/true (container from run -d, no cgroup)' }
if ($runc) { $execRows['runc'] = 'runc --root <tmp> exec <id> /bin/true (container from run -d; joins its cgroups)' }
if ($crun) { $execRows['crun (default cgroups)'] = 'crun --root <tmp> exec <id> /bin/true (container from run -d with the default cgroupfs manager; joins its cgroups)' }
$execRows['pwsh & /bin/true'] = 'a native call from this session: the floor under the crun and runc rows'
$compared = @('unicorn', 'crun', 'runc') | Where-Object { $execRows.Contains($_) }

# --- setup ------------------------------------------------------------------------------------------
$ModulePath = (Resolve-Path $ModulePath).Path
$roots = New-BenchRoots
$oci = $roots.Oci
$idPrefix = "ubench-$PID-"

$unicorn = [Collections.Generic.List[object]]::new()        # the containers, in start order
$startMs = [Collections.Generic.List[double]]::new()        # Start-UnicornContainer -Detach, each
$processes = [Collections.Generic.List[object]]::new()      # every process started, to check at the end
$getSamples = [ordered]@{}                                  # count -> Get-UnicornContainer ms
$supervisors = [Collections.Generic.List[object]]::new()
$ociRss = [ordered]@{}                                      # rt -> foreground run process, each sample
$ociDetached = [ordered]@{}                                 # OCI row -> what `run -d` leaves
$execSamples = [ordered]@{}
foreach ($row in $execRows.Keys) { $execSamples[$row] = [Collections.Generic.List[double]]::new() }
$removeMs = $null
$sw = [Diagnostics.Stopwatch]::new()

# /proc/<pid>/status as a hashtable; a KiB field as a number; the start time (stat field 22).
function Get-ProcStatus([int] $procId) {
    $status = @{}
    foreach ($line in [IO.File]::ReadAllLines("/proc/$procId/status")) {
        $kv = $line.Split(':', 2)
        if ($kv.Count -eq 2) { $status[$kv[0]] = $kv[1].Trim() }
    }
    return $status
}
function Get-KiB($status, [string] $field) { [long]($status[$field] -split '\s+')[0] }
function Get-StartTime([int] $procId) {
    $stat = [IO.File]::ReadAllText("/proc/$procId/stat")
    return [ulong]$stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')[19]
}
function Get-Pss([int] $procId) {
    $line = [IO.File]::ReadAllLines("/proc/$procId/smaps_rollup") | Where-Object { $_ -like 'Pss:*' } | Select-Object -First 1
    return [long]($line -split '\s+')[1]
}
# Remembered with its start time, so that the check at the end is not fooled by a reused pid.
function Register-Process([int] $procId, [string] $what) {
    try { $processes.Add([pscustomobject]@{ Pid = $procId; StartTime = (Get-StartTime $procId); What = $what }) }
    catch { Write-Warning "Could not read /proc/$procId/stat ($what): $_" }
}
# The parent of a pid, and what it is.
function Get-Parent([int] $procId) {
    $ppid = [int](Get-ProcStatus $procId)['PPid']
    $comm = try { [IO.File]::ReadAllText("/proc/$ppid/comm").Trim() } catch { '?' }
    $exe = try { (Get-Item "/proc/$ppid/exe").LinkTarget } catch { $null }
    return [pscustomobject]@{ Pid = $ppid; Comm = $comm; Exe = $exe }
}

# Starts Unicorn containers until $n run.
function Start-Until([int] $n) {
    while ($unicorn.Count -lt $n) {
        $name = "${idPrefix}$($unicorn.Count + 1)"
        $sw.Restart()
        $c = Start-UnicornContainer -Detach -Command sleep, 1000 -Name $name -Verbose:$false
        $sw.Stop()
        $startMs.Add($sw.Elapsed.TotalMilliseconds)
        if ($c.State -ne 'Running' -or -not $c.Pid) { throw "Container $name is $($c.State), not running." }
        $unicorn.Add($c)
        Register-Process $c.Pid "init of $name"
        Register-Process (Get-Parent $c.Pid).Pid "supervisor of $name"
    }
}

function Measure-Get([int] $n) {
    $list = $null
    $times = [Collections.Generic.List[double]]::new()
    for ($i = -3; $i -lt $GetCalls; $i++) {
        $sw.Restart()
        $list = @(Get-UnicornContainer -Verbose:$false)
        $sw.Stop()
        if ($i -ge 0) { $times.Add($sw.Elapsed.TotalMilliseconds) }
    }
    $notRunning = @($list | Where-Object State -NE 'Running')
    if ($list.Count -ne $n -or $notRunning) {
        throw "Get-UnicornContainer returned $($list.Count) containers, $($notRunning.Count) of them not running; expected $n running."
    }
    $getSamples["$n"] = $times
    Write-Verbose ("Get-UnicornContainer with {0}: median {1:F2} ms" -f $n, (Get-Percentile ([double[]]($times | Sort-Object)) 0.5))
}

function Measure-SupervisorRss {
    foreach ($c in $unicorn.GetRange(0, $RssContainers)) {
        $sup = Get-Parent $c.Pid
        if ($sup.Exe -ne (Join-Path $ModulePath 'unicorn-launcher')) {
            throw "The parent of $($c.Name)'s init (pid $($c.Pid)) is $($sup.Pid) $($sup.Comm) ($($sup.Exe)), not the launcher."
        }
        $status = Get-ProcStatus $sup.Pid
        $supervisors.Add([ordered]@{
                container  = $c.Name
                pid        = $sup.Pid
                comm       = $sup.Comm
                vmRssKiB   = Get-KiB $status 'VmRSS'
                vmHwmKiB   = Get-KiB $status 'VmHWM'
                rssAnonKiB = Get-KiB $status 'RssAnon'
                rssFileKiB = Get-KiB $status 'RssFile'
                pssKiB     = Get-Pss $sup.Pid
                threads    = [int]$status['Threads']
            })
    }
}

# A row's runtime, and its global options (--root first).
function Get-OciExe([string] $row) { $ociExe[$ociVariants[$row].Rt] }
function Get-OciArgs([string] $row) { @('--root', (Join-Path $oci "root-$($ociVariants[$row].Rt)")) + $ociVariants[$row].Global }
function Test-OciState([string] $row, [string] $id) { Test-Path (Join-Path $oci "root-$($ociVariants[$row].Rt)/$id") }

# `<rt> run` in the foreground (stdio on pipes, as from a shell), its VmRSS 0.5 s on, then killed.
function Measure-OciForeground([string] $rt, [string] $id) {
    $psi = [Diagnostics.ProcessStartInfo]::new((Get-OciExe $rt))
    foreach ($a in (Get-OciArgs $rt) + @('run', '--bundle', (Join-Path $oci "bundle-$rt"), $id)) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardInput = $psi.RedirectStandardOutput = $psi.RedirectStandardError = $true
    $p = [Diagnostics.Process]::Start($psi)
    try {
        Register-Process $p.Id "$rt run $id"
        Start-Sleep -Milliseconds 500
        if ($p.HasExited) { throw "$rt run ended early ($($p.ExitCode)): $($p.StandardError.ReadToEnd())" }
        $state = & (Get-OciExe $rt) @(Get-OciArgs $rt) state $id 2>&1
        if ($LASTEXITCODE -ne 0 -or ($state -join "`n" | ConvertFrom-Json).status -ne 'running') { throw "$rt state ${id}: $state" }
        $status = Get-ProcStatus $p.Id
        $sample = [ordered]@{
            pid        = $p.Id
            vmRssKiB   = Get-KiB $status 'VmRSS'
            vmHwmKiB   = Get-KiB $status 'VmHWM'
            rssAnonKiB = Get-KiB $status 'RssAnon'
            rssFileKiB = Get-KiB $status 'RssFile'
            pssKiB     = Get-Pss $p.Id
            threads    = [int]$status['Threads']
        }
    }
    finally {
        if (-not $p.HasExited) {
            & (Get-OciExe $rt) @(Get-OciArgs $rt) kill $id KILL 2>&1 | Out-Null
            if (-not $p.WaitForExit(10000)) { $p.Kill(); $p.WaitForExit() }
        }
        if (Test-OciState $rt $id) { & (Get-OciExe $rt) @(Get-OciArgs $rt) delete -f $id 2>&1 | Out-Null }
        $p.Dispose()
    }
    return $sample
}

# `<rt> run -d`: the container's stdio to a log file (a pipe would be held open by it).
function Start-OciDetached([string] $row, [string] $id) {
    $log = Join-Path $oci "$id.log"
    $bundle = Join-Path $oci "bundle-$($ociVariants[$row].Rt)"
    & /bin/sh -c 'log=$1; shift; exec "$@" </dev/null >"$log" 2>&1' sh $log (Get-OciExe $row) @(Get-OciArgs $row) run -d --bundle $bundle $id
    if ($LASTEXITCODE -ne 0) { throw "$row run -d failed ($LASTEXITCODE): $(Get-Content $log -Raw)" }
    $state = (& (Get-OciExe $row) @(Get-OciArgs $row) state $id 2>&1) -join "`n" | ConvertFrom-Json
    if ($state.status -ne 'running') { throw "$row container $id is $($state.status), not running." }
    Register-Process $state.pid "init of $row $id"
    $parent = Get-Parent $state.pid
    $ociDetached[$row] = [ordered]@{
        initPid      = $state.pid
        parentPid    = $parent.Pid
        parentComm   = $parent.Comm
        runtimeStays = [bool]($parent.Exe -and (Split-Path $parent.Exe -Leaf) -in 'crun', 'runc')
    }
}

function Remove-OciContainer([string] $row, [string] $id) {
    if (-not (Test-OciState $row $id)) { return }
    & (Get-OciExe $row) @(Get-OciArgs $row) kill $id KILL 2>&1 | Out-Null
    & (Get-OciExe $row) @(Get-OciArgs $row) delete -f $id 2>&1 | Out-Null
    if ($LASTEXITCODE -ne 0) { Write-Warning "$row delete -f $id failed." }
}

function Measure-Exec($target, $ociIds) {
    $trueExe = (Get-Command true -CommandType Application | Select-Object -First 1).Source
    for ($i = -$Warmup; $i -lt $Iterations; $i++) {
        $round = @{}
        $sw.Restart()
        $null = Invoke-UnicornCommand $target -Command /bin/true -Verbose:$false
        $sw.Stop(); $round['unicorn'] = $sw.Elapsed.TotalMilliseconds
        if ($LASTEXITCODE -ne 0) { throw "Invoke-UnicornCommand /bin/true exited with $LASTEXITCODE." }
        foreach ($row in $ociVariants.Keys) {
            $exe = Get-OciExe $row
            $a = Get-OciArgs $row
            $sw.Restart()
            $output = & $exe @a exec $ociIds[$row] /bin/true 2>&1
            $sw.Stop(); $round[$row] = $sw.Elapsed.TotalMilliseconds
            if ($LASTEXITCODE -ne 0) { throw "$row exec failed ($LASTEXITCODE): $($output -join "`n")" }
        }
        $sw.Restart()
        $null = & $trueExe 2>&1
        $sw.Stop(); $round['pwsh & /bin/true'] = $sw.Elapsed.TotalMilliseconds
        if ($LASTEXITCODE -ne 0) { throw "$trueExe failed." }
        if ($i -ge 0) {
            foreach ($row in $round.Keys) { $execSamples[$row].Add($round[$row]) }
        }
        Write-Verbose ("exec round {0}: {1}" -f $i, (($execRows.Keys | ForEach-Object { '{0} {1:F1}' -f $_, $round[$_] }) -join ', '))
    }
}

$failed = $false
try {
    Import-Module $ModulePath -Force -Verbose:$false
    $moduleVersion = (Get-Module Unicorn).Version.ToString()

    # The default image is assembled on first use: do it here, untimed, and learn its directory.
    $first = New-UnicornRootfs -Verbose:$false
    $lowerDir = $first.LowerDir
    $first | Remove-UnicornRootfs -Verbose:$false
    # One bundle per runtime, like Measure-StartLatency.ps1's, running sleep 1000.
    $null = New-OciBundles $oci $lowerDir $ociRuntimes ($crun ?? $runc) @('sleep', '1000')

    Write-Host "Unicorn $moduleVersion from $ModulePath; detached sleep containers up to $($levels[-1]): Get-UnicornContainer at $($getCounts -join ', '), supervisor RSS at $RssContainers; exec: $Warmup warm-up and $Iterations measured rounds of: $($execRows.Keys -join ', ')."
    $n = 0
    foreach ($level in $levels) {
        Start-Until $level
        if ($level -in $getCounts) { Measure-Get $level }
        if ($level -eq $RssContainers) {
            Measure-SupervisorRss
            # The OCI runtimes' own process, while a container runs in the foreground; alternately.
            foreach ($rt in $ociRuntimes) { $ociRss[$rt] = [Collections.Generic.List[object]]::new() }
            for ($i = 0; $i -lt $RssSamples; $i++) {
                foreach ($rt in $ociRuntimes) { $ociRss[$rt].Add((Measure-OciForeground $rt "${idPrefix}$rt-fg-$((++$n))")) }
            }
        }
        if ($level -eq $levels[0]) {
            # exec, with the fewest containers present: one of ours, and one per OCI row.
            $ociIds = [ordered]@{}
            try {
                foreach ($row in $ociVariants.Keys) {
                    $ociIds[$row] = "${idPrefix}exec-$((++$n))"
                    Start-OciDetached $row $ociIds[$row]
                }
                Measure-Exec $unicorn[0] $ociIds
            }
            finally {
                foreach ($row in $ociIds.Keys) { Remove-OciContainer $row $ociIds[$row] }
            }
        }
    }

    # All of them at once, as information: the removal of running containers.
    $sw.Restart()
    Get-UnicornContainer -Verbose:$false | Remove-UnicornContainer -Force -Verbose:$false
    $sw.Stop()
    $removeMs = $sw.Elapsed.TotalMilliseconds
    $left = @(Get-UnicornContainer -Verbose:$false)
    if ($left) { throw "$($left.Count) containers are left after Remove-UnicornContainer -Force." }
}
catch {
    $failed = $true
    Write-Host "Benchmark failed: $_" -ForegroundColor Red
    Write-Host $_.ScriptStackTrace
}
finally {
    # --- cleanup: every container and rootfs, the OCI runtimes' state and cgroups, then the dirs ----
    if (Clear-BenchEnvironment $roots $ns $idPrefix) { $failed = $true }
    # No process of ours is left: not a container's init, a supervisor, a crun or runc.
    $deadline = [DateTime]::UtcNow.AddSeconds(5)
    do {
        $alive = @($processes | Where-Object { try { (Get-StartTime $_.Pid) -eq $_.StartTime -and (Get-ProcStatus $_.Pid)['State'] -notlike 'Z*' } catch { $false } })
        $mentioning = @(Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$' | Where-Object {
                try { [IO.File]::ReadAllText("$($_.FullName)/cmdline").Contains($roots.Base) } catch { $false }
            })
        if (-not ($alive -or $mentioning)) { break }
        Start-Sleep -Milliseconds 100
    } while ([DateTime]::UtcNow -lt $deadline)
    if ($alive -or $mentioning) {
        $failed = $true
        Write-Warning "Processes are left: $((@($alive | ForEach-Object { "$($_.Pid) ($($_.What))" }) + @($mentioning | ForEach-Object { "$($_.Name) (mentions $($roots.Base))" })) -join ', ')"
    }
}
if ($failed) { exit 1 }

# --- results ----------------------------------------------------------------------------------------
# Supervisor and OCI runtime memory.
$memRows = [ordered]@{}
$memRows['unicorn supervisor'] = [ordered]@{
    what    = 'VmRSS of unicorn-launcher, the supervisor of a detached container (the parent of its init), one per running container'
    samples = @($supervisors)
}
foreach ($rt in $ociRss.Keys) {
    $memRows["$rt run (foreground)"] = [ordered]@{
        what    = "VmRSS of ``$rt run`` 0.5 s after it started a sleep container in the foreground; with ``run -d`` no $rt process stays"
        samples = @($ociRss[$rt])
    }
}
foreach ($row in @($memRows.Keys)) {
    foreach ($field in 'vmRss', 'vmHwm', 'pss') {
        $stats = Get-SampleStats ($memRows[$row].samples | ForEach-Object { $_["${field}KiB"] }) 'KiB' 0
        $memRows[$row]["${field}KiB"] = [ordered]@{ median = $stats.medianKiB; min = $stats.minKiB; max = $stats.maxKiB }
    }
}

$getStats = [ordered]@{}
foreach ($count in $getCounts) {
    $getStats["$count"] = Get-SampleStats $getSamples["$count"]
    $getStats["$count"]['perContainerMs'] = [Math]::Round($getStats["$count"].medianMs / $count, 4)
}
$lo = $getCounts[0]; $hi = $getCounts[-1]
$getRatios = [ordered]@{}
if ($hi -ne $lo) {
    $tLo = $getStats["$lo"].medianMs; $tHi = $getStats["$hi"].medianMs
    $getRatios["time($hi)/time($lo)"] = [Math]::Round($tHi / $tLo, 3)
    $getRatios["time($hi)/(($hi/$lo)*time($lo))"] = [Math]::Round($tHi / (($hi / $lo) * $tLo), 3)
    # The cost of one more container, between consecutive counts: flat if growth is linear.
    for ($i = 1; $i -lt $getCounts.Count; $i++) {
        $a = $getCounts[$i - 1]; $b = $getCounts[$i]
        $getRatios["marginal ms per container, $a..$b"] = [Math]::Round(($getStats["$b"].medianMs - $getStats["$a"].medianMs) / ($b - $a), 4)
    }
}

$execStats = [ordered]@{}
foreach ($row in $execRows.Keys) {
    $execStats[$row] = [ordered]@{ what = $execRows[$row]; compared = $row -in $compared }
    foreach ($kv in (Get-SampleStats $execSamples[$row]).GetEnumerator()) { $execStats[$row][$kv.Key] = $kv.Value }
}
$execRatios = [ordered]@{}
foreach ($row in 'crun', 'runc', 'crun (default cgroups)') {
    if ($execStats.Contains($row)) { $execRatios["unicorn/$row"] = [Math]::Round($execStats['unicorn'].medianMs / $execStats[$row].medianMs, 3) }
}
$startStats = Get-SampleStats $startMs
$firstStarts = Get-SampleStats $startMs.GetRange(0, [Math]::Min(20, $startMs.Count))
$lastStarts = Get-SampleStats $startMs.GetRange([Math]::Max(0, $startMs.Count - 20), [Math]::Min(20, $startMs.Count))

Write-Host ''
Write-Host "Memory per running container (KiB; $RssContainers supervisors, $RssSamples runs of each OCI runtime):"
$memRows.Keys | ForEach-Object {
    [pscustomobject]@{
        Process          = $_
        'VmRSS median'   = '{0,12}' -f $memRows[$_].vmRssKiB.median
        'VmRSS max'      = '{0,9}' -f $memRows[$_].vmRssKiB.max
        'VmHWM max'      = '{0,9}' -f $memRows[$_].vmHwmKiB.max
        'Pss median'     = '{0,10}' -f $memRows[$_].pssKiB.median
    }
} | Write-BenchTable
foreach ($row in $memRows.Keys) { Write-Host ("  {0,-22} {1}" -f "${row}:", $memRows[$row].what) }
foreach ($row in $ociDetached.Keys) {
    $d = $ociDetached[$row]
    $rt = $ociVariants[$row].Rt
    Write-Host ("  {0} run -d: the init's parent is pid {1} ({2}); {3}" -f $row, $d.parentPid, $d.parentComm,
        $(if ($d.runtimeStays) { "a $rt process stays" } else { "no $rt process stays" }))
}

Write-Host ''
Write-Host "Get-UnicornContainer with N running containers (median of $GetCalls warm calls):"
$getCounts | ForEach-Object {
    [pscustomobject]@{
        Containers         = $_
        'Median ms'        = '{0,9:F2}' -f $getStats["$_"].medianMs
        'p10 ms'           = '{0,6:F2}' -f $getStats["$_"].p10Ms
        'p90 ms'           = '{0,6:F2}' -f $getStats["$_"].p90Ms
        'ms per container' = '{0,16:F3}' -f $getStats["$_"].perContainerMs
    }
} | Write-BenchTable
foreach ($k in $getRatios.Keys) { if ($k -like 'marginal*') { Write-Host ('  {0}: {1:F3}' -f $k, $getRatios[$k]) } }

Write-Host ''
Write-Host "exec /bin/true in a running container ($Iterations rounds):"
$execRows.Keys | ForEach-Object {
    [pscustomobject]@{
        Row         = $(if ($_ -in $compared) { $_ } else { "  $_" })
        'Median ms' = '{0,9:F1}' -f $execStats[$_].medianMs
        'p10 ms'    = '{0,6:F1}' -f $execStats[$_].p10Ms
        'p90 ms'    = '{0,6:F1}' -f $execStats[$_].p90Ms
    }
} | Write-BenchTable
foreach ($row in $execRows.Keys) { Write-Host ("  {0,-24} {1}" -f "${row}:", $execRows[$row]) }
Write-Host '  (indented rows are information only)'
Write-Host ''
$startText = if ($startMs.Count -gt 40) {
    'median {0:F1} ms over the first 20, {1:F1} ms over the last 20' -f $firstStarts.medianMs, $lastStarts.medianMs
}
else { 'median {0:F1} ms' -f $startStats.medianMs }
Write-Host ('Information: Start-UnicornContainer -Detach of {0} containers, one after the other: {1}. Remove-UnicornContainer -Force of all of them: {2:F1} ms per container.' -f
    $startMs.Count, $startText, ($removeMs / $startMs.Count))
foreach ($note in $notes) { Write-Host "Note: $note" }

$sup = $memRows['unicorn supervisor'].vmRssKiB
$result = [ordered]@{
    date       = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
    parameters = [ordered]@{ counts = @($getCounts); rssContainers = $RssContainers; getCalls = $GetCalls; rssSamples = $RssSamples; iterations = $Iterations; warmup = $Warmup }
    host       = Get-BenchHost $moduleVersion $ns
    notes      = @($notes)
    target     = [ordered]@{ 'supervisor VmRSS KiB' = $rssTargetKiB }
    memory     = [ordered]@{ perProcess = $memRows; ociRunDetached = $ociDetached }
    get        = [ordered]@{ byCount = $getStats; ratios = $getRatios }
    exec       = [ordered]@{ roundOrder = @($execRows.Keys); ratios = $execRatios; results = $execStats }
    start      = [ordered]@{ what = 'Start-UnicornContainer -Detach -Command sleep, 1000 -Name <name>, in start order'; all = $startStats; first = $firstStarts; last = $lastStarts }
    removeAll  = [ordered]@{ what = 'Get-UnicornContainer | Remove-UnicornContainer -Force, all running'; containers = $startMs.Count; totalMs = [Math]::Round($removeMs, 3) }
}
Write-BenchJson $result 'lifecycle.json'
if ($getRatios.Count) {
    Write-Host ('Get-UnicornContainer time({0})/time({1}): {2:F2}; time({0})/(({0}/{1})*time({1})): {3:F2} (at most 1: no faster than linear)' -f
        $hi, $lo, $getRatios["time($hi)/time($lo)"], $getRatios["time($hi)/(($hi/$lo)*time($lo))"])
}
if ($execRatios.Contains('unicorn/crun (default cgroups)')) {
    Write-Host ('unicorn/crun (default cgroups) exec median ratio: {0:F2} (information: the Unicorn container here has no cgroup, started without limits)' -f $execRatios['unicorn/crun (default cgroups)'])
}
if ($execRatios.Contains('unicorn/runc')) { Write-Host ('unicorn/runc exec median ratio: {0:F2} (runc exec joins the container''s cgroups; the Unicorn container here has none)' -f $execRatios['unicorn/runc']) }
if ($execRatios.Contains('unicorn/crun')) { Write-Host ('unicorn/crun exec median ratio: {0:F2}' -f $execRatios['unicorn/crun']) }
else { Write-Host 'unicorn/crun exec median ratio: n/a (crun did not run)' }
Write-Host ('supervisor VmRSS: median {0} KiB, max {1} KiB (target <= {2} KiB)' -f $sup.median, $sup.max, $rssTargetKiB)
