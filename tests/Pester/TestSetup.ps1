# Shared by the end-to-end tests: imports the built module, gives the run its own state and
# data roots, and checks that the machine is left as it was found.

$script:ModulePath = if ($env:UNICORN_MODULE) { $env:UNICORN_MODULE } else { Join-Path $PSScriptRoot '../../out/Unicorn' }

function Initialize-UnicornTest {
    Import-Module $script:ModulePath -Force
    $script:TestRoot = Join-Path ([IO.Path]::GetTempPath()) "unicorn-test-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
    $env:UNICORN_STATE_ROOT = Join-Path $script:TestRoot 'state'
    $env:UNICORN_DATA_ROOT = Join-Path $script:TestRoot 'data'
    $env:UNICORN_CGROUP_PARENT = Split-Path $script:TestRoot -Leaf
    $script:MountsBefore = Get-MountPoint
}

# Every mount point of this mount namespace, unescaped.
function Get-MountPoint {
    Get-Content /proc/self/mountinfo | ForEach-Object {
        [regex]::Replace(($_ -split ' ')[4], '\\([0-7]{3})', { param($m) [char][Convert]::ToInt32($m.Groups[1].Value, 8) })
    }
}

# The mount points this run owns: those under its roots. Other work on the host may mount and
# unmount meanwhile, so a test compares only these.
function Get-OwnMountPoint { Get-MountPoint | Where-Object { $_.StartsWith($script:TestRoot) } }

# What the run holds under its roots: container state, rootfs layers, names.
function Get-UnicornLeftover {
    foreach ($dir in (Join-Path $env:UNICORN_STATE_ROOT 'containers'), (Join-Path $env:UNICORN_STATE_ROOT 'names'),
        (Join-Path $env:UNICORN_DATA_ROOT 'rootfs'), (Join-Path $env:UNICORN_DATA_ROOT 'containers')) {
        if (Test-Path $dir) { Get-ChildItem $dir -Force | ForEach-Object FullName }
    }
}

# Asserts the machine is as the run found it, then removes the run's roots.
function Complete-UnicornTest {
    Stop-TestTerminal
    Get-UnicornContainer | Remove-UnicornContainer -Force -ErrorAction Continue
    Get-UnicornRootfs | Remove-UnicornRootfs -ErrorAction Continue
    $leftMounts = Get-MountPoint | Where-Object { $_.StartsWith($script:TestRoot) }
    $leftState = Get-UnicornLeftover
    $processes = Get-Process | Where-Object { $_.Path -like '*unicorn-launcher' -and (Get-Content "/proc/$($_.Id)/cmdline" -Raw) -like "*$($script:TestRoot)*" }
    # Our cgroup parent in each hierarchy: empty by now, then removed (rmdir; nothing else is touched).
    $cgroupParents = @(Get-ChildItem /sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT, /sys/fs/cgroup/$env:UNICORN_CGROUP_PARENT -Directory -ErrorAction Ignore)
    $leftCgroups = @($cgroupParents | Get-ChildItem -Directory | ForEach-Object FullName)
    foreach ($dir in @($leftCgroups) + @($cgroupParents.FullName) | Where-Object { $_ }) { try { [IO.Directory]::Delete($dir) } catch { Write-Warning "rmdir $dir`: $_" } }
    foreach ($m in $leftMounts | Sort-Object Length -Descending) { [void](umount -l $m 2>&1) }
    Remove-Item $script:TestRoot -Recurse -Force -ErrorAction Ignore
    Remove-Item Env:UNICORN_STATE_ROOT, Env:UNICORN_DATA_ROOT, Env:UNICORN_CGROUP_PARENT -ErrorAction Ignore
    $leftCgroups | Should -BeNullOrEmpty -Because 'every container cgroup must be removed with its container'
    $leftMounts | Should -BeNullOrEmpty -Because 'every mount a test made must be gone'
    $leftState | Should -BeNullOrEmpty -Because 'every container and rootfs must be removed'
    $processes | Should -BeNullOrEmpty -Because 'no supervisor may outlive its container'
}

