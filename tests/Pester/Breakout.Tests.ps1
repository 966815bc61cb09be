#Requires -Version 7.6
# A malicious image and a compromised container, played as an attacker would: each test tries a
# way out of the container onto the host (issue 11), and checks the host is untouched.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest
    $script:Base = Copy-DefaultRootfs breakout-base
    # A place on the host the attacker aims at, which must stay empty.
    $script:Target = New-Item -ItemType Directory (Join-Path $script:TestRoot 'host-target') | ForEach-Object FullName

    # A copy of the default rootfs, changed by the attacker's script (run by bash in its root).
    function New-HostileRootfs([string] $Name, [string] $Change) {
        $dir = Join-Path $script:TestRoot $Name
        if (Test-Path $dir) { Remove-Item $dir -Recurse -Force }
        Copy-Item $script:Base $dir -Recurse
        bash -c "cd '$dir' && $Change"
        if ($LASTEXITCODE -ne 0) { throw "Changing $Name failed." }
        $dir
    }
    $script:Probe = Join-Path $script:TestRoot 'probe'
    cc -O2 -static -Wall -Wextra -Werror -o $script:Probe (Join-Path $PSScriptRoot 'probe/probe.c')
    if ($LASTEXITCODE -ne 0) { throw 'Building the probe failed.' }
    function Get-HostTarget { @(Get-ChildItem $script:Target -Force -Recurse | ForEach-Object FullName) }
}

AfterAll {
    Get-UnicornContainer | Remove-UnicornContainer -Force
    Get-UnicornRootfs | Remove-UnicornRootfs
    Complete-UnicornTest
}

Describe 'Symlinked mount targets in a hostile image' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Remove-UnicornRootfs
    }

    It 'refuses to mount <Dir> where the image has a symbolic link (<Link>), so that no mask is lost' -ForEach @(
        @{ Dir = 'proc'; Link = '/.unicorn-oldroot/../realproc' }
        @{ Dir = 'proc'; Link = 'realproc' }
        @{ Dir = 'sys'; Link = '/.unicorn-oldroot/../realsys' }
        @{ Dir = 'dev'; Link = '../realdev' }
    ) {
        $root = New-HostileRootfs "symlinked-$Dir" "rm -rf $Dir && mkdir real$Dir && ln -s '$Link' $Dir"
        # The attacker's aim would be /proc/sys/kernel/core_pattern (host root). The test, should
        # it fail, writes only the container's own (UTS-namespaced) domainname.
        $err = $null
        try {
            New-UnicornRootfs -Path $root | Start-UnicornContainer -Wait -ErrorAction Stop -Command sh, -c, `
                'echo pwned > /realproc/sys/kernel/domainname && echo proc-sys-writable'
        }
        catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty -Because 'the start must fail, not run with the masks off'
        $err.FullyQualifiedErrorId | Should -Be 'ContainerSetupFailed,Unicorn.Commands.StartUnicornContainerCommand'
        $err.Exception.Message | Should -Match "/$Dir.*symbolic link"
        Get-UnicornContainer | Should -BeNullOrEmpty
    }

    It 'binds /etc files inside the root when the image points /etc at the old root''s place' {
        # Before: binds were resolved with the host's root still mounted in the container at
        # /.unicorn-oldroot, so hostname, hosts and resolv.conf were made on the host.
        $root = New-HostileRootfs etc-to-host "rm -rf etc && ln -s '/.unicorn-oldroot$script:Target' etc"
        $c = New-UnicornRootfs -Path $root | Start-UnicornContainer -Wait -Hostname inside -Command cat, /etc/hostname
        $c.ExitCode | Should -Be 0
        (Get-UnicornContainerLog $c).Text | Should -Be 'inside'
        Get-HostTarget | Should -BeNullOrEmpty
    }

    It 'binds a volume inside the root when its target is a symbolic link that climbs out' {
        $source = New-Item -ItemType Directory (Join-Path $script:TestRoot 'volume-source') -Force | ForEach-Object FullName
        Set-Content (Join-Path $source 'data') 'volume-data'
        $root = New-HostileRootfs volume-escape "ln -s '../../../../../../../..$script:Target' data"
        $c = New-UnicornRootfs -Path $root | Start-UnicornContainer -Wait -Volume "${source}:/data/sub" -Command cat, /data/sub/data
        $c.ExitCode | Should -Be 0
        (Get-UnicornContainerLog $c).Text | Should -Be 'volume-data'
        Get-HostTarget | Should -BeNullOrEmpty
    }

    It 'refuses a bind whose target lands in /proc or /sys: <Case>' -ForEach @(
        @{ Case = '/etc/hosts a symlink to core_pattern'; Change = 'rm -f etc/hosts && ln -s /proc/sys/kernel/core_pattern etc/hosts'; Extra = @{} }
        @{ Case = 'a volume on /proc/sys'; Change = 'true'; Extra = @{ Volume = '/etc/hostname:/proc/sys/kernel/hostname' } }
        @{ Case = 'a tmpfs on /proc/sys'; Change = 'true'; Extra = @{ Tmpfs = '/proc/sys' } }
        @{ Case = 'a tmpfs through a symlink to /sys'; Change = 'ln -s /sys/kernel mask'; Extra = @{ Tmpfs = '/mask' } }
    ) {
        $root = New-HostileRootfs "kernel-target" $Change
        { New-UnicornRootfs -Path $root | Start-UnicornContainer -Wait -ErrorAction Stop @Extra -Command true } |
            Should -Throw -ErrorId 'ContainerSetupFailed,Unicorn.Commands.StartUnicornContainerCommand'
    }

    It 'masks the kernel''s own files, which nothing in the image or a volume can stand in for' {
        # /proc is no symlink and nothing may be mounted in it, so each mask reaches the kernel's
        # file (or the start fails: a mask is never skipped but where the kernel lacks the file).
        $out = New-UnicornRootfs -Path $script:Base | Start-UnicornContainer -Wait -Command sh, -c, 'grep -c . /proc/keys /proc/timer_list; ls /sys/firmware | wc -l' |
            Get-UnicornContainerLog | ForEach-Object Text
        $out | Should -Be '/proc/keys:0', '/proc/timer_list:0', '0'
    }
}

Describe 'Exec into a container that prepared a trap (CVE-2024-21626 class)' {
    BeforeAll {
        $script:c = New-UnicornRootfs -Path $script:Base | Start-UnicornContainer -Command sh, -c, `
            'for n in 3 4 5 6 7 8 9 10 11 12; do ln -s /proc/self/fd/$n /w$n; done; mkdir /ok; sleep 600'
        Start-Sleep -Milliseconds 200
    }
    AfterAll { $script:c | Remove-UnicornContainer -Force }

    It 'never runs an exec''d command in a host directory through /proc/self/fd/<Fd>' -ForEach (3..12 | ForEach-Object { @{ Fd = $_ } }) {
        foreach ($cwd in "/proc/self/fd/$Fd", "/w$Fd") {
            { Invoke-UnicornCommand $script:c -WorkingDirectory $cwd -Command pwd -ErrorAction Stop } |
                Should -Throw -ErrorId 'ContainerSetupFailed,Unicorn.Commands.InvokeUnicornCommandCommand'
        }
    }

    It 'still runs in a working directory of the container''s own' {
        Invoke-UnicornCommand $script:c -WorkingDirectory /ok -Command pwd | Should -Be '/ok'
    }

    It 'leaves no host descriptor open in the exec''d process' {
        Invoke-UnicornCommand $script:c -Command ls, /proc/self/fd | Sort-Object | Should -Be '0', '1', '2', '3'
    }
}

