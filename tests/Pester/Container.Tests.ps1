#Requires -Version 7.6
# End to end, as root, on the real kernel: what a container sees and what the host keeps.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest
}

AfterAll {
    Complete-UnicornTest
}

Describe 'Start-UnicornContainer -Wait' -Tag 'Root', 'Container' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'runs the command as pid 1, seeing only its own processes' {
        $c = Invoke-TestContainer 'echo "pid=$$"; ls /proc | grep -E "^[0-9]+$" | tr "\n" " "'
        $c.ExitCode | Should -Be 0
        $c.Output[0] | Should -Be 'pid=1'
        # pid 1 (the shell) and the pids of ls, grep and tr: nothing of the host's.
        $pids = $c.Output[1].Trim() -split ' ' | ForEach-Object { [int]$_ }
        $pids | Should -Contain 1
        $pids.Count | Should -BeLessOrEqual 4
    }

    It 'sets the hostname and leaves the host''s alone' {
        $hostBefore = [Net.Dns]::GetHostName()
        $c = Invoke-TestContainer 'hostname; cat /etc/hostname; grep -c box-one /etc/hosts' -Parameters @{ Hostname = 'box-one' }
        $c.Output | Should -Be @('box-one', 'box-one', '1')
        $c.Hostname | Should -Be 'box-one'
        (Get-Content /proc/sys/kernel/hostname) | Should -Be $hostBefore
    }

    It 'defaults the hostname and name to the short id' {
        $c = Invoke-TestContainer 'hostname'
        $c.Output | Should -Be $c.Id.Substring(0, 12)
        $c.Name | Should -Be $c.Id.Substring(0, 12)
    }

    It 'gives the container its own /proc, read-only /sys and a private /dev' {
        $c = Invoke-TestContainer @'
grep -E " /(proc|sys|dev|dev/pts|dev/shm|dev/mqueue) " /proc/self/mountinfo | awk '{print $5, $6, $9}'
ls /dev | tr "\n" " "; echo
[ -c /dev/null ] && [ -c /dev/urandom ] && [ -L /dev/ptmx ] && echo devices-ok
echo x > /sys/kernel/x 2>/dev/null || echo sys-readonly
'@
        $c.ExitCode | Should -Be 0
        $mounts = $c.Output | Where-Object { $_ -match '^/' }
        $mounts | Should -Contain ($mounts | Where-Object { $_ -match '^/proc .* proc$' })
        ($mounts | Where-Object { $_ -match '^/sys ro,' }) | Should -Not -BeNullOrEmpty
        ($mounts | Where-Object { $_ -match '^/dev .* tmpfs$' }) | Should -Not -BeNullOrEmpty
        ($mounts | Where-Object { $_ -match '^/dev/pts .* devpts$' }) | Should -Not -BeNullOrEmpty
        ($mounts | Where-Object { $_ -match '^/dev/shm .* tmpfs$' }) | Should -Not -BeNullOrEmpty
        ($mounts | Where-Object { $_ -match '^/dev/mqueue .* mqueue$' }) | Should -Not -BeNullOrEmpty
        $devices = ($c.Output | Where-Object { $_ -match '\bnull\b' }) -split ' '
        foreach ($d in 'null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm', 'mqueue', 'ptmx', 'fd', 'stdin', 'stdout', 'stderr') {
            $devices | Should -Contain $d
        }
        $c.Output | Should -Contain 'devices-ok'
        $c.Output | Should -Contain 'sys-readonly'
    }

    It 'cannot reach the host''s root' {
        $marker = Join-Path $script:TestRoot "host-marker-$([guid]::NewGuid().ToString('n'))"
        Set-Content $marker 'host'
        $c = Invoke-TestContainer "test -e '$marker' && echo reachable; test -e /.unicorn-oldroot && echo oldroot; cat /proc/self/mountinfo"
        $c.Output | Should -Not -Contain 'reachable'
        $c.Output | Should -Not -Contain 'oldroot'
        # None of the host's other mounts (its cgroups, for one) is in the container's table.
        ($c.Output | Where-Object { $_ -match 'cgroup' }) | Should -BeNullOrEmpty
    }

    It 'brings loopback up in a network namespace of its own' {
        $c = Invoke-TestContainer 'ip -o link | awk "{print \$2}" | tr "\n" " "; echo; ip -o addr show lo | grep -c "inet 127.0.0.1"; cat /sys/class/net/lo/operstate'
        $c.Output[0].Trim() | Should -Be 'lo:'
        $c.Output[1] | Should -Be '1'
        $c.Output[2] | Should -BeIn 'unknown', 'up'
    }

    It 'starts the command with default signal dispositions, an empty mask and no stray fds' {
        $c = Invoke-TestContainer 'grep -E "^Sig(Ign|Blk):" /proc/self/status; ls /proc/self/fd | tr "\n" " "'
        $c.Output | Should -Contain "SigIgn:`t0000000000000000"
        $c.Output | Should -Contain "SigBlk:`t0000000000000000"
        # 0-2, and the directory ls itself opened.
        @($c.Output[-1].Trim() -split ' ').Count | Should -BeLessOrEqual 4
    }

    It 'passes the environment and the working directory' {
        $c = Invoke-TestContainer 'echo "$GREETING|$HOME|$HOSTNAME|$PATH"; pwd' -Parameters @{
            Environment = @{ GREETING = 'hello world' }; WorkingDirectory = '/srv/app'; Hostname = 'envbox'
        }
        $c.Output[0] | Should -Be 'hello world|/root|envbox|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
        $c.Output[1] | Should -Be '/srv/app'
    }

    It 'returns exit code <code> for <script>' -ForEach @(
        @{ script = 'exit 0'; code = 0 }
        @{ script = 'exit 3'; code = 3 }
        @{ script = 'sh -c "kill -9 \$\$"; exit $?'; code = 137 }
    ) {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, $script -Wait
        $c.ExitCode | Should -Be $code
        $c.State | Should -Be 'Exited'
        $c.Finished | Should -BeGreaterOrEqual $c.Started
    }

    Context 'ended from outside' {
        BeforeEach {
            # -Wait blocks, so the container runs in a second runspace while this one acts on it.
            $ps = [powershell]::Create()
            [void]$ps.AddScript({
                    param($module)
                    Import-Module $module
                    New-UnicornRootfs | Start-UnicornContainer -Name waited -Command /bin/sleep, 1000 -Wait
                }).AddArgument($script:ModulePath)
            $async = $ps.BeginInvoke()
            $deadline = [datetime]::UtcNow.AddSeconds(10)
            while (-not (Get-UnicornContainer -State Running) -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            $running = Get-UnicornContainer waited
        }
        AfterEach { $ps.Dispose() }

        It 'records 128+9 when SIGKILL ends the command' {
            $running.State | Should -Be 'Running'
            kill -KILL $running.Pid
            $c = $ps.EndInvoke($async)
            $c.ExitCode | Should -Be 137
            $c.State | Should -Be 'Exited'
        }

        It 'kills the container when the wait is stopped (Ctrl+C)' {
            $running.State | Should -Be 'Running'
            $ps.Stop()
            (Get-UnicornContainer waited).ExitCode | Should -Be 137
            Test-ProcessAlive $running.Pid | Should -BeFalse
        }
    }
}

