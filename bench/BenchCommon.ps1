# What the benchmark scripts share; dot-sourced by them (`. $PSScriptRoot/BenchCommon.ps1`), not run
# on its own. Finding crun and runc, the private mount namespace crun needs on a hybrid cgroup host,
# Unicorn's temporary roots, OCI bundles, the cleanup at the end, statistics, the table and the JSON.
# bench/README.md describes what each piece does and why.

$BenchNsVariable = 'UNICORN_BENCH_PARENT_MNTNS'
$BenchUnifiedControllers = '/sys/fs/cgroup/unified/cgroup.controllers'

function Get-MountNamespace { (Get-Item /proc/self/ns/mnt).LinkTarget }

function Find-Tool([string[]] $candidates) {
    foreach ($c in $candidates) {
        if ($c.Contains('/') -and (Test-Path $c -PathType Leaf)) { return $c }
    }
    $cmd = Get-Command $candidates[-1] -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if ($cmd) { return $cmd.Source }
    return $null
}

function Assert-BenchRoot {
    if ((& id -u) -ne '0') { throw 'The benchmark needs root: containers, overlay mounts and crun/runc all do.' }
}

<#
Finds crun and runc, and makes crun runnable on a hybrid cgroup host: crun 1.x refuses a hybrid host
whose cgroup2 mount has any controller (hugetlb, say, when no v1 hierarchy holds it), even with
--cgroup-manager=disabled, because that check comes before the manager's. Then the calling script is
started again (this same command line) under `unshare --mount --propagation private`, and this
function exits the process with that run's exit code. In the new namespace it binds /dev/null over
cgroup.controllers. Returns Crun and Runc (paths, or null when skipped), Notes, ParentNs and Hybrid;
Exit-BenchMountNamespace undoes the bind.
#>
function Enter-BenchMountNamespace {
    $crun = Find-Tool '/usr/bin/crun', '/usr/local/bin/crun', 'crun'
    $runc = Find-Tool '/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', 'runc'
    $notes = [Collections.Generic.List[string]]::new()

    $hybridWithV2Controllers = (Test-Path $BenchUnifiedControllers) -and -not (Test-Path /sys/fs/cgroup/cgroup.controllers) -and
        ((Get-Content $BenchUnifiedControllers -Raw) -match '\S')
    $parentNs = [Environment]::GetEnvironmentVariable($BenchNsVariable)
    if ($crun -and $hybridWithV2Controllers -and -not $parentNs) {
        $unshare = Find-Tool '/usr/bin/unshare', '/bin/unshare', 'unshare'
        if ($unshare) {
            # This same command line again, under unshare; the child makes the one bind mount.
            $argv = [IO.File]::ReadAllText('/proc/self/cmdline').TrimEnd([char]0).Split([char]0)
            $argv[0] = [Environment]::ProcessPath
            [Environment]::SetEnvironmentVariable($BenchNsVariable, (Get-MountNamespace))
            Write-Host "Hybrid cgroup host with cgroup2 controllers ($((Get-Content $BenchUnifiedControllers -Raw).Trim())): running in a private mount namespace, so that crun runs."
            # Not `& $unshare`: inside a function whose output is assigned, pwsh would capture the
            # child's output instead of passing the console on.
            $psi = [Diagnostics.ProcessStartInfo]::new($unshare)
            foreach ($a in @('--mount', '--propagation', 'private', '--') + $argv) { $psi.ArgumentList.Add($a) }
            $child = [Diagnostics.Process]::Start($psi)
            $child.WaitForExit()
            exit $child.ExitCode
        }
    }
    if ($parentNs) {
        if ((Get-MountNamespace) -eq $parentNs) { throw "$BenchNsVariable is set but this is not a new mount namespace; refusing to mount anything." }
        if ($hybridWithV2Controllers) {
            & mount --bind /dev/null $BenchUnifiedControllers | Out-Host
            if ($LASTEXITCODE -ne 0) { throw "mount --bind /dev/null $BenchUnifiedControllers failed." }
            $notes.Add("Hybrid cgroup host: ran in a private mount namespace with /dev/null bound over $BenchUnifiedControllers (crun refuses a hybrid host whose cgroup2 mount has controllers, even with --cgroup-manager=disabled); all runtimes ran there alike.")
        }
    }
    if ($crun -and $hybridWithV2Controllers -and -not $parentNs) {
        $notes.Add('crun skipped: hybrid cgroup host, and no unshare to work around it.'); $crun = $null
    }
    elseif (-not $crun) { $notes.Add('crun skipped: not installed.') }
    if (-not $runc) { $notes.Add('runc skipped: not installed.') }
    return [pscustomobject]@{ Crun = $crun; Runc = $runc; Notes = $notes; ParentNs = $parentNs; Hybrid = $hybridWithV2Controllers }
}