Describe 'The launcher binary out of a container''s reach (CVE-2019-5736 class)' {
    BeforeAll {
        # A copy of the launcher: were the attack to work, it would damage only this copy.
        $script:Launcher = Join-Path $script:TestRoot 'unicorn-launcher'
        Copy-Item $env:UNICORN_LAUNCHER $script:Launcher
        $script:SavedLauncher = $env:UNICORN_LAUNCHER
        $env:UNICORN_LAUNCHER = $script:Launcher
        $script:Overwrite = Join-Path $script:TestRoot 'overwrite'
        cc -O2 -Wall -Wextra -Werror -o $script:Overwrite (Join-Path $PSScriptRoot 'probe/overwrite.c')
        if ($LASTEXITCODE -ne 0) { throw 'Building overwrite failed.' }
    }
    AfterAll { $env:UNICORN_LAUNCHER = $script:SavedLauncher }

    It 'runs every launcher through a read-only overlay mounted nowhere (or a sealed copy), which no one can write, even once it is idle' {
        $c = New-UnicornRootfs -Path $script:Base | Start-UnicornContainer -Command sleep, 600
        $started = Get-Content (Join-Path $env:UNICORN_STATE_ROOT "containers/$($c.Id)/started") -Raw | ConvertFrom-Json
        $exe = "/proc/$($started.SupervisorPid)/exe"
        # The overlay's file (shown as /unicorn-launcher, a path of a mount attached nowhere), or
        # /memfd:unicorn-launcher where no overlay can be made: never the binary on disk.
        (Get-Item $exe).LinkTarget | Should -BeIn '/unicorn-launcher', '/memfd:unicorn-launcher (deleted)', '/memfd:unicorn-launcher'
        $before = (Get-FileHash $script:Launcher).Hash
        # The attacker holds what /proc/<pid>/exe gives, and writes once no launcher runs.
        $go = Join-Path $script:TestRoot 'overwrite-go'
        $job = Start-ThreadJob { param($o, $e, $g) & $o $e $g } -ArgumentList $script:Overwrite, $exe, $go
        while ($job.State -in 'NotStarted', 'Running' -and -not ($job.Output -contains 'held')) { Start-Sleep -Milliseconds 20 }
        $c | Remove-UnicornContainer -Force
        New-Item $go | Out-Null
        $out = $job | Wait-Job -Timeout 30 | Receive-Job
        $job | Remove-Job -Force
        $out | Where-Object { $_ -like 'write *' } | Should -BeIn 'write EROFS', 'write EPERM' # read-only overlay, sealed copy
        (Get-FileHash $script:Launcher).Hash | Should -Be $before
    }
}

