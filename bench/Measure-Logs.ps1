#!/usr/bin/env pwsh
<#
.SYNOPSIS
The container log: how fast the supervisor relays output into it, and how fast Get-UnicornContainerLog
reads it back (-Tail, -Since, all of it).

.DESCRIPTION
Relay: for each workload, -Rounds detached containers each write -Bytes bytes of output to their
stdout and exit; the time is from Start-UnicornContainer -Detach to the exit
(Wait-UnicornContainer), so it holds the start (a few ms) too. The workloads:
  yes          `yes | head -c <Bytes>`: 2-byte lines, the worst case (one record per 2 bytes)
  80-col       `yes <79 x's> | head -c <Bytes>`: 80-byte lines
  null         `yes | head -c <Bytes> >/dev/null`: the producer alone, nothing relayed; the ceiling
               the container's own tools put on the rows above
  cat 16-byte  `cat` of a file of <Bytes> in 16-byte lines (made on the host, bound in read-only):
               a producer faster than the relay, so the relay's own pace for short lines
  cat 80-col   the same with 80-byte lines
Each row gives MB/s of container output relayed (Bytes / wall time) and lines/s, medians over the
rounds, and the log's size on disk at the end (all its files). The log is rotated as the defaults
say (-LogMaxSize 10MB -LogMaxFiles 3) unless -Unbounded; a module without those parameters (an older
build, to compare) runs without them.

Read: one container writes -ReadBytes of 80-col lines into a log of -LogMaxSize x -LogMaxFiles
(10MB x 3 by default: a full-size log), then -ReadCalls timed calls each of
  Get-UnicornContainerLog -Tail 5
  Get-UnicornContainerLog -Since <the time of the last 1% of records>
  Get-UnicornContainerLog (everything)
and `tail -n 5` on container.log, for scale. Prints the tables; writes them, with every sample, to
<repo>/out/bench/logs.json. bench/README.md has the results.

Needs root. Unicorn's state and data roots are fresh temporary directories, removed at the end with
every container.

