#!/usr/bin/env pwsh
<#
.SYNOPSIS
PowerShell sessions into a container (issue 16): open time and first Invoke-Command latency, next to a
session to a local pwsh -s on the host, which isolates what the container costs, and one over SSH to
localhost, what fleet use (Invoke-Command -HostName) pays.

.DESCRIPTION
Rounds, round-robin after one warm-up round that is not counted:
  container  New-UnicornSession box (the host's pwsh bound into a running container on a glibc
             rootfs), then the first and a second `Invoke-Command -Session $s { $PID }`, then
             Remove-PSSession (until its process is gone);
  host       the same on a local pwsh -s that PowerShell itself starts (its process transport:
             [runspacefactory]::CreateOutOfProcessRunspace): the same server mode over the same
             kind of stdio pipe, without the container;
  ssh        the same through New-PSSession -HostName 127.0.0.1 -UserName root over SSH, to an sshd
             of the run's own (tests/Pester/Sshd.ps1: 127.0.0.1 on a free port, its own keys, this
             pwsh as its powershell subsystem); left out, with a note saying why, if there is no sshd;
  sugar      Invoke-UnicornCommand box { $PID }: a session opened, used once and removed.
Prints median, p10 and p90 per row; writes them, with every sample, to <repo>/out/bench/session.json.

The glibc rootfs is the tests' (tests/Pester/TestSetup.ps1: the default rootfs plus the libraries the
host's .NET loads, OpenSSL included, which pwsh's server mode needs). Needs root. Unicorn's state and data
roots are fresh temporary directories, removed at the end.

.EXAMPLE
dotnet pwsh -NoProfile -NonInteractive -File bench/Measure-Session.ps1 -ModulePath out/Unicorn -Iterations 10
#>
[CmdletBinding()]
param(
    [string] $ModulePath = (Join-Path (Split-Path $PSScriptRoot -Parent) 'out/Unicorn'),
    [ValidateRange(1, 10000)]
    [int] $Iterations = 10
)

$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
Assert-BenchRoot
Import-Module (Resolve-Path $ModulePath).Path -Force
$roots = New-BenchRoots
$notes = [Collections.Generic.List[string]]::new()

# The tests' glibc rootfs helper, with this run's roots.
. (Join-Path $PSScriptRoot '../tests/Pester/TestSetup.ps1')
$script:TestRoot = $roots.Base

function Measure-Ms([scriptblock] $Script) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    & $Script | Out-Null
    $watch.Elapsed.TotalMilliseconds
}

# One round of a transport: open, first and second call, close; the times in ms.
function Measure-Transport([scriptblock] $Connect) {
    $open = Measure-Ms { $script:session = & $Connect }
    $s = $script:session
    $first = Measure-Ms { Invoke-Command -Session $s { $PID } }
    $second = Measure-Ms { Invoke-Command -Session $s { $PID } }
    $close = Measure-Ms { Remove-PSSession $s }
    [ordered]@{ open = $open; first = $first; second = $second; close = $close }
}

$openHost = {
    $runspace = [runspacefactory]::CreateOutOfProcessRunspace($null)
    $runspace.Open()
    [System.Management.Automation.Runspaces.PSSession]::Create($runspace, 'Process', $null)
}
# SSH: an sshd of the run's own on 127.0.0.1 (the tests' helper, tests/Pester/Sshd.ps1), root with its key.
. (Join-Path $PSScriptRoot '../tests/Pester/Sshd.ps1')
$sshd = $null
try { $sshd = Start-TestSshd (Join-Path $roots.Base 'sshd') }
catch { $notes.Add("The ssh rows are left out: $_") }
$openSsh = if ($sshd) {
    $sshTarget = @{ Port = $sshd.Port; UserName = 'root'; KeyFilePath = $sshd.KeyFilePath; Options = $sshd.Options }
    { New-PSSession -HostName 127.0.0.1 @sshTarget }
}

$samples = [ordered]@{}
$rows = [ordered]@{
    'container open' = 'New-UnicornSession box'; 'container first call' = 'Invoke-Command -Session (first)'
    'container next call' = 'Invoke-Command -Session (second)'; 'container close' = 'Remove-PSSession'
    'host open' = 'pwsh -s on the host (process transport)'; 'host first call' = 'Invoke-Command -Session (first)'
    'host next call' = 'Invoke-Command -Session (second)'; 'host close' = 'Remove-PSSession'
}
if ($openSsh) {
    $rows['ssh open'] = 'New-PSSession over SSH to localhost (the run''s own sshd)'; $rows['ssh first call'] = 'Invoke-Command -Session (first)'
    $rows['ssh next call'] = 'Invoke-Command -Session (second)'; $rows['ssh close'] = 'Remove-PSSession'
}
$rows['Invoke-UnicornCommand -ScriptBlock'] = 'a session opened, one call, removed'
foreach ($row in $rows.Keys) { $samples[$row] = [Collections.Generic.List[double]]::new() }

$leftMounted = $false
try {
    $root = New-GlibcTestRootfs
    New-UnicornRootfs -Path $root | Start-UnicornContainer -Name box -Command /bin/sleep, 100000 -Detach | Out-Null

    for ($round = 0; $round -le $Iterations; $round++) {
        $container = Measure-Transport { New-UnicornSession box }
        $hostRound = Measure-Transport $openHost
        $ssh = if ($openSsh) { Measure-Transport $openSsh }
        $sugar = Measure-Ms { Invoke-UnicornCommand box { $PID } }
        if ($round -eq 0) { continue } # warm-up
        foreach ($transport in @{ container = $container; host = $hostRound; ssh = $ssh }.GetEnumerator() | Where-Object Value) {
            foreach ($k in 'open', 'close') { $samples["$($transport.Key) $k"].Add($transport.Value[$k]) }
            $samples["$($transport.Key) first call"].Add($transport.Value.first); $samples["$($transport.Key) next call"].Add($transport.Value.second)
        }
        $samples['Invoke-UnicornCommand -ScriptBlock'].Add($sugar)
        Write-Host "round $round/${Iterations}: container open $([int]$container.open) ms, host open $([int]$hostRound.open) ms$(if ($ssh) { ", ssh open $([int]$ssh.open) ms" })"
    }
}
finally {
    Get-PSSession | Remove-PSSession
    Stop-TestSshd $sshd
    # No crun or runc here: nothing of theirs to clean ($null), no cgroup prefix of theirs (this run's pid).
    $leftMounted = Clear-BenchEnvironment $roots $null "ubench-$PID-"
}

$stats = [ordered]@{}
foreach ($row in $rows.Keys) { $stats[$row] = Get-SampleStats $samples[$row] 'Ms' 1 }
$stats.GetEnumerator() | ForEach-Object {
    [pscustomobject]@{ row = $_.Key; 'median ms' = $_.Value.medianMs; 'p10 ms' = $_.Value.p10Ms; 'p90 ms' = $_.Value.p90Ms; what = $rows[$_.Key] }
} | Write-BenchTable
$notes | ForEach-Object { Write-Host "note: $_" }
Write-BenchJson ([ordered]@{
        host = Get-BenchHost (Get-Module Unicorn).Version.ToString() $null
        iterations = $Iterations; rows = $stats; notes = $notes
    }) 'session.json'
if ($leftMounted) { exit 1 }