Describe 'What other host users can reach (CVE-2021-41091 class)' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Remove-UnicornRootfs
    }

    It 'keeps both roots 0700 and the containers'' state files 0600' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command sleep, 600 -Environment @{ SECRET = 's3cret' }
        foreach ($root in $env:UNICORN_STATE_ROOT, $env:UNICORN_DATA_ROOT) {
            (Get-Item $root).UnixFileMode | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite, UserExecute') -Because $root
        }
        foreach ($file in 'config.json', 'spec') {
            (Get-Item (Join-Path $env:UNICORN_STATE_ROOT "containers/$($c.Id)/$file")).UnixFileMode | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite') -Because $file
        }
        # As nobody: not one file under the roots.
        setpriv --reuid=65534 --regid=65534 --clear-groups cat (Join-Path $env:UNICORN_STATE_ROOT "containers/$($c.Id)/config.json") 2>&1 |
            Should -Match 'Permission denied'
    }

    It 'tightens roots an older version left open' {
        chmod 0755 $env:UNICORN_DATA_ROOT
        # A new session (each checks the roots once).
        Invoke-ChildPwsh "Import-Module '$script:ModulePath'; `$null = Get-UnicornContainer"
        (Get-Item $env:UNICORN_DATA_ROOT).UnixFileMode | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
    }

    It 'mounts the overlay nosuid and nodev on the host, while setuid works inside' {
        $root = New-HostileRootfs suid-image "cp '$script:Probe' bin/suid-probe && chmod 4755 bin/suid-probe"
        $rootfs = New-UnicornRootfs -Path $root
        $merged = $rootfs.Path
        $options = Get-Content /proc/self/mountinfo | Where-Object { ($_ -split ' ')[4] -eq $merged } | ForEach-Object { ($_ -split ' ')[5] }
        $options | Should -Match 'nosuid'
        $options | Should -Match 'nodev'
        # A host user who reached the file (roots opened for the test) gets no root from it.
        chmod 0755 $env:UNICORN_DATA_ROOT
        try {
            bash -c "chmod o+x '$(Split-Path $merged)' '$(Split-Path (Split-Path $merged))'; setpriv --reuid=65534 --regid=65534 --clear-groups '$merged/bin/suid-probe' euid" |
                Should -Be 'euid 65534'
        }
        finally { chmod 0700 $env:UNICORN_DATA_ROOT }
        # Inside, the same file is setuid as ever (with -AllowNewPrivileges, as in Docker).
        $c = $rootfs | Start-UnicornContainer -Wait -User 1000 -AllowNewPrivileges -Command suid-probe, euid
        (Get-UnicornContainerLog $c).Text | Should -Be 'euid 0'
    }
}

Describe 'NUL in the launcher''s spec' {
    It 'refuses an image config whose Env would add spec records (bind the host''s /)' {
        $tar = Join-Path $script:TestRoot 'nul-image.tar'
        tar -C $script:Base -cf $tar .
        $image = Import-UnicornImage $tar -Name nul-image
        # A record tampered with on disk (or written by an older version): the start checks too.
        $record = Get-ChildItem (Join-Path $env:UNICORN_DATA_ROOT 'images/records') -Filter '*.json' | Select-Object -First 1
        $json = Get-Content $record -Raw | ConvertFrom-Json
        $json.Config.Env = @("X=1`0bind`0/`0/hostroot`0rw")
        $json | ConvertTo-Json -Depth 10 | Set-Content $record
        { New-UnicornRootfs -Image nul-image | Start-UnicornContainer -Wait -ErrorAction Stop -Command ls, /hostroot } |
            Should -Throw -ErrorId 'InvalidImageConfig,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornContainer | Should -BeNullOrEmpty
        Get-UnicornRootfs | Remove-UnicornRootfs
        $image | Remove-UnicornImage
    }
}
