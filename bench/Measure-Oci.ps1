#Requires -Version 7.6
<#
.SYNOPSIS
The OCI runtime command line side by side: unicorn (when built), crun and runc.

.DESCRIPTION
In one warm session, alternating the runtimes in every round: `<rt> run` of /bin/true on one bundle
(a busybox rootfs and a minimal config, as Measure-StartLatency.ps1 makes it); the single calls
`create`, `start`, `state`, `kill` and `delete` of a container running `sleep`; and
`podman run --rm --runtime <rt> --rootfs <dir> /bin/true` (podman 4.3 with a configuration, storage
and cgroup parent of the run's own, --network none). Prints medians, p10 and p90, the ratios
unicorn/crun, and writes every sample to out/bench/oci.json. bench/README.md describes it.
#>
param(
    [string] $ModulePath = (Join-Path (Split-Path $PSScriptRoot -Parent) 'out/Unicorn'),
    # The unicorn executable: the module's bin/unicorn by default; left out when it does not exist.
    [string] $UnicornPath = (Join-Path $ModulePath 'bin/unicorn'),
    [int] $Iterations = 30,
    [int] $Warmup = 3,
    [int] $PodmanIterations = 10
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
. (Join-Path $PSScriptRoot '../tests/Pester/Podman.ps1')
Assert-BenchRoot
$ns = Enter-BenchMountNamespace
$idPrefix = "uoci-$PID"

$runtimes = [ordered]@{}
if (Test-Path $UnicornPath -PathType Leaf) { $runtimes.unicorn = (Resolve-Path $UnicornPath).Path }
else { $ns.Notes.Add("unicorn skipped: $UnicornPath does not exist (yet).") }
if ($ns.Crun) { $runtimes.crun = $ns.Crun }
if ($ns.Runc) { $runtimes.runc = $ns.Runc }
if (-not $runtimes.Count) { throw 'No runtime to measure: neither unicorn, crun nor runc is there.' }
$podman = Find-Tool '/usr/bin/podman', 'podman'
if (-not $podman) { $ns.Notes.Add('podman rows skipped: podman is not installed.') }

$roots = New-BenchRoots
$failed = $false
$samples = [ordered]@{}
function Add-Sample([string] $row, [double] $ms) {
    if (-not $samples.Contains($row)) { $samples[$row] = [Collections.Generic.List[double]]::new() }
    $samples[$row].Add($ms)
}

# Runs one runtime call, timed; throws with its output if it fails. -Inherit: the call's stdio is
# this session's own, not a pipe (a created container keeps the stdio of `create`, so a pipe would
# never reach its end).
function Invoke-Timed([string] $row, [string] $exe, [string[]] $arguments, [switch] $Record, [switch] $Inherit) {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    if ($Inherit) {
        $psi = [Diagnostics.ProcessStartInfo]::new($exe)
        foreach ($a in $arguments) { $psi.ArgumentList.Add($a) }
        $proc = [Diagnostics.Process]::Start($psi)
        $proc.WaitForExit()
        $sw.Stop()
        $code = $proc.ExitCode; $out = $null
    }
    else {
        $out = & $exe @arguments 2>&1
        $sw.Stop()
        $code = $LASTEXITCODE
    }
    if ($code -ne 0) { throw "$row failed (exit code $code): $out" }
    if ($Record) { Add-Sample $row $sw.Elapsed.TotalMilliseconds }
    $out
}

try {
    # The busybox tree every bundle copies, and podman's --rootfs directories.
    $tree = Join-Path $roots.Oci 'busybox'
    New-Item -ItemType Directory -Path "$tree/bin", "$tree/etc", "$tree/proc", "$tree/sys", "$tree/dev", "$tree/tmp", "$tree/root" | Out-Null
    Copy-Item /usr/bin/busybox "$tree/bin/busybox"
    foreach ($applet in & "$tree/bin/busybox" --list) { if (-not (Test-Path "$tree/bin/$applet")) { ln -s busybox "$tree/bin/$applet" } }
    "root:x:0:0:root:/root:/bin/sh" | Set-Content "$tree/etc/passwd"
    "root:x:0:" | Set-Content "$tree/etc/group"

    $specTool = if ($ns.Crun) { $ns.Crun } else { $ns.Runc }
    $bundles = New-OciBundles $roots.Oci $tree @($runtimes.Keys) $specTool @('/bin/true')
    # Each runtime's cgroups under the run's own parent; a second config beside the bundle runs
    # `sleep` on the same rootfs, for the single calls.
    $life = @{}
    foreach ($rt in $runtimes.Keys) {
        $config = Get-Content "$($bundles[$rt])/config.json" -Raw | ConvertFrom-Json -AsHashtable
        $config.linux.cgroupsPath = "/$env:UNICORN_CGROUP_PARENT/$rt"
        $config | ConvertTo-Json -Depth 20 | Set-Content "$($bundles[$rt])/config.json"
        $config.process.args = @('/bin/sleep', '100')
        $config.root.path = "$($bundles[$rt])/rootfs"
        $life[$rt] = Join-Path $roots.Oci "life-$rt"
        New-Item -ItemType Directory -Path $life[$rt] | Out-Null
        $config | ConvertTo-Json -Depth 20 | Set-Content "$($life[$rt])/config.json"
    }

    # Waits (untimed) until the runtime says the container stopped.
    function Wait-Stopped([string] $exe, [string] $root, [string] $id) {
        $deadline = [datetime]::UtcNow.AddSeconds(10)
        while (((& $exe --root $root state $id 2>&1) -join '' | ConvertFrom-Json).status -ne 'stopped') {
            if ([datetime]::UtcNow -gt $deadline) { throw "$id did not stop." }
            Start-Sleep -Milliseconds 2
        }
    }

    $n = 0
    for ($round = 0; $round -lt $Warmup + $Iterations; $round++) {
        $record = $round -ge $Warmup
        foreach ($rt in $runtimes.Keys) {
            $exe = $runtimes[$rt]; $root = Join-Path $roots.Oci "root-$rt"; $id = "$idPrefix-$((++$n))"
            Invoke-Timed "$rt run" $exe '--root', $root, 'run', '--bundle', $bundles[$rt], $id -Record:$record | Out-Null
            $id = "$idPrefix-$((++$n))"
            Invoke-Timed "$rt create" $exe '--root', $root, 'create', '--bundle', $life[$rt], $id -Record:$record -Inherit | Out-Null
            Invoke-Timed "$rt start" $exe '--root', $root, 'start', $id -Record:$record | Out-Null
            $state = Invoke-Timed "$rt state" $exe '--root', $root, 'state', $id -Record:$record
            if ((($state -join '') | ConvertFrom-Json).status -ne 'running') { throw "$rt state: not running: $state" }
            Invoke-Timed "$rt kill" $exe '--root', $root, 'kill', $id, 'KILL' -Record:$record | Out-Null
            Wait-Stopped $exe $root $id
            Invoke-Timed "$rt delete" $exe '--root', $root, 'delete', $id -Record:$record | Out-Null
        }
    }

    if ($podman) {
        # podman's own world, as tests/Pester/OciClients.Tests.ps1 makes it; the runtime given per call.
        $pdir = Join-Path $roots.Base 'podman'
        # Some of podman's calls name no --root: unicorn's default, removed after if we made it.
        $defaultRootMade = -not (Test-Path /run/unicorn-oci)
        $podman = New-PodmanWorld -Directory $pdir -RuntimeNames (Split-Path $UnicornPath -Leaf)
        $prootfs = @{}
        foreach ($rt in $runtimes.Keys) { $prootfs[$rt] = Join-Path $pdir "rootfs-$rt"; cp -a $tree $prootfs[$rt] }
        for ($round = 0; $round -lt 1 + $PodmanIterations; $round++) {
            foreach ($rt in $runtimes.Keys) {
                Invoke-Timed "podman run --rm ($rt)" $podman ('--runtime', $runtimes[$rt], 'run', '--rm', '--network', 'none',
                    '--cgroup-parent', "/$env:UNICORN_CGROUP_PARENT", '--rootfs', $prootfs[$rt], '/bin/true') -Record:($round -gt 0) | Out-Null
            }
        }
    }
}
catch {
    Write-Warning "The benchmark failed: $_"
    $failed = $true
}
finally {
    if ($pdir -and (Test-Path $pdir)) {
        & $podman rm --all --force --time 0 2>&1 | Out-Null
        # conmon's cgroup under the run's parent (podman with cgroupfs puts it there).
        Get-ChildItem /sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT/conmon -Directory -ErrorAction Ignore | ForEach-Object { [IO.Directory]::Delete($_.FullName) }
        # (rm: podman's etc/mtab link to /proc/self/mounts in each --rootfs defeats Remove-Item.)
        rm -rf $pdir
        if ($defaultRootMade -and (Test-Path /run/unicorn-oci) -and -not (Get-ChildItem /run/unicorn-oci -Force)) { Remove-Item /run/unicorn-oci }
    }
    if ($runtimes.unicorn) {
        $root = Join-Path $roots.Oci 'root-unicorn'
        foreach ($left in Get-ChildItem $root -ErrorAction Ignore) {
            Write-Warning "unicorn left state for $($left.Name); deleting it."
            & $runtimes.unicorn --root $root delete --force $left.Name 2>&1 | Out-Null
        }
    }
    if (Clear-BenchEnvironment $roots $ns $idPrefix) { $failed = $true }
}

$rows = foreach ($row in $samples.Keys) {
    $s = Get-SampleStats $samples[$row]
    [pscustomobject]@{ Row = $row; 'Median ms' = [Math]::Round($s.medianMs, 2); 'p10 ms' = [Math]::Round($s.p10Ms, 2); 'p90 ms' = [Math]::Round($s.p90Ms, 2) }
}
$rows | Write-BenchTable
foreach ($note in $ns.Notes) { Write-Host "Note: $note" }
$median = @{}; foreach ($row in $samples.Keys) { $median[$row] = (Get-SampleStats $samples[$row]).medianMs }
$ratios = [ordered]@{}
foreach ($pair in @(('unicorn run', 'crun run'), ('unicorn run', 'runc run'), ('crun run', 'runc run'),
        ('podman run --rm (unicorn)', 'podman run --rm (crun)'), ('podman run --rm (crun)', 'podman run --rm (runc)'))) {
    if ($median.Contains($pair[0]) -and $median.Contains($pair[1])) {
        $name = "$($pair[0]) / $($pair[1])"
        $ratios[$name] = [Math]::Round($median[$pair[0]] / $median[$pair[1]], 2)
        Write-Host "$name median ratio: $($ratios[$name])"
    }
}
$result = [ordered]@{
    host       = Get-BenchHost $null $ns
    iterations = $Iterations; warmup = $Warmup; podmanIterations = $PodmanIterations
    runtimes   = $runtimes
    rows       = [ordered]@{}
    ratios     = $ratios
    notes      = @($ns.Notes)
}
foreach ($row in $samples.Keys) { $result.rows[$row] = Get-SampleStats $samples[$row] }
Write-BenchJson $result 'oci.json'
exit $(if ($failed) { 1 } else { 0 })