Describe 'Root filesystems and volumes' -Tag 'Root', 'Container' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Remove-UnicornRootfs
    }

    It 'writes to the upper directory only' {
        $lower = Copy-DefaultRootfs 'lower'
        $before = Get-ChildItem $lower -Recurse -Force | ForEach-Object FullName
        $passwd = Get-Content "$lower/etc/passwd" -Raw

        $r = New-UnicornRootfs -Path $lower
        $c = $r | Start-UnicornContainer -Command /bin/sh, -c, 'echo new > /created; echo "x:x:1:1::/:/bin/sh" >> /etc/passwd; rm /bin/ls' -Wait
        $c.ExitCode | Should -Be 0
        Get-Content (Join-Path $r.UpperDir 'created') | Should -Be 'new'
        Get-Content (Join-Path $r.UpperDir 'etc/passwd') -Raw | Should -Match 'x:x:1:1'
        Get-Content "$lower/etc/passwd" -Raw | Should -Be $passwd
        Get-ChildItem $lower -Recurse -Force | ForEach-Object FullName | Should -Be $before
        Test-Path "$lower/bin/ls" | Should -BeTrue
    }

    It 'binds a read-write volume and a read-only one' {
        $rw = New-Item -ItemType Directory (Join-Path $script:TestRoot 'rw') -Force
        $ro = New-Item -ItemType Directory (Join-Path $script:TestRoot 'ro') -Force
        Set-Content (Join-Path $ro 'data.txt') 'from the host'
        $c = Invoke-TestContainer 'cat /data/data.txt; echo written > /out/result.txt; echo nope > /data/x || echo refused' -Volume "${ro}:/data:ro", "${rw}:/out"
        $c.Output | Should -Contain 'from the host'
        $c.Output | Should -Contain 'refused'
        Get-Content (Join-Path $rw 'result.txt') | Should -Be 'written'
        Test-Path (Join-Path $ro 'x') | Should -BeFalse
    }

    It 'makes a read-only volume read-only all the way down, mounts below it too' {
        $src = New-Item -ItemType Directory (Join-Path $script:TestRoot 'rosrc/sub') -Force
        mount -t tmpfs unicorn-test-sub $src.FullName
        try {
            $c = Invoke-TestContainer 'touch /data/sub/x 2>/dev/null && echo writable || echo refused' -Volume "$($src.Parent.FullName):/data:ro"
            $c.Output | Should -Be 'refused'
        }
        finally { umount $src.FullName }
    }

    It 'resolves a volume''s container path inside the container, never through a symlink to the host' {
        $probe = Join-Path $script:TestRoot 'target-probe'
        $vol = New-Item -ItemType Directory (Join-Path $script:TestRoot 'vol') -Force
        $r = New-UnicornRootfs
        # A symlink in the image that names a host path: resolved inside the new root, where its
        # target is made (as Docker does), and the volume lands there, never on the host.
        New-Item -ItemType SymbolicLink -Path (Join-Path $r.Path 'escape') -Target $probe | Out-Null
        Set-Content (Join-Path $vol 'file') 'in-volume'
        $c = $r | Start-UnicornContainer -Command cat, /escape/file -Volume "${vol}:/escape" -Wait
        (Get-UnicornContainerLog $c).Text | Should -Be 'in-volume'
        Test-Path $probe | Should -BeFalse
        Get-MountPoint | Where-Object { $_ -like "$($script:TestRoot)*probe*" } | Should -BeNullOrEmpty
    }

    It 'resolves a relative host path against the current location' {
        Push-Location (New-Item -ItemType Directory (Join-Path $script:TestRoot 'cwd') -Force)
        try {
            New-Item -ItemType Directory 'shared' | Out-Null
            $c = Invoke-TestContainer 'echo from-inside > /shared/file' -Volume 'shared:/shared'
            $c.ExitCode | Should -Be 0
            Get-Content 'shared/file' | Should -Be 'from-inside'
        }
        finally { Pop-Location }
    }

    It 'refuses a volume that is malformed or missing, before creating anything' -ForEach @(
        @{ spec = 'no-such-relative-dir:/data'; id = 'VolumeSourceNotFound' }
        @{ spec = '/tmp:/data:rx'; id = 'InvalidVolume' }
        @{ spec = '/tmp:data'; id = 'InvalidVolume' }
        @{ spec = '/tmp:/a/../../b'; id = 'InvalidVolume' }
        @{ spec = '/no/such/dir/anywhere:/data'; id = 'VolumeSourceNotFound' }
    ) {
        $r = New-UnicornRootfs
        { $r | Start-UnicornContainer -Command /bin/true -Volume $spec -Wait } | Should -Throw -ErrorId "$id,Unicorn.Commands.StartUnicornContainerCommand"
        Get-UnicornContainer | Should -BeNullOrEmpty
    }

    It 'takes a plain directory with -RootfsPath and never removes it' {
        $dir = Copy-DefaultRootfs 'plain'
        $c = Start-UnicornContainer -RootfsPath $dir -Command /bin/sh, -c, 'echo hi > /hello' -Wait
        $c.ExitCode | Should -Be 0
        $c | Remove-UnicornContainer
        Get-Content "$dir/hello" | Should -Be 'hi'
    }
}

