#Requires -Version 7.6
<#
.SYNOPSIS
The cost of images (issue 6): Import-UnicornImage of a ~100 MB three-layer image next to GNU
`tar -x` of the same layers, and New-UnicornRootfs -Image for a small and a large image.

.DESCRIPTION
The image is made here: three layers of generated files (many small ones and a few large ones,
incompressible), built with umoci and written by skopeo as a docker-save archive, whose layers
are plain tars. Each round imports it into an empty store and extracts the same layer tars with
GNU tar into empty directories, interleaved; bench/README.md says more.
#>
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/Unicorn'),
    [int] $Iterations = 5,
    [int] $Warmup = 1,
    [int] $MegabytesPerLayer = 34
)
$ErrorActionPreference = 'Stop'
. $PSScriptRoot/BenchCommon.ps1
Assert-BenchRoot
foreach ($tool in 'umoci', 'skopeo', 'tar') {
    if (-not (Get-Command $tool -ErrorAction Ignore)) { throw "The image benchmark needs $tool (apt-get install umoci skopeo tar)." }
}

$ModulePath = (Resolve-Path $ModulePath).Path
Import-Module (Join-Path $ModulePath 'Unicorn.psd1') -Force
$moduleVersion = (Get-Module Unicorn).Version.ToString()
$roots = New-BenchRoots
$work = New-Item -ItemType Directory (Join-Path $roots.Base 'images')
$samples = [ordered]@{ 'Import-UnicornImage' = [Collections.Generic.List[double]]::new(); 'tar -x (GNU tar)' = [Collections.Generic.List[double]]::new() }
$rootfsSamples = [ordered]@{ 'New-UnicornRootfs -Image (1 layer, 2 MB)' = [Collections.Generic.List[double]]::new(); 'New-UnicornRootfs -Image (3 layers, 100 MB)' = [Collections.Generic.List[double]]::new() }
$sw = [Diagnostics.Stopwatch]::new()
$failed = $false
try {
    # --- the image: three layers of files, from a fixed seed ------------------------------------
    $layout = Join-Path $work 'layout'
    $bundle = Join-Path $work 'bundle'
    umoci init --layout $layout
    umoci new --image "${layout}:big"
    $random = [Random]::new(6)
    for ($layer = 1; $layer -le 3; $layer++) {
        umoci unpack --image "${layout}:big" $bundle
        $dir = New-Item -ItemType Directory (Join-Path $bundle "rootfs/layer$layer")
        $left = $MegabytesPerLayer * 1MB
        for ($i = 0; $left -gt 0; $i++) {
            # Nine small files (4-64 KiB) to one large (1-4 MiB), in directories of 50.
            $size = [Math]::Min($left, $(if ($i % 10 -eq 9) { $random.Next(1MB, 4MB) } else { $random.Next(4KB, 64KB) }))
            $bytes = [byte[]]::new($size); $random.NextBytes($bytes)
            $sub = Join-Path $dir ('d{0:D3}' -f [int][Math]::Floor($i / 50))
            if ($i % 50 -eq 0) { New-Item -ItemType Directory $sub | Out-Null }
            [IO.File]::WriteAllBytes((Join-Path $sub "f$i"), $bytes)
            $left -= $size
        }
        umoci repack --image "${layout}:big" $bundle
        Remove-Item $bundle -Recurse -Force
    }
    $archive = Join-Path $work 'big-docker.tar'
    skopeo --insecure-policy copy -q "oci:${layout}:big" "docker-archive:${archive}:bench/big:1"
    $layerTars = New-Item -ItemType Directory (Join-Path $work 'layers')
    tar -C $layerTars -xf $archive --wildcards '*.tar'
    $tars = @(Get-ChildItem $layerTars -Filter '*.tar' | Where-Object Length -gt 1MB)
    $contentBytes = ($tars | Measure-Object Length -Sum).Sum
    Write-Host ("Unicorn $moduleVersion; the image: {0} layers, {1:F1} MB of layer tars; $Warmup warm-up and $Iterations measured rounds." -f $tars.Count, ($contentBytes / 1MB))

    # A small image: the default rootfs (busybox) as a tarball.
    $default = New-UnicornRootfs
    tar -C $default.LowerDir -cf (Join-Path $work 'plain.tar') .
    $default | Remove-UnicornRootfs
    $null = Import-UnicornImage (Join-Path $work 'plain.tar') -Name plain:1
    for ($i = -$Warmup; $i -lt $Iterations; $i++) {
        # Unicorn: into an empty store.
        $sw.Restart()
        $image = Import-UnicornImage $archive
        $sw.Stop(); $import = $sw.Elapsed.TotalMilliseconds
        # New-UnicornRootfs over it, and over a small image, while it is there.
        $sw.Restart(); $big = $image | New-UnicornRootfs; $sw.Stop(); $bigRootfs = $sw.Elapsed.TotalMilliseconds
        $sw.Restart(); $tiny = New-UnicornRootfs -Image plain:1; $sw.Stop(); $tinyRootfs = $sw.Elapsed.TotalMilliseconds
        $big, $tiny | Remove-UnicornRootfs
        $image | Remove-UnicornImage

        # GNU tar: the same layer tars into empty directories.
        $target = New-Item -ItemType Directory (Join-Path $work "tar-$i")
        $sw.Restart()
        foreach ($t in $tars) {
            $d = New-Item -ItemType Directory (Join-Path $target $t.BaseName)
            tar -C $d -xf $t.FullName
            if ($LASTEXITCODE -ne 0) { throw "tar -x $($t.Name) failed." }
        }
        $sw.Stop(); $tarMs = $sw.Elapsed.TotalMilliseconds
        Remove-Item $target -Recurse -Force
        if ($i -ge 0) {
            $samples['Import-UnicornImage'].Add($import); $samples['tar -x (GNU tar)'].Add($tarMs)
            $rootfsSamples['New-UnicornRootfs -Image (1 layer, 2 MB)'].Add($tinyRootfs); $rootfsSamples['New-UnicornRootfs -Image (3 layers, 100 MB)'].Add($bigRootfs)
        }
        Write-Verbose ("round {0}: import {1:F0} ms, tar {2:F0} ms" -f $i, $import, $tarMs)
    }
}
catch {
    $failed = $true
    Write-Host "Benchmark failed: $_" -ForegroundColor Red
    Write-Host $_.ScriptStackTrace
}
finally {
    Get-UnicornRootfs | Remove-UnicornRootfs
    Get-UnicornImage | Remove-UnicornImage -Force
    if (Clear-BenchEnvironment $roots $null "ubench-$PID-") { $failed = $true }
}
if ($failed) { exit 1 }

$stats = [ordered]@{}
foreach ($row in @($samples.Keys) + @($rootfsSamples.Keys)) { $stats[$row] = Get-SampleStats ($samples[$row] ?? $rootfsSamples[$row]) }
$stats.Keys | ForEach-Object {
    $mbps = if ($samples.Contains($_)) { '{0:F0}' -f ($contentBytes / 1MB / ($stats[$_].medianMs / 1000)) } else { '' }
    [pscustomobject]@{ Row = $_; 'Median ms' = '{0:F1}' -f $stats[$_].medianMs; 'p10 ms' = '{0:F1}' -f $stats[$_].p10Ms; 'p90 ms' = '{0:F1}' -f $stats[$_].p90Ms; 'MB/s' = $mbps }
} | Write-BenchTable
Write-BenchJson ([ordered]@{ host = Get-BenchHost $moduleVersion $null; iterations = $Iterations; bytes = $contentBytes; rows = $stats }) 'images.json'
$ratio = $stats['tar -x (GNU tar)'].medianMs / $stats['Import-UnicornImage'].medianMs
Write-Host ('import throughput / tar -x throughput (median): {0:F2} (target >= 0.8)' -f $ratio)