.EXAMPLE
dotnet pwsh -NoProfile -NonInteractive -File bench/Measure-Logs.ps1 -ModulePath out/Unicorn
#>
[CmdletBinding()]
param(
    [string] $ModulePath = (Join-Path (Split-Path $PSScriptRoot -Parent) 'out/Unicorn'),
    # Output per relay container, in bytes.
    [ValidateRange(1MB, 100GB)]
    [long] $Bytes = 200MB,
    [ValidateRange(1, 1000)]
    [int] $Rounds = 3,
    # Rotation off for the relay rows (-LogMaxSize 0): the whole output lands on the disk.
    [switch] $Unbounded,
    # The log of the read rows.
    [ValidateRange(64KB, 10GB)]
    [long] $LogMaxSize = 10MB,
    [ValidateRange(1, 1000)]
    [int] $LogMaxFiles = 3,
    [ValidateRange(1MB, 100GB)]
    [long] $ReadBytes = 40MB,
    [ValidateRange(1, 1000)]
    [int] $ReadCalls = 10,
    # Leave out the relay or the read rows.
    [switch] $SkipRelay,
    [switch] $SkipRead
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

Assert-BenchRoot
# No OCI runtime here: the bench's common cleanup takes a namespace record with none.
$ns = [pscustomobject]@{ Crun = $null; Runc = $null; Notes = [Collections.Generic.List[string]]::new(); ParentNs = $null; Hybrid = $false }
$ModulePath = (Resolve-Path $ModulePath).Path
$roots = New-BenchRoots
$idPrefix = "ubench-$PID-"

$line79 = 'x' * 79
# Files of lines for `cat`, a producer faster than busybox's yes | head (the relay, not the
# producer, sets the pace): bound into the container read-only.
$lineFiles = Join-Path ([IO.Path]::GetTempPath()) "ubench-lines-$PID"
$workloads = [ordered]@{
    'yes'         = @{ Script = "yes | head -c $Bytes"; LineBytes = 2; Relayed = $true }
    '80-col'      = @{ Script = "yes $line79 | head -c $Bytes"; LineBytes = 80; Relayed = $true }
    'null'        = @{ Script = "yes | head -c $Bytes >/dev/null"; LineBytes = 2; Relayed = $false }
    'cat 16-byte' = @{ Script = 'cat /lines/16'; LineBytes = 16; Relayed = $true; Volume = "${lineFiles}:/lines:ro" }
    'cat 80-col'  = @{ Script = 'cat /lines/80'; LineBytes = 80; Relayed = $true; Volume = "${lineFiles}:/lines:ro" }
}

# A file of -Bytes bytes of lines of width bytes (the newline included).
function New-LineFile([int] $width) {
    $null = New-Item -ItemType Directory -Force $lineFiles
    $line = [Text.Encoding]::ASCII.GetBytes(('z' * ($width - 1)) + "`n")
    $block = [byte[]]::new(1MB - 1MB % $width)
    for ($i = 0; $i -lt $block.Length; $i += $width) { [Array]::Copy($line, 0, $block, $i, $width) }
    $file = [IO.File]::Create((Join-Path $lineFiles $width))
    try { for ($left = $Bytes - $Bytes % $width; $left -gt 0; $left -= $n) { $n = [Math]::Min($left, $block.Length); $file.Write($block, 0, $n) } }
    finally { $file.Dispose() }
}

function Get-LogDir($c) { Join-Path $env:UNICORN_DATA_ROOT "containers/$($c.Id)" }
function Get-LogBytes($c) { (Get-ChildItem (Get-LogDir $c) -Filter 'container.log*' | Measure-Object Length -Sum).Sum }

function Start-LogContainer([string] $script, [hashtable] $logParameters, [string] $volume) {
    $volumes = if ($volume) { @{ Volume = $volume } } else { @{} }
    New-UnicornRootfs -Verbose:$false | Start-UnicornContainer -Command /bin/sh, -c, $script -Detach @logParameters @volumes -Verbose:$false
}

$failed = $false
$result = [ordered]@{}
try {
    Import-Module $ModulePath -Force -Verbose:$false
    $moduleVersion = (Get-Module Unicorn).Version.ToString()
    $hasRotation = (Get-Command Start-UnicornContainer).Parameters.ContainsKey('LogMaxSize')
    $relayLog = if (-not $hasRotation) { @{} } elseif ($Unbounded) { @{ LogMaxSize = 0 } } else { @{} }
    $notes = [Collections.Generic.List[string]]::new()
    if (-not $hasRotation) { $notes.Add('This module has no -LogMaxSize: its log is never rotated.') }
    $result.host = Get-BenchHost $moduleVersion $ns
    $result.parameters = [ordered]@{ bytes = $Bytes; rounds = $Rounds; unbounded = [bool]$Unbounded; rotation = $hasRotation; logMaxSize = $LogMaxSize; logMaxFiles = $LogMaxFiles; readBytes = $ReadBytes; readCalls = $ReadCalls }
    $null = New-UnicornRootfs -Verbose:$false | Remove-UnicornRootfs -Verbose:$false # the default image, untimed
    Write-Host "Unicorn $moduleVersion from $ModulePath; $([Math]::Round($Bytes / 1MB)) MiB per relay container, $Rounds rounds."

    if (-not $SkipRelay) {
        New-LineFile 16
        New-LineFile 80
        $relay = [ordered]@{}
        foreach ($name in $workloads.Keys) {
            $w = $workloads[$name]
            $seconds = [Collections.Generic.List[double]]::new()
            $logBytes = 0
            foreach ($i in 1..$Rounds) {
                $watch = [Diagnostics.Stopwatch]::StartNew()
                $c = Start-LogContainer $w.Script $relayLog $w['Volume']
                $c = $c | Wait-UnicornContainer
                $watch.Stop()
                if ($c.ExitCode -ne 0) { throw "The $name container exited with $($c.ExitCode)." }
                $seconds.Add($watch.Elapsed.TotalSeconds)
                $logBytes = Get-LogBytes $c
                $c | Remove-UnicornContainer -Force
                Write-Verbose ("{0} round {1}: {2:F2} s, log {3:N0} bytes" -f $name, $i, $watch.Elapsed.TotalSeconds, $logBytes)
            }
            $stats = Get-SampleStats $seconds 'Seconds'
            $median = $stats.medianSeconds
            $relay[$name] = [ordered]@{
                script          = $w.Script
                relayed         = $w.Relayed
                mbPerSecond     = [Math]::Round($Bytes / 1MB / $median, 1)
                linesPerSecond  = [Math]::Round($Bytes / $w.LineBytes / $median)
                logBytesAtEnd   = $logBytes
                seconds         = $stats
            }
        }
        $result.relay = $relay
        $relay.Keys | ForEach-Object {
            $r = $relay[$_]
            [pscustomobject]@{ Workload = $_; 'MiB/s' = $r.mbPerSecond; 'lines/s' = '{0:N0}' -f $r.linesPerSecond; 'median s' = $r.seconds.medianSeconds; 'log MiB at end' = [Math]::Round($r.logBytesAtEnd / 1MB, 1) }
        } | Write-BenchTable
    }

    if (-not $SkipRead) {
        $logParameters = if ($hasRotation) { @{ LogMaxSize = $LogMaxSize; LogMaxFiles = $LogMaxFiles } } else { @{} }
        $c = Start-LogContainer "yes $line79 | head -c $ReadBytes" $logParameters | Wait-UnicornContainer
        $files = Get-ChildItem (Get-LogDir $c) -Filter 'container.log*'
        $all = Get-UnicornContainerLog $c
        $since = $all[[int]($all.Count * 0.99)].Time
        $expectedSince = @($all | Where-Object Time -ge $since).Count
        $logFile = Join-Path (Get-LogDir $c) 'container.log'
        $calls = [ordered]@{
            'Get-UnicornContainerLog -Tail 5' = { $r = @(Get-UnicornContainerLog $c -Tail 5); if ($r.Count -ne 5) { throw "-Tail 5 gave $($r.Count)." } }
            'Get-UnicornContainerLog -Since (last 1%)' = { $r = @(Get-UnicornContainerLog $c -Since $since); if ($r.Count -ne $expectedSince) { throw "-Since gave $($r.Count), not $expectedSince." } }
            'Get-UnicornContainerLog (all)' = { $r = @(Get-UnicornContainerLog $c); if ($r.Count -ne $all.Count) { throw "All gave $($r.Count), not $($all.Count)." } }
            'tail -n 5 container.log' = { $null = & tail -n 5 $logFile }
        }
        $read = [ordered]@{ files = @($files | ForEach-Object { [ordered]@{ name = $_.Name; bytes = $_.Length } }); records = $all.Count }
        foreach ($name in $calls.Keys) {
            & $calls[$name] # warm
            $samples = foreach ($i in 1..$ReadCalls) {
                $watch = [Diagnostics.Stopwatch]::StartNew()
                & $calls[$name]
                $watch.Elapsed.TotalMilliseconds
            }
            $read[$name] = Get-SampleStats $samples
        }
        $result.read = $read
        Write-Host ("Read: {0} records in {1}" -f $all.Count, (($files | ForEach-Object { '{0} ({1:N1} MiB)' -f $_.Name, ($_.Length / 1MB) }) -join ', '))
        $calls.Keys | ForEach-Object { [pscustomobject]@{ Call = $_; 'median ms' = $read[$_].medianMs; 'p90 ms' = $read[$_].p90Ms } } | Write-BenchTable
        $c | Remove-UnicornContainer -Force
    }
    $result.notes = $notes
    foreach ($n in $notes) { Write-Host "Note: $n" }
    Write-BenchJson $result 'logs.json'
}
catch {
    $failed = $true
    Write-Warning "The benchmark failed: $_"
}
finally {
    if (Clear-BenchEnvironment $roots $ns $idPrefix) { $failed = $true }
    Remove-Item $lineFiles -Recurse -Force -ErrorAction Ignore
}
if ($failed) { exit 1 }