function Exit-BenchMountNamespace($ns) {
    if ($ns.ParentNs -and $ns.Hybrid) { & umount $BenchUnifiedControllers 2>&1 | Out-Null }
}

# Fresh state and data roots for Unicorn (and a directory for the OCI bundles), set in the environment.
function New-BenchRoots {
    $base = Join-Path ([IO.Path]::GetTempPath()) "unicorn-bench-$([Guid]::NewGuid().ToString('N').Substring(0, 12))"
    $roots = [pscustomobject]@{
        Base      = $base
        StateRoot = Join-Path $base 'state'
        DataRoot  = Join-Path $base 'data'
        Oci       = Join-Path $base 'oci'
    }
    New-Item -ItemType Directory -Path $roots.StateRoot, $roots.DataRoot, $roots.Oci -Force | Out-Null
    $env:UNICORN_STATE_ROOT = $roots.StateRoot
    $env:UNICORN_DATA_ROOT = $roots.DataRoot
    $env:UNICORN_CGROUP_PARENT = Split-Path $base -Leaf # a cgroup parent of the run's own
    return $roots
}

<#
OCI bundles: one per runtime (<oci>/bundle-<rt>, with an empty --root <oci>/root-<rt> beside it), each
a copy of the same busybox tree (runc makes mount points such as dev/pts in it, so Unicorn's image is
not used in place), and one config for all: `crun spec` (or `runc spec`) with these args, no
terminal, a read-only root and the pid, mount, uts, ipc and network namespaces. Returns rt -> bundle.
#>
function New-OciBundles([string] $oci, [string] $lowerDir, [string[]] $runtimes, [string] $specTool, [string[]] $processArgs) {
    $bundles = @{}
    if (-not $runtimes) { return $bundles }
    $specDir = Join-Path $oci 'spec'
    New-Item -ItemType Directory -Path $specDir | Out-Null
    Push-Location $specDir
    try { & $specTool spec | Out-Host; if ($LASTEXITCODE -ne 0) { throw 'Making the OCI config (spec) failed.' } }
    finally { Pop-Location }
    $spec = Get-Content (Join-Path $specDir 'config.json') -Raw | ConvertFrom-Json -AsHashtable
    $spec.process.args = $processArgs
    $spec.process.terminal = $false
    $spec.root.path = 'rootfs'
    $spec.root.readonly = $true
    $nsTypes = @($spec.linux.namespaces | ForEach-Object { $_.type })
    foreach ($ns in 'pid', 'mount', 'uts', 'ipc', 'network') {
        if ($ns -notin $nsTypes) { $spec.linux.namespaces += @{ type = $ns } }
    }
    $configJson = $spec | ConvertTo-Json -Depth 20
    foreach ($rt in $runtimes) {
        $bundle = Join-Path $oci "bundle-$rt"
        New-Item -ItemType Directory -Path $bundle, (Join-Path $oci "root-$rt") | Out-Null
        & cp -a $lowerDir (Join-Path $bundle 'rootfs')
        if ($LASTEXITCODE -ne 0) { throw "Copying $lowerDir failed." }
        Set-Content (Join-Path $bundle 'config.json') $configJson
        $bundles[$rt] = $bundle
    }
    return $bundles
}