# Runs a shell script in a new container on a fresh default rootfs and waits for it. Its output
# (stdout and stderr) is captured through a volume and returned in .Output.
function Invoke-TestContainer {
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Script,
        [string[]] $Volume = @(),
        [hashtable] $Parameters = @{}
    )
    $out = Join-Path $script:TestRoot "out-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
    New-Item -ItemType Directory -Path $out | Out-Null
    $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, "exec >/.test-out/output 2>&1; $Script" `
        -Volume (@("${out}:/.test-out") + $Volume) -Wait @Parameters
    $output = Get-Content (Join-Path $out 'output') -ErrorAction Ignore
    Remove-Item $out -Recurse -Force
    $c | Add-Member -NotePropertyName Output -NotePropertyValue @($output) -PassThru
}

# A plain directory holding a copy of the default rootfs; returns its path.
function Copy-DefaultRootfs([string] $Name) {
    $dir = Join-Path $script:TestRoot $Name
    $default = New-UnicornRootfs
    Copy-Item -Path "$($default.LowerDir)/*" -Destination (New-Item -ItemType Directory $dir) -Recurse
    $default | Remove-UnicornRootfs
    $dir
}

# A plain directory holding a glibc root filesystem made from the host's own files, fast and
# without a network: the default rootfs (busybox, /etc/passwd, /tmp) plus the libraries the
# host's .NET loads (ldd's list for dotnet and the runtime's native libraries) and their
# loader, and OpenSSL, at their host paths. No ICU (.NET runs with invariant globalization there). The host's
# pwsh runs in it, bound in (a session's StartPowerShell does that). Returns its path.
function New-GlibcTestRootfs([string] $Name = "glibc-$([guid]::NewGuid().ToString('n').Substring(0, 8))") {
    $dir = Copy-DefaultRootfs $Name
    $runtime = [Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory()
    $binaries = @(Join-Path $runtime ../../../dotnet | Resolve-Path | ForEach-Object Path) + @(Get-ChildItem $runtime -Filter *.so | ForEach-Object FullName)
    $libraries = foreach ($binary in $binaries) {
        # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", and the loader as "/lib64/ld-linux-x86-64.so.2 (0x...)"
        foreach ($line in ldd $binary) { if ($line -match '(?:=> |^\s*)(/\S+) \(') { $Matches[1] } }
    }
    # OpenSSL, which .NET loads by name (no ldd sees it) and pwsh's server mode needs: next to libc.
    $libDir = Split-Path ($libraries | Where-Object { $_ -like '*/libc.so.6' } | Select-Object -First 1)
    $libraries = @($libraries) + @('libssl.so.3', 'libcrypto.so.3' | ForEach-Object { Join-Path $libDir $_ })
    foreach ($library in $libraries | Sort-Object -Unique) {
        $target = Join-Path $dir $library
        New-Item -ItemType Directory -Force (Split-Path $target) | Out-Null
        Copy-Item -LiteralPath (Get-Item $library).ResolvedTarget -Destination $target # the file a link names, as a file
    }
    $dir
}

# The command that starts this pwsh, however it was started: pwsh, or dotnet pwsh.dll (the dotnet tool).
function Get-PwshCommand {
    $exe = (Get-Process -Id $PID).Path
    @($exe) + @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { [Environment]::GetCommandLineArgs()[0] })
}

# Runs a command in a new pwsh process.
function Invoke-ChildPwsh([string] $Command) {
    $exe, $dll = Get-PwshCommand
    & $exe $dll -NoProfile -NonInteractive -Command $Command
}

# Waits until the script block returns something true; throws after the timeout.
function Wait-Until([scriptblock] $Script, [double] $Seconds = 15) {
    $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
    while (-not (& $Script)) {
        if ([datetime]::UtcNow -gt $deadline) { throw "Timed out waiting for: $Script" }
        Start-Sleep -Milliseconds 20
    }
}

# Interactive tests drive a terminal as a person would: a command line in a 100x30 terminal of a
# tmux server of the run's own, keys sent, the screen read. Each terminal has a new server (one
# still shutting down can take a new session with it); $script:Terminal names it (tmux -L) for
# other keys (C-c) and resizes.
function Start-TestTerminal([string] $Command) {
    if ($script:Terminal) { tmux -L $script:Terminal kill-server 2>$null }
    $script:Terminal = "$(Split-Path $script:TestRoot -Leaf)-$((++$script:Terminals))"
    $env:TERM = 'xterm'
    tmux -L $script:Terminal new-session -d -s t -x 100 -y 30 $Command
}

function Send-Keys([string] $Keys, [switch] $NoEnter) {
    tmux -L $script:Terminal send-keys -t t -l $Keys
    if (-not $NoEnter) { tmux -L $script:Terminal send-keys -t t Enter }
}

function Get-Screen { ((tmux -L $script:Terminal capture-pane -t t -p) -join "`n").TrimEnd() }