Describe 'Failed starts' -Tag 'Root', 'Container' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Remove-UnicornRootfs
    }

    It 'names a missing command in a terminating error and leaves nothing behind' {
        # Only the mounts this run owns (under its roots): other work on the host may mount too.
        $mounts = Get-OwnMountPoint
        $state = Get-UnicornLeftover
        $err = { New-UnicornRootfs | Start-UnicornContainer -Command /bin/nope -Wait } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -Be 'ExecutableNotFound,Unicorn.Commands.StartUnicornContainerCommand'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.Exception.Message | Should -Match "'/bin/nope' was not found in the container's root filesystem"
        Get-OwnMountPoint | Should -Be $mounts
        Get-UnicornLeftover | Should -Be $state
        Get-UnicornContainer | Should -BeNullOrEmpty
        Get-UnicornRootfs | Should -BeNullOrEmpty
    }

    It 'says when the command is not executable' {
        $r = New-UnicornRootfs
        { $r | Start-UnicornContainer -Command /etc/passwd -Wait } | Should -Throw -ErrorId 'ExecutableNotExecutable,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornContainer | Should -BeNullOrEmpty
        Get-UnicornRootfs | Should -BeNullOrEmpty
    }

    It 'refuses a name that is taken, and keeps the first container' {
        $first = New-UnicornRootfs | Start-UnicornContainer -Name taken -Command /bin/true -Wait
        { New-UnicornRootfs | Start-UnicornContainer -Name taken -Command /bin/true -Wait } | Should -Throw -ErrorId 'ContainerNameInUse,Unicorn.Commands.StartUnicornContainerCommand'
        (Get-UnicornContainer taken).Id | Should -Be $first.Id
        @(Get-UnicornContainer).Count | Should -Be 1
    }

    It 'keeps a piped-in rootfs when the name is taken: bad input touches nothing' {
        $first = New-UnicornRootfs | Start-UnicornContainer -Name mine -Command /bin/true -Wait
        $r = New-UnicornRootfs
        { $r | Start-UnicornContainer -Name mine -Command /bin/true -Wait } | Should -Throw -ErrorId 'ContainerNameInUse,Unicorn.Commands.StartUnicornContainerCommand'
        (Get-UnicornRootfs $r.Id).ContainerId | Should -BeNullOrEmpty
        $first | Remove-UnicornContainer
        $r | Remove-UnicornRootfs
    }

    It 'refuses a rootfs that another container owns' {
        $r = New-UnicornRootfs
        $first = $r | Start-UnicornContainer -Command /bin/true -Wait
        { $r | Start-UnicornContainer -Command /bin/true -Wait } | Should -Throw -ErrorId 'RootfsBusy,Unicorn.Commands.StartUnicornContainerCommand'
        (Get-UnicornRootfs $r.Id).ContainerId | Should -Be $first.Id
        $first | Remove-UnicornContainer
        Get-UnicornRootfs -Id $r.Id -ErrorAction Ignore | Should -BeNullOrEmpty
    }
}