<#
The cleanup at the end: every Unicorn container and rootfs; whatever state crun and runc left under
their --root (deleted with `delete -f`, with a warning); cgroups named $idPrefix* that they left (at a
hierarchy's root, or under this process's cgroup); the bind of Enter-BenchMountNamespace. Then, only
if nothing is mounted under the roots any more, the roots themselves. Returns $true if something was
left mounted (the roots are then left in place, with a warning).
#>
function Clear-BenchEnvironment($roots, $ns, [string] $idPrefix) {
    $leftMounted = $false
    try {
        if (Get-Module Unicorn) {
            Get-UnicornContainer -ErrorAction Ignore | Remove-UnicornContainer -Force -ErrorAction Continue
            Get-UnicornRootfs -ErrorAction Ignore | Remove-UnicornRootfs -ErrorAction Continue
        }
    }
    catch { Write-Warning "Cleaning up Unicorn: $_" }
    foreach ($rt in 'crun', 'runc') {
        $root = Join-Path $roots.Oci "root-$rt"
        $exe = if ($rt -eq 'crun') { $ns.Crun } else { $ns.Runc }
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
        # (Not the run's own cgroup parent, which shares the prefix: it goes below, once empty.)
        foreach ($left in Get-ChildItem $d -Directory -Filter "$idPrefix*" -ErrorAction Ignore | Where-Object Name -ne $env:UNICORN_CGROUP_PARENT) {
            Write-Warning "Cgroup $($left.FullName) was left behind; removing it."
            try { [IO.Directory]::Delete($left.FullName) } catch { Write-Warning "rmdir $($left.FullName): $_" }
        }
    }
    Exit-BenchMountNamespace $ns

    $base = $roots.Base
    $mounted = @(Get-Content /proc/self/mountinfo | ForEach-Object { $_.Split(' ')[4] } |
            Where-Object { $_ -eq $base -or $_.StartsWith("$base/") })
    if ($mounted) {
        $leftMounted = $true
        Write-Warning "Still mounted under $($base), so it is left in place: $($mounted -join ', ')"
    }
    else {
        Remove-Item $base -Recurse -Force -ErrorAction Continue
    }
    # The run's cgroup parent in each hierarchy (its containers' cgroups went with them).
    foreach ($dir in @(Get-ChildItem /sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT, /sys/fs/cgroup/$env:UNICORN_CGROUP_PARENT -Directory -ErrorAction Ignore)) {
        try { [IO.Directory]::Delete($dir.FullName) } catch { Write-Warning "rmdir $($dir.FullName): $_"; $leftMounted = $true }
    }
    Remove-Item Env:UNICORN_STATE_ROOT, Env:UNICORN_DATA_ROOT, Env:UNICORN_CGROUP_PARENT -ErrorAction Ignore
    return $leftMounted
}

function Get-Percentile([double[]] $sorted, [double] $p) {
    # Linear interpolation between the closest ranks (numpy's default).
    $pos = ($sorted.Count - 1) * $p
    $lo = [int][Math]::Floor($pos); $hi = [int][Math]::Ceiling($pos)
    return $sorted[$lo] + ($sorted[$hi] - $sorted[$lo]) * ($pos - $lo)
}

# Median, p10, p90, min and max of one row's samples, and the samples, rounded; $unit names the keys
# (medianMs, p10Ms, ... or medianKiB, ...).
function Get-SampleStats($samples, [string] $unit = 'Ms', [int] $digits = 3) {
    $sorted = [double[]]($samples | Sort-Object)
    $stats = [ordered]@{}
    $stats["median$unit"] = [Math]::Round((Get-Percentile $sorted 0.5), $digits)
    $stats["p10$unit"] = [Math]::Round((Get-Percentile $sorted 0.1), $digits)
    $stats["p90$unit"] = [Math]::Round((Get-Percentile $sorted 0.9), $digits)
    $stats["min$unit"] = [Math]::Round($sorted[0], $digits)
    $stats["max$unit"] = [Math]::Round($sorted[-1], $digits)
    $stats["samples$unit"] = @($samples | ForEach-Object { [Math]::Round($_, $digits) })
    return $stats
}

# Objects from the pipeline as a table on the host, without the blank lines around it.
function Write-BenchTable {
    $input | Format-Table -AutoSize | Out-String -Width 200 | ForEach-Object { Write-Host $_.Trim("`r", "`n") }
}

function Get-BenchHost([string] $moduleVersion, $ns) {
    $cpu = (Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '^model name\s*:\s*', ''
    return [ordered]@{
        kernel  = (Get-Content /proc/sys/kernel/osrelease -Raw).Trim()
        cpus    = [Environment]::ProcessorCount
        cpu     = $cpu
        pwsh    = $PSVersionTable.PSVersion.ToString()
        unicorn = $moduleVersion
        crun    = $(if ($ns.Crun) { (& $ns.Crun --version | Select-Object -First 1) } else { $null })
        runc    = $(if ($ns.Runc) { (& $ns.Runc --version | Select-Object -First 1) } else { $null })
    }
}

# <repo>/out/bench/<name>, with the path on the host.
function Write-BenchJson($result, [string] $name) {
    $jsonPath = Join-Path (Split-Path $PSScriptRoot -Parent) "out/bench/$name"
    New-Item -ItemType Directory -Path (Split-Path $jsonPath) -Force | Out-Null
    $result | ConvertTo-Json -Depth 6 | Set-Content $jsonPath
    Write-Host "Wrote $jsonPath"
}
