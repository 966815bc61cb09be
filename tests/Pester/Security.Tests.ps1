#Requires -Version 7.6
# The default confinement, read from the kernel inside containers, and tried as an attacker would,
# with a small static probe (probe/probe.c) for the calls busybox cannot make.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest
    # A rootfs directory with the probe in it, setuid root (for the no_new_privs check).
    $script:Root = Copy-DefaultRootfs secure-rootfs
    cc -O2 -static -Wall -Wextra -Werror -o (Join-Path $Root 'bin/probe') (Join-Path $PSScriptRoot 'probe/probe.c')
    if ($LASTEXITCODE -ne 0) { throw 'Building the probe failed.' }
    Copy-Item (Join-Path $Root 'bin/probe') (Join-Path $Root 'bin/suid-probe')
    chmod 4755 (Join-Path $Root 'bin/suid-probe')

    function Invoke-Secure([string[]] $Command, [hashtable] $Extra = @{}) {
        $c = New-UnicornRootfs -Path $Root | Start-UnicornContainer -Wait -Command $Command @Extra
        (Get-UnicornContainerLog $c).Text
    }
    function Get-Status([string[]] $Lines, [string] $Key) { ($Lines | Where-Object { $_ -like "${Key}:*" }) -replace "^${Key}:\s*", '' }
}

AfterAll {
    Get-UnicornContainer | Remove-UnicornContainer -Force
    Get-UnicornRootfs | Remove-UnicornRootfs
    Complete-UnicornTest
}

