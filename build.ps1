#!/usr/bin/env pwsh
<#
.SYNOPSIS
Builds, tests, demonstrates and benchmarks Unicorn.

.DESCRIPTION
Build: out/Unicorn, a complete module folder (manifest, assemblies, the native launcher,
MAML help, the format file). Test: the build, then xunit and Pester (as root, on the real
kernel), ending with one line "N passed, N failed". Demo: a container on the embedded default
rootfs. Bench: start latency, exec latency, supervisor memory and listing cost, next to crun and
runc (bench/README.md). Clean: removes out/ and bin/obj folders.

.EXAMPLE
dotnet tool restore; dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Bench', 'Clean')]
    [string] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    # Pester tags to run (Test); all when empty.
    [string[]] $Tag = @()
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$out = Join-Path $root 'out/Unicorn'
$rid = if ([Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -eq 'Arm64') { 'linux-arm64' } else { 'linux-x64' }

function Invoke-Native([string] $what, [scriptblock] $command) {
    & $command
    if ($LASTEXITCODE -ne 0) { throw "$what failed with exit code $LASTEXITCODE." }
}

function Get-NuGetPackageRoot {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $line = dotnet nuget locals global-packages --list
    return ($line -replace '^global-packages:\s*', '').Trim()
}

function Invoke-Build {
    $publish = Join-Path $root 'out/obj/publish'
    Invoke-Native 'dotnet publish' {
        dotnet publish (Join-Path $root 'src/Unicorn.Cmdlets/Unicorn.Cmdlets.csproj') -c $Configuration -r $rid `
            --self-contained false -o $publish -nologo -v quiet -p:GenerateDocumentationFile=false
    }

    # An allow-list copy: only what the module needs, nothing that pwsh already has.
    if (Test-Path $out) { Remove-Item $out -Recurse -Force }
    New-Item -ItemType Directory -Path (Join-Path $out 'en-US') -Force | Out-Null
    foreach ($file in 'Unicorn.Cmdlets.dll', 'Unicorn.Core.dll', 'Tmds.LibC.dll', 'ZstdSharp.dll') {
        Copy-Item (Join-Path $publish $file) $out
    }
    Copy-Item (Join-Path $root 'src/Unicorn.Cmdlets/Unicorn.Format.ps1xml') $out

    # The manifest's version comes from Directory.Build.props, the one place it is set.
    $version = ([xml](Get-Content (Join-Path $root 'Directory.Build.props') -Raw)).Project.PropertyGroup.Version
    (Get-Content (Join-Path $root 'Unicorn.psd1') -Raw) -replace "ModuleVersion\s*=\s*'[^']*'", "ModuleVersion        = '$version'" |
        Set-Content (Join-Path $out 'Unicorn.psd1') -NoNewline

    # unicorn, the OCI runtime command line: NativeAOT (it starts in milliseconds, as conmon and
    # the containerd shim call it several times per container), linked by the system's cc.
    Invoke-Native 'dotnet publish (unicorn, NativeAOT)' {
        dotnet publish (Join-Path $root 'src/Unicorn.Oci/Unicorn.Oci.csproj') -c $Configuration -r $rid `
            -o (Join-Path $root 'out/obj/unicorn') -nologo -v quiet -p:GenerateDocumentationFile=false
    }
    New-Item -ItemType Directory -Path (Join-Path $out 'bin') -Force | Out-Null
    Copy-Item (Join-Path $root 'out/obj/unicorn/unicorn') (Join-Path $out 'bin')

    $cc = if ($env:CC) { $env:CC } else { 'cc' }
    $sources = Get-ChildItem (Join-Path $root 'src/launcher') -Filter *.c | ForEach-Object FullName
    # Static: a supervisor per running container stays resident, and without a shared libc it is half the size.
    Invoke-Native 'compiling the launcher' { & $cc -O2 -static -Wall -Wextra -Werror -o (Join-Path $out 'unicorn-launcher') @sources }

    # Help: MAML from docs/help, checked against the cmdlets (a child pwsh, so the dll is not held here).
    Invoke-Native 'building help' {
        dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $root 'tools/New-MamlHelp.ps1') `
            -ModulePath $out -DocsPath (Join-Path $root 'docs/help') -OutputPath $out
    }
    Write-Host "Built $out ($version, $rid)."
}

function Install-TestTool {
    # The tests' fixtures and probes: a busybox rootfs (the default rootfs's usual source) and its
    # applets; tmux to drive interactive sessions as a person would; nft, which NAT and published
    # ports need; unshare, for the network tests' private namespace; umoci, skopeo, GNU tar with
    # zstd and setcap make image fixtures, docker-registry and htpasswd serve the pull tests;
    # strace kills a start at each of its steps (its fault injection) for the crash tests.
    # podman (through conmon) and containerd (ctr, its runc shim) are the real clients of the OCI
    # runtime command line, and crun and runc the runtimes it is compared with. sshd and ssh carry the
    # fleet test's PowerShell remoting over SSH to localhost (the test runs an sshd of its own).
    $tools = @{ busybox = 'busybox-static'; tmux = 'tmux'; nft = 'nftables'; unshare = 'util-linux'; umoci = 'umoci'; skopeo = 'skopeo'
        zstd = 'zstd'; setcap = 'libcap2-bin'; strace = 'strace'; 'docker-registry' = 'docker-registry'; htpasswd = 'apache2-utils'
        podman = 'podman'; conmon = 'conmon'; containerd = 'containerd'; runc = 'runc'; crun = 'crun'
        sshd = 'openssh-server'; ssh = 'openssh-client' }
    $missing = @($tools.GetEnumerator() | Where-Object { -not (Get-Command $_.Key -ErrorAction Ignore) } | ForEach-Object Value)
    if ($missing -and (Get-Command apt-get -ErrorAction Ignore)) {
        Write-Host "Installing $($missing -join ', ') for the tests."
        Invoke-Native 'apt-get update' { apt-get update -qq }
        # Tools, not services: a policy-rc.d keeps the install from starting any daemon (the tests
        # run their registry themselves), and what the packages enabled for boot is disabled again.
        $policy = '/usr/sbin/policy-rc.d'
        $ownPolicy = -not (Test-Path $policy)
        if ($ownPolicy) { Set-Content $policy "#!/bin/sh`nexit 101"; chmod 755 $policy }
        # No recommends: podman's would bring buildah, slirp4netns, fuse-overlayfs and a dbus session.
        try { Invoke-Native 'apt-get install' { apt-get install -y -qq --no-install-recommends @missing } }
        finally { if ($ownPolicy) { Remove-Item $policy } }
        # The clients' command lines are what the OCI face is built against (podman 4.3, conmon 2.1,
        # containerd 1.6): held, so an upgrade does not change them under the fixtures.
        $held = @('podman', 'conmon', 'containerd') | Where-Object { $_ -in $missing }
        if ($held) { Invoke-Native 'apt-mark hold' { apt-mark hold @held } }
        $units = if (Get-Command systemctl -ErrorAction Ignore) { dpkg -L @missing 2>$null | Where-Object { $_ -match '^/(usr/)?lib/systemd/system/[^/]+\.(service|socket|timer)$' } | Split-Path -Leaf }
        foreach ($unit in $units) {
            if ((systemctl is-enabled $unit 2>$null) -eq 'enabled') { Invoke-Native "systemctl disable $unit" { systemctl disable -q $unit } }
            if (Test-Path /run/systemd/system) { systemctl stop $unit 2>$null }
        }
        # Their SysV init scripts too (openssh-server's ssh, docker-registry's), for a machine booted without systemd.
        $scripts = dpkg -L @missing 2>$null | Where-Object { $_ -match '^/etc/init\.d/[^/]+$' } | Split-Path -Leaf
        foreach ($script in $scripts) { Invoke-Native "update-rc.d $script disable" { update-rc.d $script disable } }
    }
}