# Waits until the screen matches pattern; returns the screen.
function Wait-Screen([string] $Pattern, [double] $Seconds = 20) {
    $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
    while ($true) {
        $screen = Get-Screen
        if ($screen -match $Pattern) { return $screen }
        if ([datetime]::UtcNow -gt $deadline) { throw "The screen never matched '$Pattern':`n$screen" }
        Start-Sleep -Milliseconds 100
    }
}

# A pwsh with the module and the test's roots in the run's terminal, ready for keys.
function Start-TestPwsh {
    Start-TestTerminal "env UNICORN_STATE_ROOT=$env:UNICORN_STATE_ROOT UNICORN_DATA_ROOT=$env:UNICORN_DATA_ROOT UNICORN_CGROUP_PARENT=$env:UNICORN_CGROUP_PARENT $(Get-PwshCommand) -NoProfile -NoLogo"
    Wait-Screen 'PS .*>\s*$' | Out-Null
    Send-Keys "Import-Module '$script:ModulePath'; 'module-' + 'ready'"
    Wait-Screen '(?m)^module-ready' | Out-Null
}

# The run's terminal ends (with what runs in it), and the servers' socket files, which tmux leaves, go.
function Stop-TestTerminal {
    if (-not $script:Terminal) { return }
    tmux -L $script:Terminal kill-server 2>$null
    $script:Terminal = $null
    Remove-Item "$(if ($env:TMUX_TMPDIR) { $env:TMUX_TMPDIR } else { '/tmp' })/tmux-$(id -u)/$(Split-Path $script:TestRoot -Leaf)-*" -ErrorAction Ignore
}

# Is the process alive? A zombie that nobody has reaped yet is not.
function Test-ProcessAlive([int] $ProcessId) {
    $stat = Get-Content "/proc/$ProcessId/stat" -Raw -ErrorAction Ignore
    $stat -and $stat.Substring($stat.LastIndexOf(')') + 2, 1) -notin 'Z', 'X'
}

# Network tests run in a private network namespace made for them (build.ps1: unshare --net), so
# that nothing they do can reach the host's interfaces, routes or firewall: refused elsewhere.
function Initialize-UnicornNetworkTest {
    if ((Get-Item /proc/self/ns/net).LinkTarget -eq (Get-Item /proc/1/ns/net).LinkTarget) {
        throw 'Network tests must run in a private network namespace (build.ps1 runs them under unshare --net).'
    }
    ip link set lo up
    Initialize-UnicornTest
}

# The links of this namespace that Unicorn made (its alias), by name.
function Get-UnicornLink {
    ip -j -d link show | ConvertFrom-Json | Where-Object { $_.ifalias -like 'unicorn*' } | ForEach-Object ifname
}

# Every container and bridge of the run, between tests.
function Clear-UnicornNetworkTest([string] $ErrorAction = 'Stop') {
    Get-UnicornContainer | Remove-UnicornContainer -Force -ErrorAction $ErrorAction
    Get-UnicornBridge | Remove-UnicornBridge -Force -ErrorAction $ErrorAction
}

# As Complete-UnicornTest, after removing the containers and bridges: no link Unicorn made and
# none of its nftables tables may be left.
function Complete-UnicornNetworkTest {
    Clear-UnicornNetworkTest -ErrorAction Continue
    $leftLinks = @(Get-UnicornLink)
    $table = nft list tables 2>&1 | Select-String '(inet|bridge) unicorn'
    Complete-UnicornTest
    $leftLinks | Should -BeNullOrEmpty -Because 'every bridge and veth Unicorn made must be gone'
    $table | Should -BeNullOrEmpty -Because "Unicorn's nftables tables go with its last bridge"
}