Describe 'The default confinement' {
    AfterEach { Get-UnicornContainer | Remove-UnicornContainer -Force }

    It 'gives the command Docker''s capability set, no_new_privs and a seccomp filter' {
        $status = Invoke-Secure cat, /proc/self/status
        foreach ($set in 'CapEff', 'CapPrm', 'CapBnd') { Get-Status $status $set | Should -Be '00000000a80425fb' -Because $set }
        # Inheritable and ambient empty, as moby and runc leave them since CVE-2022-24769.
        Get-Status $status 'CapInh' | Should -Be '0000000000000000'
        Get-Status $status 'CapAmb' | Should -Be '0000000000000000'
        Get-Status $status 'NoNewPrivs' | Should -Be '1'
        Get-Status $status 'Seccomp' | Should -Be '2'
    }

    It 'confines a process Invoke-UnicornCommand runs the same way' {
        $c = New-UnicornRootfs -Path $Root | Start-UnicornContainer -Command sleep, 60
        $status = Invoke-UnicornCommand $c -Command cat, /proc/self/status
        Get-Status $status 'CapEff' | Should -Be '00000000a80425fb'
        Get-Status $status 'NoNewPrivs' | Should -Be '1'
        Get-Status $status 'Seccomp' | Should -Be '2'
    }

    It 'refuses what an attacker would try' {
        $out = Invoke-Secure probe, kexec_load, init_module, keyctl, unshare_user, unshare_net, reboot, swapon, mount, sethostname, bpf, perf_event_open
        $out | Should -Contain 'kexec_load EPERM'
        $out | Should -Contain 'init_module EPERM'
        $out | Should -Contain 'keyctl EPERM'
        $out | Should -Contain 'unshare_user EPERM'
        $out | Should -Contain 'unshare_net EPERM'
        $out | Should -Contain 'reboot EPERM'
        $out | Should -Contain 'swapon EPERM'
        $out | Should -Contain 'mount EPERM'
        $out | Should -Contain 'sethostname EPERM'
        $out | Should -Contain 'bpf EPERM'
        $out | Should -Contain 'perf_event_open EPERM'
    }

    It 'lets a device node be made but not opened, by the devices cgroup (cgroup v1)' -Skip:(-not (Test-Path /sys/fs/cgroup/devices/devices.list)) {
        # /dev/kmsg (c 1:11): the host opens it, a container only with -Privileged. (This
        # machine refuses its block devices to everyone, so a disk cannot show the difference.)
        # In /dev (the container's own tmpfs, where device nodes work): the devices cgroup decides.
        $inDev = @{ Environment = @{ PROBE_NODE = '/dev/probe-node' } }
        $out = Invoke-Secure probe, mknod, c, 1:11 -Extra $inDev
        $out | Should -Contain 'mknod ok' -Because 'CAP_MKNOD is in the default set, as in Docker'
        $out | Should -Contain 'open EPERM'
        Invoke-Secure probe, mknod, c, 1:11 -Extra ($inDev + @{ Privileged = $true }) | Should -Contain 'open ok'
    }

    It 'lets no device node on the root filesystem be opened (nodev), unless -Privileged' {
        # An image's device nodes (or one made on the root) open nothing, on cgroup v1 or v2.
        $out = Invoke-Secure probe, mknod, c, 1:3
        $out | Should -Contain 'mknod ok'
        $out | Should -Contain 'open EACCES'
        Invoke-Secure probe, mknod, c, 1:3 -Extra @{ Privileged = $true } | Should -Contain 'open ok'
    }

    It 'masks and write-protects /proc and /sys paths' {
        $out = Invoke-Secure sh, -c, 'echo b > /proc/sysrq-trigger && echo sysrq-written; echo 1 > /proc/sys/kernel/domainname && echo sysctl-written; wc -c < /proc/keys; ls /sys/firmware | wc -l; grep -c . /proc/timer_list'
        $out | Should -Not -Contain 'sysrq-written'
        $out | Should -Not -Contain 'sysctl-written'
        $out | Should -Contain '0'
        (Get-Content /proc/sys/kernel/domainname) | Should -Not -Be '1'
    }

    It 'keeps a setuid binary from gaining privileges under no_new_privs, unless -AllowNewPrivileges' {
        Invoke-Secure suid-probe, euid -Extra @{ User = '1000' } | Should -Be 'euid 1000'
        Invoke-Secure suid-probe, euid -Extra @{ User = '1000'; AllowNewPrivileges = $true } | Should -Be 'euid 0'
    }

    It 'keeps the launcher binary out of reach through /proc/1/exe when it is the container''s -Init, and confines the init' {
        $c = New-UnicornRootfs -Path $Root | Start-UnicornContainer -Init -Command sleep, 60
        Invoke-UnicornCommand $c -Command sh, -c, 'cat /proc/1/exe > /dev/null 2>&1 && echo readable || echo not-readable' | Should -Be 'not-readable'
        $init = Get-Content "/proc/$($c.Pid)/status"
        Get-Status $init 'CapEff' | Should -Be '00000000a80425fb'
        Get-Status $init 'Seccomp' | Should -Be '2'
    }

    It 'never starts a command in a working directory outside the root (the CVE-2024-21626 class)' {
        # No directory of the host is open in the container's process: a working directory
        # through /proc/self/fd leads nowhere, and the start fails instead.
        foreach ($fd in 3..10) {
            { New-UnicornRootfs -Path $Root | Start-UnicornContainer -Wait -WorkingDirectory "/proc/self/fd/$fd" -Command pwd -ErrorAction Stop } |
                Should -Throw -ErrorId 'ContainerSetupFailed,Unicorn.Commands.StartUnicornContainerCommand'
        }
        Get-UnicornRootfs | Should -BeNullOrEmpty
    }

    It 'lets no host file descriptor into the container' {
        # A pwsh whose fd 7 is open on a host file, as a careless caller's might be.
        $child = Join-Path $script:TestRoot 'fd-child.ps1'
        Set-Content $child "Import-Module '$script:ModulePath'; `$c = New-UnicornRootfs -Path '$Root' | Start-UnicornContainer -Command probe, fds; `$null = `$c | Wait-UnicornContainer; (`$c | Get-UnicornContainerLog).Text"
        $exe = (Get-Process -Id $PID).Path
        $prefix = if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { "'$exe' '$([Environment]::GetCommandLineArgs()[0])'" } else { "'$exe'" }
        $out = bash -c "exec 7</etc/hostname; ls /proc/self/fd/7 >/dev/null && exec $prefix -NoProfile -NonInteractive -File '$child'"
        $out | Should -Be 'fd 0', 'fd 1', 'fd 2'
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }
}