function Invoke-Test {
    Install-TestTool
    Invoke-Build
    $passed = 0; $failed = 0

    # xunit: the engine's pieces. The launcher comes from the module just built.
    $env:UNICORN_LAUNCHER = Join-Path $out 'unicorn-launcher'
    $trx = Join-Path $root 'out/test-results'
    Remove-Item $trx -Recurse -Force -ErrorAction Ignore
    dotnet test (Join-Path $root 'tests/Unicorn.Core.Tests/Unicorn.Core.Tests.csproj') -c $Configuration -nologo `
        --logger 'trx;LogFileName=core.trx' --results-directory $trx | Write-Host
    $counters = ([xml](Get-Content (Join-Path $trx 'core.trx') -Raw)).TestRun.ResultSummary.Counters
    $passed += [int]$counters.passed; $failed += [int]$counters.failed + [int]$counters.error
    if ([int]$counters.total -eq 0) { $failed++ ; Write-Warning 'xunit ran no test.' }

    # Pester: end to end through pwsh, on the real kernel; in a child pwsh that imports the built module.
    $pester = Join-Path (Get-NuGetPackageRoot) 'pester/6.2.0/tools/Pester.psd1'
    if (-not (Test-Path $pester)) {
        Invoke-Native 'restoring Pester' { dotnet restore (Join-Path $root 'tests/Pester/Pester.Dependencies.csproj') -nologo -v quiet }
    }
    $env:UNICORN_MODULE = $out
    $tags = if ($Tag) { @('-Tag', ($Tag -join ',')) } else { @() }
    $runner = Join-Path $root 'tests/Pester/Invoke-Pester.ps1'
    # Network tests run in a private network namespace made for them (unshare --net), so that
    # nothing they do can reach the host's interfaces, routes or firewall.
    $networkTests = 'Network.Tests.ps1', 'NetworkNames.Tests.ps1'
    foreach ($run in @(
            @{ Name = 'pester'; Prefix = @(); Args = @('-ExcludePath', ($networkTests -join ',')) }
            @{ Name = 'pester-network'; Prefix = @('unshare', '--net', '--'); Args = @('-Path', ($networkTests -join ',')) })) {
        $result = Join-Path $root "out/test-results/$($run.Name).json"
        $command = @($run.Prefix) + @((Get-Command dotnet).Source, 'pwsh', '-NoProfile', '-NonInteractive', '-File', $runner,
            '-PesterPath', $pester, '-ResultPath', $result) + $run.Args + $tags
        & $command[0] $command[1..($command.Count - 1)] | Write-Host
        if (Test-Path $result) {
            $counts = Get-Content $result -Raw | ConvertFrom-Json
            $passed += $counts.Passed; $failed += $counts.Failed
            if ($counts.Passed + $counts.Failed -eq 0 -and -not $Tag) { $failed++; Write-Warning "$($run.Name) ran no test." }
        }
        else { $failed++; Write-Warning "$($run.Name) wrote no results." }
    }

    Write-Host "$passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Demo {
    Invoke-Build
    dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $root 'tools/Demo.ps1') -ModulePath $out
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

function Invoke-Bench {
    Invoke-Build
    # Each benchmark in a child pwsh of its own (a fresh session; the module is not loaded here).
    # All run; the task fails if any does.
    $failed = @()
    foreach ($script in 'Measure-StartLatency.ps1', 'Measure-Lifecycle.ps1', 'Measure-Network.ps1', 'Measure-Logs.ps1', 'Measure-Stop.ps1', 'Measure-Oci.ps1') {
        dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $root "bench/$script") -ModulePath $out
        if ($LASTEXITCODE -ne 0) { $failed += "$script (exit code $LASTEXITCODE)" }
    }
    if ($failed) {
        Write-Host "Benchmark failed: $($failed -join ', ')" -ForegroundColor Red
        exit 1
    }
}

function Invoke-Clean {
    Remove-Item (Join-Path $root 'out') -Recurse -Force -ErrorAction Ignore
    Get-ChildItem $root -Recurse -Directory -Include bin, obj | Remove-Item -Recurse -Force
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Test' { Invoke-Test }
    'Demo' { Invoke-Demo }
    'Bench' { Invoke-Bench }
    'Clean' { Invoke-Clean }
}
