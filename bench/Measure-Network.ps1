#Requires -Version 7.6
<#
.SYNOPSIS
The cost of networking (issue 5): a start with a bridge connect next to one without, a hot
connect and disconnect, and the same connect done with one `ip` process per step.

.DESCRIPTION
Runs in a private network namespace of its own (it starts itself again under `unshare --net`), so
the bridge, the veths and the nftables table exist only there. Each round runs every row once,
interleaved, after -Warmup rounds that are thrown away. bench/README.md says what each row times.
#>
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/Unicorn'),
    [int] $Iterations = 100,
    [int] $Warmup = 10
)
$ErrorActionPreference = 'Stop'
. $PSScriptRoot/BenchCommon.ps1
Assert-BenchRoot

$netnsVariable = 'UNICORN_BENCH_PARENT_NETNS'
if (-not [Environment]::GetEnvironmentVariable($netnsVariable)) {
    # This same command line again, in a new network namespace.
    [Environment]::SetEnvironmentVariable($netnsVariable, (Get-Item /proc/self/ns/net).LinkTarget)
    $argv = [IO.File]::ReadAllText('/proc/self/cmdline').TrimEnd([char]0).Split([char]0)
    $argv[0] = [Environment]::ProcessPath
    & (Find-Tool '/usr/bin/unshare', 'unshare') --net -- @argv
    exit $LASTEXITCODE
}
if ((Get-Item /proc/self/ns/net).LinkTarget -eq $env:UNICORN_BENCH_PARENT_NETNS) { throw 'Not in a new network namespace; refusing to make interfaces.' }
ip link set lo up

$ModulePath = (Resolve-Path $ModulePath).Path
Import-Module (Join-Path $ModulePath 'Unicorn.psd1') -Force
$moduleVersion = (Get-Module Unicorn).Version.ToString()
$roots = New-BenchRoots
$rows = [ordered]@{
    'unicorn'                   = 'Start-UnicornContainer -Command /bin/true -Wait (no network)'
    'unicorn -Bridge'           = 'the same, connected to a bridge before the command starts'
    'unicorn -Bridge -Publish'  = 'the same, with one published port (one nft transaction)'
    '  Connect-UnicornBridge'   = 'a running container connected to the bridge (hot plug)'
    '  Disconnect-UnicornBridge' = 'that connection removed again (the veth deleted synchronously)'
    '  ip, one process per step' = 'what Connect-UnicornBridge does, done by 5 `ip` processes (veth into the netns, master and up, address, up, route)'
}
$samples = [ordered]@{}
foreach ($r in $rows.Keys) { $samples[$r] = [Collections.Generic.List[double]]::new() }
$sw = [Diagnostics.Stopwatch]::new()
$failed = $false
try {
    $null = New-UnicornRootfs | Start-UnicornContainer -Command /bin/true -Bridge bench0 -Wait | Remove-UnicornContainer
    $sleeper = New-UnicornRootfs | Start-UnicornContainer -Name sleeper -Command sleep, infinity
    ip link add benchbr type bridge
    ip addr add 10.90.0.1/24 dev benchbr
    ip link set benchbr up
    Write-Host "Unicorn $moduleVersion from $ModulePath; $Warmup warm-up and $Iterations measured rounds, in a private network namespace."
    for ($i = -$Warmup; $i -lt $Iterations; $i++) {
        $round = @{}
        foreach ($row in 'unicorn', 'unicorn -Bridge', 'unicorn -Bridge -Publish') {
            $r = New-UnicornRootfs
            $extra = switch ($row) { 'unicorn -Bridge' { @{ Bridge = 'bench0' } } 'unicorn -Bridge -Publish' { @{ Bridge = 'bench0'; Publish = '8080:80' } } default { @{} } }
            $sw.Restart()
            $c = $r | Start-UnicornContainer -Command /bin/true -Wait @extra
            $sw.Stop(); $round[$row] = $sw.Elapsed.TotalMilliseconds
            if ($c.ExitCode -ne 0) { throw "$row exited with $($c.ExitCode)." }
            $c | Remove-UnicornContainer
        }
        $sw.Restart()
        $a = Connect-UnicornBridge sleeper -Bridge bench0
        $sw.Stop(); $round['  Connect-UnicornBridge'] = $sw.Elapsed.TotalMilliseconds
        $sw.Restart()
        Disconnect-UnicornBridge sleeper -Bridge bench0
        $sw.Stop(); $round['  Disconnect-UnicornBridge'] = $sw.Elapsed.TotalMilliseconds

        $ipPid = (Get-UnicornContainer sleeper).Pid
        $veth = "ipb$($i + $Warmup)"
        $sw.Restart()
        ip link add $veth type veth peer name eth9 netns $ipPid
        ip link set $veth master benchbr up
        nsenter -t $ipPid -n ip addr add 10.90.0.2/24 dev eth9
        nsenter -t $ipPid -n ip link set eth9 up
        nsenter -t $ipPid -n ip route add default via 10.90.0.1
        $sw.Stop(); $round['  ip, one process per step'] = $sw.Elapsed.TotalMilliseconds
        ip link del $veth

        if ($i -ge 0) { foreach ($row in $round.Keys) { $samples[$row].Add($round[$row]) } }
        Write-Verbose ("round {0}: {1}" -f $i, (($rows.Keys | ForEach-Object { '{0} {1:F2}' -f $_.Trim(), $round[$_] }) -join ', '))
    }
}
catch {
    $failed = $true
    Write-Host "Benchmark failed: $_" -ForegroundColor Red
    Write-Host $_.ScriptStackTrace
}
finally {
    ip link del benchbr 2>$null
    Get-UnicornContainer | Remove-UnicornContainer -Force
    Get-UnicornBridge | Remove-UnicornBridge -Force
    if (Clear-BenchEnvironment $roots $null "ubench-$PID-") { $failed = $true }
}
if ($failed) { exit 1 }

$stats = [ordered]@{}
foreach ($row in $rows.Keys) { $stats[$row] = Get-SampleStats $samples[$row] }
$rows.Keys | ForEach-Object {
    [pscustomobject]@{ Row = $_; 'Median ms' = '{0:F2}' -f $stats[$_].medianMs; 'p10 ms' = '{0:F2}' -f $stats[$_].p10Ms; 'p90 ms' = '{0:F2}' -f $stats[$_].p90Ms }
} | Write-BenchTable
foreach ($row in $rows.Keys) { Write-Host ('  {0,-28} {1}' -f "$($row.Trim()):", $rows[$row]) }
Write-BenchJson ([ordered]@{ host = Get-BenchHost $moduleVersion $null; iterations = $Iterations; warmup = $Warmup; rows = $stats }) 'network.json'
$added = $stats['unicorn -Bridge'].medianMs - $stats['unicorn'].medianMs
$publish = $stats['unicorn -Bridge -Publish'].medianMs - $stats['unicorn'].medianMs
Write-Host ('a connect at start adds {0:F2} ms ({1:F2} with a bridge, {2:F2} without; target < 2 ms)' -f $added, $stats['unicorn -Bridge'].medianMs, $stats['unicorn'].medianMs)
Write-Host ('with a published port it adds {0:F2} ms (an nft process)' -f $publish)
Write-Host ('Connect-UnicornBridge / ip one process per step median ratio: {0:F2}' -f ($stats['  Connect-UnicornBridge'].medianMs / $stats['  ip, one process per step'].medianMs))