Describe 'Loosening and tightening' {
    AfterEach { Get-UnicornContainer | Remove-UnicornContainer -Force }

    It 'grants every capability and no filter with -Privileged' {
        $status = Invoke-Secure cat, /proc/self/status -Extra @{ Privileged = $true }
        Get-Status $status 'Seccomp' | Should -Be '0'
        Get-Status $status 'NoNewPrivs' | Should -Be '0'
        Get-Status $status 'CapEff' | Should -Be ((Get-Content /proc/self/status | Where-Object { $_ -like 'CapBnd:*' }) -replace '^CapBnd:\s*', '')
        Invoke-Secure probe, mount -Extra @{ Privileged = $true } | Should -Be 'mount ok'
    }

    It 'grants what -CapAdd names, and takes what -CapDrop names' {
        Invoke-Secure ip, addr, add, 10.9.9.9/32, dev, lo -Extra @{ CapAdd = 'NET_ADMIN' } | Should -BeNullOrEmpty
        Invoke-Secure ip, addr, add, 10.9.9.9/32, dev, lo | Should -Match 'not permitted'
        Get-Status (Invoke-Secure cat, /proc/self/status -Extra @{ CapAdd = 'CAP_SYS_TIME'; CapDrop = 'chown', 'KILL' }) 'CapEff' |
            Should -Be ('{0:x16}' -f (0xa80425fb -bor (1 -shl 25) -band -bnot 1 -band -bnot (1 -shl 5)))
        Get-Status (Invoke-Secure cat, /proc/self/status -Extra @{ CapDrop = 'ALL' }) 'CapEff' | Should -Be '0000000000000000'
        # Docker's order: the drops, then the adds.
        Get-Status (Invoke-Secure cat, /proc/self/status -Extra @{ CapDrop = 'ALL'; CapAdd = 'NET_BIND_SERVICE' }) 'CapEff' | Should -Be ('{0:x16}' -f (1 -shl 10))
        # An added capability lifts what the filter refuses for want of it: SYS_ADMIN may mount.
        Invoke-Secure probe, mount -Extra @{ CapAdd = 'SYS_ADMIN' } | Should -Be 'mount ok'
        Invoke-Secure sh, -c, 'touch /f; chown 1:1 /f && echo chowned' -Extra @{ CapDrop = 'CHOWN' } | Should -Not -Contain 'chowned'
    }

    It 'runs without the filter with -SeccompProfile Unconfined' {
        Get-Status (Invoke-Secure cat, /proc/self/status -Extra @{ SeccompProfile = 'Unconfined' }) 'Seccomp' | Should -Be '0'
    }

    It 'loads a Docker/OCI JSON profile: actions, errno, argument conditions, and names this architecture lacks' {
        $profile = Join-Path $script:TestRoot 'profile.json'
        @{
            defaultAction = 'SCMP_ACT_ALLOW'
            syscalls = @(
                @{ names = @('mkdir', 'mkdirat'); action = 'SCMP_ACT_ERRNO'; errnoRet = 13 }
                # kill with a signal above 9 (SIGUSR1 is 10) is refused; kill -0 is not.
                @{ names = @('kill'); action = 'SCMP_ACT_ERRNO'; args = @(@{ index = 1; value = 9; op = 'SCMP_CMP_GT' }) }
                @{ names = @('vm86', 'bdflush'); action = 'SCMP_ACT_ERRNO' }
            )
        } | ConvertTo-Json -Depth 5 | Set-Content $profile
        $c = New-UnicornRootfs -Path $Root | Start-UnicornContainer -Wait -SeccompProfile $profile -WarningVariable warnings -WarningAction SilentlyContinue `
            -Command sh, -c, 'mkdir /d 2>&1; kill -0 $$ && echo signal-0-ok; kill -USR1 $$ 2>&1 || echo usr1-refused; grep Seccomp: /proc/self/status'
        $out = (Get-UnicornContainerLog $c).Text
        $out -join "`n" | Should -Match 'Permission denied'
        $out | Should -Contain 'signal-0-ok'
        $out | Should -Contain 'usr1-refused'
        $warnings | Should -Match 'bdflush, vm86'

        Set-Content $profile '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdri"],"action":"SCMP_ACT_ERRNO"}]}'
        { New-UnicornRootfs -Path $Root | Start-UnicornContainer -SeccompProfile $profile -Command true -ErrorAction Stop } |
            Should -Throw -ErrorId 'UnknownSyscall,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornRootfs | Where-Object { -not $_.ContainerId } | Remove-UnicornRootfs
    }

    It 'loads a real profile, containers-common''s seccomp.json' -Skip:(-not (Test-Path /usr/share/containers/seccomp.json)) {
        Get-Status (Invoke-Secure cat, /proc/self/status -Extra @{ SeccompProfile = '/usr/share/containers/seccomp.json'; WarningAction = 'SilentlyContinue' }) 'Seccomp' | Should -Be '2'
        Invoke-Secure probe, kexec_load -Extra @{ SeccompProfile = '/usr/share/containers/seccomp.json'; WarningAction = 'SilentlyContinue' } | Should -Be 'kexec_load EPERM'
    }

    It 'refuses writes outside the tmpfs mounts with -ReadOnly' {
        $out = Invoke-Secure sh, -c, 'touch /x 2>&1; touch /tmp/y && echo tmp-ok; echo h > /etc/hosts && echo hosts-ok' -Extra @{ ReadOnly = $true; Tmpfs = '/tmp' }
        $out -join "`n" | Should -Match 'Read-only file system'
        $out | Should -Contain 'tmp-ok'
    }

    It 'makes a missing working directory before the root turns read-only' {
        Invoke-Secure pwd -Extra @{ ReadOnly = $true; WorkingDirectory = '/new/dir' } | Should -Be '/new/dir'
    }

    It 'sets rlimits with -Ulimit' {
        Invoke-Secure sh, -c, 'ulimit -n; ulimit -Hn' -Extra @{ Ulimit = 'nofile=100:200' } | Should -Be '100', '200'
    }

    It 'refuses <Case> with <ErrorId> before anything is made' -ForEach @(
        @{ Case = 'an unknown capability'; ErrorId = 'UnknownCapability'; Params = @{ CapAdd = 'CAP_FLY' } }
        @{ Case = 'a malformed ulimit'; ErrorId = 'InvalidUlimit'; Params = @{ Ulimit = 'nofile=2:1' } }
        @{ Case = 'an unknown ulimit'; ErrorId = 'InvalidUlimit'; Params = @{ Ulimit = 'wings=1' } }
        @{ Case = 'a missing seccomp profile'; ErrorId = 'SeccompProfileNotFound'; Params = @{ SeccompProfile = '/nonexistent/profile.json' } }
        @{ Case = 'a malformed seccomp profile'; ErrorId = 'InvalidSeccompProfile'; Params = @{ SeccompProfile = '/etc/hostname' } }
        @{ Case = 'a relative tmpfs'; ErrorId = 'InvalidTmpfs'; Params = @{ Tmpfs = 'tmp' } }
        @{ Case = 'a tmpfs with options'; ErrorId = 'InvalidTmpfs'; Params = @{ Tmpfs = '/run:size=64m' } }
    ) {
        $r = New-UnicornRootfs -Path $Root
        { $r | Start-UnicornContainer @Params -Command true -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId,Unicorn.Commands.StartUnicornContainerCommand"
        Get-UnicornRootfs $r.Id | Should -Not -BeNullOrEmpty
        $r | Remove-UnicornRootfs
    }
}