Describe 'Get-UnicornContainer and Remove-UnicornContainer' -Tag 'Root', 'Container' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'finds containers by wildcard, name, id prefix and state' {
        $a = New-UnicornRootfs | Start-UnicornContainer -Name web-1 -Command /bin/true -Wait
        $b = New-UnicornRootfs | Start-UnicornContainer -Name web-2 -Command /bin/sh, -c, 'exit 1' -Wait
        $db = New-UnicornRootfs | Start-UnicornContainer -Name db -Command /bin/true -Wait
        (Get-UnicornContainer web*).Name | Sort-Object | Should -Be @('web-1', 'web-2')
        (Get-UnicornContainer db).Id | Should -Be $db.Id
        (Get-UnicornContainer -Id $b.Id.Substring(0, 10)).Name | Should -Be 'web-2'
        (Get-UnicornContainer -State Exited).Count | Should -Be 3
        ($a | Get-UnicornRootfs).Id | Should -Be $a.RootfsId
        (TabExpansion2 'Get-UnicornContainer we' 23).CompletionMatches.CompletionText | Should -Be @('web-1', 'web-2')
        (TabExpansion2 'Remove-UnicornContainer -Id d' 29).CompletionMatches.CompletionText | Should -Be @('db')
        { Get-UnicornContainer nothing-like-this -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerNotFound,Unicorn.Commands.GetUnicornContainerCommand'
    }

    It 'shows a detached container as Running with a live pid, and -Force removes it and its mounts' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'mkdir -p /mnt/inner; mount -t tmpfs inner /mnt/inner; sleep 1000'
        $c.State | Should -Be 'Running'
        (Get-Content "/proc/$($c.Pid)/status" | Select-String '^NSpid:').Line | Should -Match '\s1$'
        Start-Sleep -Milliseconds 200
        # The container's mount stays in its namespace.
        Get-MountPoint | Where-Object { $_ -like '*/mnt/inner' } | Should -BeNullOrEmpty

        { $c | Remove-UnicornContainer -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerRunning,Unicorn.Commands.RemoveUnicornContainerCommand'
        $c | Remove-UnicornContainer -Force
        Test-ProcessAlive $c.Pid | Should -BeFalse
        Get-MountPoint | Where-Object { $_ -like "$($c.Rootfs)*" } | Should -BeNullOrEmpty
        Get-UnicornContainer | Should -BeNullOrEmpty
    }

    It 'changes nothing with -WhatIf' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/true -Wait
        $c | Remove-UnicornContainer -WhatIf
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Exited'
        Test-Path $c.Rootfs | Should -BeTrue
    }

    It 'removes deserialized containers bound by property name' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/true -Wait
        $file = Join-Path $script:TestRoot 'dead.xml'
        Get-UnicornContainer | Export-Clixml $file
        Import-Clixml $file | Remove-UnicornContainer
        Get-UnicornContainer | Should -BeNullOrEmpty
    }

    It 'leaves nothing behind after 20 containers in a row' {
        $mounts = Get-OwnMountPoint
        $ids = 1..20 | ForEach-Object {
            $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, "exit $_" -Wait
            $c.ExitCode | Should -Be $_
            $c | Remove-UnicornContainer
            $c.Id
        }
        ($ids | Sort-Object -Unique).Count | Should -Be 20
        Get-OwnMountPoint | Should -Be $mounts
        Get-UnicornLeftover | Should -BeNullOrEmpty
    }
}
