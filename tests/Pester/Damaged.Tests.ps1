#Requires -Version 7.6
# One bad file must not break everything: damaged records (a crash or a full disk mid-write, or
# garbage) are reported as CorruptState, naming the file, while the rest is listed, and -Force
# removes what is left (issue 12).

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest
    function Get-ContainerFile([string] $Id, [string] $Name) { Join-Path $env:UNICORN_STATE_ROOT "containers/$Id/$Name" }
}

AfterAll {
    Complete-UnicornTest
}

Describe 'Damaged container records' {
    AfterEach {
        Get-ChildItem (Join-Path $env:UNICORN_STATE_ROOT 'containers') -Directory -ErrorAction Ignore |
            ForEach-Object { Remove-UnicornContainer -Id $_.Name -Force -ErrorAction SilentlyContinue }
    }

    It 'lists the others and names the file of a <Record> that is <Case>' -ForEach @(
        @{ Record = 'config.json'; Case = 'empty'; Content = '' }
        @{ Record = 'config.json'; Case = 'cut short'; Content = '{"Id":"abc","Name":' }
        @{ Record = 'started'; Case = 'garbage'; Content = 'not json at all' }
    ) {
        $good = New-UnicornRootfs | Start-UnicornContainer -Name good -Command sleep, 600
        $bad = New-UnicornRootfs | Start-UnicornContainer -Name bad -Command sleep, 600
        $file = Get-ContainerFile $bad.Id $Record
        [IO.File]::WriteAllText($file, $Content)

        $listed = Get-UnicornContainer -ErrorVariable errors -ErrorAction SilentlyContinue
        $listed.Name | Should -Be 'good'
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'CorruptState,Unicorn.Commands.GetUnicornContainerCommand'
        $errors[0].CategoryInfo.Category | Should -Be 'ReadError'
        $errors[0].Exception.Message | Should -BeLike "*$file*"
        $errors[0].Exception.Message | Should -BeLike "*Remove-UnicornContainer -Id $($bad.Id) -Force*"

        # A bulk removal removes the others; the damaged one only with -Force, by id.
        Get-UnicornContainer -ErrorAction SilentlyContinue | Remove-UnicornContainer -Force
        Get-UnicornContainer -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        { Remove-UnicornContainer -Id $bad.Id -ErrorAction Stop } | Should -Throw -ErrorId 'CorruptState,Unicorn.Commands.RemoveUnicornContainerCommand'
        Remove-UnicornContainer -Id $bad.Id.Substring(0, 12) -Force
        Test-ProcessAlive $bad.Pid | Should -BeFalse -Because 'what ran in it is killed'
        Get-UnicornLeftover | Should -BeNullOrEmpty -Because 'its rootfs, name and state are gone'
        Get-UnicornRootfs | Should -BeNullOrEmpty
        # Its name is free again.
        New-UnicornRootfs | Start-UnicornContainer -Name bad -Command true -Wait | Remove-UnicornContainer
    }

    It 'kills a container with no cgroup whose start record is <Case>, found by the kernel (its supervisor, its rootfs)' -ForEach @(
        @{ Case = 'garbage'; KillSupervisor = $false }
        @{ Case = 'missing, its supervisor killed before writing it'; KillSupervisor = $true }
    ) {
        # -Privileged and no limits: no cgroup holds its processes; a child of the init too.
        $c = New-UnicornRootfs | Start-UnicornContainer -Privileged -Command sh, -c, 'sleep 6003 & sleep 6004'
        $started = Get-ContainerFile $c.Id 'started'
        $record = Get-Content $started -Raw | ConvertFrom-Json
        if ($KillSupervisor) {
            Remove-Item $started
            Stop-Process -Id $record.SupervisorPid -Force
            Wait-Until { -not (Test-ProcessAlive $record.SupervisorPid) }
            $seen = Get-UnicornContainer -Id $c.Id
            $seen.State | Should -Be 'Unknown' -Because 'its command runs, as the kernel says, though no record names it'
            $seen.Pid | Should -BeNullOrEmpty
            { Remove-UnicornContainer -Id $c.Id -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerRunning,Unicorn.Commands.RemoveUnicornContainerCommand'
        }
        else {
            [IO.File]::WriteAllText($started, 'garbage')
        }
        $sleeps = { Get-ChildItem /proc -Directory | Where-Object Name -match '^\d+$' |
            Where-Object { (Get-Content "/proc/$($_.Name)/cmdline" -Raw -ErrorAction Ignore) -match "^sleep`0600[34]`0$" } }
        @(& $sleeps).Count | Should -Be 2
        $watch = [Diagnostics.Stopwatch]::StartNew()
        Remove-UnicornContainer -Id $c.Id -Force
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
        & $sleeps | Should -BeNullOrEmpty -Because 'the init and its child are killed'
        Test-ProcessAlive $record.SupervisorPid | Should -BeFalse
        Get-UnicornLeftover | Should -BeNullOrEmpty
        Get-OwnMountPoint | Should -BeNullOrEmpty
    }

    It 'puts back a names link that was lost, so that no two containers share a name' {
        $first = New-UnicornRootfs | Start-UnicornContainer -Name keeper -Command sleep, 600
        Remove-Item (Join-Path $env:UNICORN_STATE_ROOT 'names/keeper')
        { New-UnicornRootfs | Start-UnicornContainer -Name keeper -Command true -ErrorAction Stop } |
            Should -Throw -ErrorId 'ContainerNameInUse,Unicorn.Commands.StartUnicornContainerCommand'
        (Get-UnicornContainer keeper).Id | Should -Be $first.Id
        Get-UnicornRootfs | Where-Object { -not $_.ContainerId } | Remove-UnicornRootfs
        # Listing puts it back too.
        Remove-Item (Join-Path $env:UNICORN_STATE_ROOT 'names/keeper')
        (Get-UnicornContainer).Name | Should -Be 'keeper'
        (Get-Item (Join-Path $env:UNICORN_STATE_ROOT 'names/keeper')).LinkTarget | Should -Be $first.Id
    }

    It 'changes nothing with -WhatIf' {
        $bad = New-UnicornRootfs | Start-UnicornContainer -Command sleep, 600
        [IO.File]::WriteAllText((Get-ContainerFile $bad.Id 'config.json'), '')
        Remove-UnicornContainer -Id $bad.Id -Force -WhatIf
        Test-ProcessAlive $bad.Pid | Should -BeTrue
        Test-Path (Get-ContainerFile $bad.Id 'started') | Should -BeTrue
    }
}

Describe 'Damaged rootfs records' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-ChildItem (Join-Path $env:UNICORN_DATA_ROOT 'rootfs') -Directory -ErrorAction Ignore |
            ForEach-Object { Remove-UnicornRootfs -RootfsId $_.Name -ErrorAction SilentlyContinue }
    }

    It 'lists the others, and removes one whose rootfs.json is garbage (unmounted too)' {
        $good = New-UnicornRootfs
        $bad = New-UnicornRootfs
        $record = Join-Path $env:UNICORN_DATA_ROOT "rootfs/$($bad.Id)/rootfs.json"
        [IO.File]::WriteAllText($record, '{"Id": 12, ')
        $listed = Get-UnicornRootfs -ErrorVariable errors -ErrorAction SilentlyContinue
        $listed.Id | Should -Be $good.Id
        $errors[0].FullyQualifiedErrorId | Should -Be 'CorruptState,Unicorn.Commands.GetUnicornRootfsCommand'
        $errors[0].Exception.Message | Should -BeLike "*$record*"
        { Get-UnicornRootfs $bad.Id.Substring(0, 10) -ErrorAction Stop } | Should -Throw -ErrorId 'CorruptState,Unicorn.Commands.GetUnicornRootfsCommand'
        Remove-UnicornRootfs $bad.Id.Substring(0, 10)
        Get-OwnMountPoint | Should -Not -Contain $bad.Path
        Test-Path (Split-Path $bad.Path) | Should -BeFalse
        (Get-UnicornRootfs).Id | Should -Be $good.Id
    }

    It 'sweeps what a New-UnicornRootfs killed before its record left (a directory, a temporary file)' {
        $id = ('cd' * 32)
        $dir = New-Item -ItemType Directory (Join-Path $env:UNICORN_DATA_ROOT "rootfs/$id/upper") -Force
        Set-Content (Join-Path $env:UNICORN_DATA_ROOT "rootfs/$id/.rootfs.json.1.1.tmp") '{"Id":'
        $good = New-UnicornRootfs
        (Get-UnicornRootfs).Id | Should -Be $good.Id
        Test-Path (Join-Path $env:UNICORN_DATA_ROOT "rootfs/$id") | Should -BeFalse
        $good | Remove-UnicornRootfs
    }

    It 'treats an owner file that a crash left <Case> as no owner: the rootfs can be claimed and removed' -ForEach @(
        @{ Case = 'empty'; Content = '' }
        @{ Case = 'cut short'; Content = 'a1b2' }
        @{ Case = 'naming a container that is gone (after a reboot)'; Content = ('ab' * 32) }
    ) {
        $r = New-UnicornRootfs
        [IO.File]::WriteAllText((Join-Path $env:UNICORN_DATA_ROOT "rootfs/$($r.Id)/owner"), $Content)
        $c = $r | Start-UnicornContainer -Command true -Wait
        $c.ExitCode | Should -Be 0
        $c | Remove-UnicornContainer
        Get-UnicornRootfs | Should -BeNullOrEmpty -Because 'the container that claimed it removed it'

        $r = New-UnicornRootfs
        [IO.File]::WriteAllText((Join-Path $env:UNICORN_DATA_ROOT "rootfs/$($r.Id)/owner"), $Content)
        $r | Remove-UnicornRootfs
        Get-UnicornRootfs | Should -BeNullOrEmpty
    }
}

Describe 'Full disks' {
    BeforeAll {
        # A state root of 256 KiB of our own, filled up.
        $script:SavedState = $env:UNICORN_STATE_ROOT
        $script:Full = New-Item -ItemType Directory (Join-Path $script:TestRoot 'full-state') | ForEach-Object FullName
        mount -t tmpfs -o size=256k unicorn-test-full $script:Full
        if ($LASTEXITCODE -ne 0) { throw 'mounting the small tmpfs failed' }
    }
    AfterAll {
        $env:UNICORN_STATE_ROOT = $script:SavedState
        umount $script:Full
    }

    It 'says which file a full state root refused, and leaves nothing of the start behind' {
        $rootfs = New-UnicornRootfs   # in the data root, which has room
        $env:UNICORN_STATE_ROOT = $script:Full
        try {
            # Fill it up once the engine has made its directories (so the failure is a write).
            $null = Get-UnicornContainer
            New-Item -ItemType Directory (Join-Path $script:Full 'containers') -Force | Out-Null
            $fill = Join-Path $script:Full 'fill'
            dd if=/dev/zero "of=$fill" bs=4k 2>$null
            (Get-Item $fill).Length | Should -BeGreaterThan 100kb
            $err = { $rootfs | Start-UnicornContainer -Name full -Command true -Wait -ErrorAction Stop } | Should -Throw -PassThru
            $err.FullyQualifiedErrorId | Should -Be 'UnicornFileSystemError,Unicorn.Commands.StartUnicornContainerCommand'
            $err.CategoryInfo.Category | Should -Be 'WriteError'
            $err.Exception.Message | Should -Match ([regex]::Escape($script:Full))
            $err.Exception.Message | Should -Match 'Free space'
            # Nothing of the start is left: no container, no name, and (as after any failed
            # start that took it over) not the rootfs either.
            @(Get-ChildItem (Join-Path $script:Full 'containers') -Force) | Should -BeNullOrEmpty
            @(Get-ChildItem (Join-Path $script:Full 'names') -Force -ErrorAction Ignore) | Should -BeNullOrEmpty
            Get-UnicornRootfs | Should -BeNullOrEmpty
            Get-OwnMountPoint | Should -Not -Contain $rootfs.Path
            Remove-Item (Join-Path $script:Full 'fill')
            $c = New-UnicornRootfs | Start-UnicornContainer -Name full -Command true -Wait
            $c.ExitCode | Should -Be 0
            $c | Remove-UnicornContainer
        }
        finally {
            Remove-Item (Join-Path $script:Full 'fill') -ErrorAction Ignore
            Get-UnicornContainer | Remove-UnicornContainer -Force
            $env:UNICORN_STATE_ROOT = $script:SavedState
        }
    }

    It 'records the exit once there is room again, never Dead for want of it' {
        $env:UNICORN_STATE_ROOT = $script:Full
        $fill = Join-Path $script:Full 'fill'
        try {
            $c = New-UnicornRootfs | Start-UnicornContainer -Command sh, -c, 'sleep 1; exit 7'
            dd if=/dev/zero "of=$fill" bs=4k 2>$null
            Start-Sleep -Seconds 2   # it has exited, and its supervisor cannot write the record
            $now = Get-UnicornContainer -Id $c.Id
            $now.State | Should -Be 'Running' -Because 'its supervisor lives on, retrying the record'
            $now.ExitCode | Should -BeNullOrEmpty
            Remove-Item $fill
            $done = $c | Wait-UnicornContainer -Timeout 10
            $done.State | Should -Be 'Exited'
            $done.ExitCode | Should -Be 7
            $done | Remove-UnicornContainer
        }
        finally {
            Remove-Item $fill -ErrorAction Ignore
            Get-UnicornContainer | Remove-UnicornContainer -Force
            $env:UNICORN_STATE_ROOT = $script:SavedState
        }
    }
}

Describe 'A start killed midway' {
    It 'leaves every container either running and recorded, or with nothing running; Remove -Force ends each at once' {
        # A pwsh killed at a spread of moments in its Start-UnicornContainer (a fresh pwsh's first
        # start takes a few hundred ms: JIT): before the record, before the go-ahead, after it.
        $exe = (Get-Process -Id $PID).Path
        $prefix = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { [Environment]::GetCommandLineArgs()[0] })
        $script = "Import-Module '$script:ModulePath'; `$r = New-UnicornRootfs; [Console]::Out.WriteLine('go'); [Console]::Out.Flush(); `$null = `$r | Start-UnicornContainer -Command sleep, 6001; Start-Sleep 60"
        foreach ($delay in 0..14 | ForEach-Object { $_ * 25 }) {
            $psi = [Diagnostics.ProcessStartInfo]::new($exe)
            foreach ($a in @($prefix) + @('-NoProfile', '-NonInteractive', '-Command', $script)) { $psi.ArgumentList.Add($a) }
            $psi.RedirectStandardOutput = $true
            $p = [Diagnostics.Process]::Start($psi)
            while (($line = $p.StandardOutput.ReadLine()) -ne $null -and $line -ne 'go') { }
            Start-Sleep -Milliseconds $delay
            $p.Kill()
            $p.WaitForExit()
            $p.Dispose()
        }
        Start-Sleep -Milliseconds 500   # a supervisor whose start died notices (EOF on its go-ahead)
        $all = @(Get-UnicornContainer)
        $all | Where-Object State -eq 'Created' | Should -BeNullOrEmpty -Because 'no start is still going on'
        foreach ($c in $all | Where-Object State -eq 'Running') { Test-ProcessAlive $c.Pid | Should -BeTrue }
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $all | Remove-UnicornContainer -Force
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 8 -Because 'no container makes Remove wait for a start that will never end'
        Get-UnicornContainer | Should -BeNullOrEmpty
        # Nothing of any of them runs on.
        $left = Get-ChildItem /proc -Directory | Where-Object Name -match '^\d+$' |
            Where-Object { (Get-Content "/proc/$($_.Name)/cmdline" -Raw -ErrorAction Ignore) -eq "sleep`06001`0" }
        $left | Should -BeNullOrEmpty
        Get-UnicornRootfs | Remove-UnicornRootfs
    }
}

Describe 'A start killed at each of its steps' {
    # strace's fault injection (-e inject=<call>:signal=SIGKILL:when=N) kills the process that makes
    # its Nth such call (counted per process): pwsh (the engine) at each step that leaves something
    # on disk, the launcher, the supervisor, and the init at each step of its setup. Each case runs
    # in roots of its own, so that its calls come in the same order every time.
    BeforeAll {
        $script:Strace = (Get-Command strace -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
        $script:Pwsh = (Get-Process -Id $PID).Path
        $script:PwshPrefix = @(if ([IO.Path]::GetFileNameWithoutExtension($script:Pwsh) -eq 'dotnet') { [Environment]::GetCommandLineArgs()[0] })
        $script:Roots = $env:UNICORN_STATE_ROOT, $env:UNICORN_DATA_ROOT
        function Get-StrandedSleep {
            Get-ChildItem /proc -Directory | Where-Object Name -match '^\d+$' |
                Where-Object { (Get-Content "/proc/$($_.Name)/cmdline" -Raw -ErrorAction Ignore) -eq "sleep`06002`0" }
        }
    }
    AfterEach {
        $env:UNICORN_STATE_ROOT, $env:UNICORN_DATA_ROOT = $script:Roots
    }

    It 'kills <Who> at <Call> #<N> (<Step>): nothing stranded, and nothing left once removed' -ForEach @(
        @{ Who = 'pwsh'; Call = 'symlink'; N = 1; Step = 'claiming the name' }
        @{ Who = 'pwsh'; Call = 'mkdir'; N = 3; Step = 'making the container directory' }
        @{ Who = 'pwsh'; Call = 'rename'; N = 1; Step = 'writing config.json' }
        @{ Who = 'pwsh'; Call = 'mkdir'; N = 6; Step = 'making the data directory' }
        @{ Who = 'pwsh'; Call = 'mkdir'; N = 9; Step = 'making the cgroup' }
        @{ Who = 'pwsh'; Call = 'clone3'; N = 1; Step = 'spawning the launcher' }
        @{ Who = 'the launcher'; Call = 'execve'; N = 1; Step = 'before it runs' }
        @{ Who = 'the launcher'; Call = 'clone'; N = 1; Step = 'forking the supervisor' }
        @{ Who = 'the supervisor'; Call = 'signalfd4'; N = 1; Step = 'before it clones the init' }
        @{ Who = 'the init'; Call = 'mount'; N = 1; Step = 'making its mounts private' }
        @{ Who = 'the init'; Call = 'mount'; N = 2; Step = 'binding the rootfs' }
        @{ Who = 'the init'; Call = 'pivot_root'; N = 1; Step = 'entering the rootfs' }
        @{ Who = 'the init'; Call = 'umount2'; N = 1; Step = 'detaching the old root' }
        @{ Who = 'the init'; Call = 'fsmount'; N = 1; Step = 'mounting /proc' }
        @{ Who = 'the init'; Call = 'fsmount'; N = 3; Step = 'mounting /dev' }
        @{ Who = 'the init'; Call = 'symlinkat'; N = 1; Step = 'making /dev''s links' }
        @{ Who = 'the init'; Call = 'move_mount'; N = 7; Step = 'binding /etc/hostname' }
        @{ Who = 'the init'; Call = 'move_mount'; N = 10; Step = 'masking /proc paths' }
    ) {
        $case = Join-Path $script:TestRoot "inject-$Call-$N"
        $env:UNICORN_STATE_ROOT = Join-Path $case 'state'
        $env:UNICORN_DATA_ROOT = Join-Path $case 'data'
        $child = $strace = $null
        try {
            $psi = [Diagnostics.ProcessStartInfo]::new($script:Pwsh)
            $script = "Import-Module '$script:ModulePath'; `$r = New-UnicornRootfs; [Console]::Out.WriteLine(`"ready `$PID`"); [Console]::Out.Flush(); " +
                "`$null = [Console]::In.ReadLine(); try { `$c = `$r | Start-UnicornContainer -Command sleep, 6002 -Memory 64MB -ErrorAction Stop; `"ok `$(`$c.Id)`" } " +
                "catch { `"error `$(`$_.FullyQualifiedErrorId)`" }"
            foreach ($a in @($script:PwshPrefix) + @('-NoProfile', '-NonInteractive', '-Command', $script)) { $psi.ArgumentList.Add($a) }
            $psi.RedirectStandardInput = $psi.RedirectStandardOutput = $true
            $child = [Diagnostics.Process]::Start($psi)
            $child.StandardOutput.ReadLine() | Should -Be "ready $($child.Id)"

            $spsi = [Diagnostics.ProcessStartInfo]::new($script:Strace)
            foreach ($a in '-f', '-o', '/dev/null', '-p', $child.Id, '-e', "trace=$Call", '-e', "inject=${Call}:signal=SIGKILL:when=$N") { $spsi.ArgumentList.Add($a) }
            $spsi.RedirectStandardError = $true
            $strace = [Diagnostics.Process]::Start($spsi)
            $strace.StandardError.ReadLine() | Should -BeLike '*attached*'   # every thread of pwsh is traced from here on
            $child.StandardInput.WriteLine('go')
            $outcome = $child.StandardOutput.ReadLineAsync()
            $outcome.Wait(30000) | Should -BeTrue -Because 'the start ends, one way or the other'
            # The injection took effect: the start failed, or a process died (pwsh itself, when null).
            $outcome.Result | Should -Not -BeLike 'ok *'
            if ($outcome.Result) { $outcome.Result | Should -Match '^error [A-Za-z]+,Unicorn\.Commands\.' -Because 'a failed start is a Unicorn error' }
            $strace.Kill(); $strace.WaitForExit()   # detaches
            Start-Sleep -Milliseconds 700   # a supervisor whose start died notices (EOF on its go-ahead)

            $all = @(Get-UnicornContainer)
            foreach ($c in $all) {
                $c.State | Should -BeIn 'Running', 'Dead', 'Unknown' -Because 'no start is still going on'
                if ($c.State -eq 'Running') { Test-ProcessAlive $c.Pid | Should -BeTrue }
            }
            if ($outcome.Result) { $all | Should -BeNullOrEmpty -Because 'a failed start leaves nothing' }
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $all | Remove-UnicornContainer -Force
            $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
            Get-UnicornRootfs | Remove-UnicornRootfs
            Get-StrandedSleep | Should -BeNullOrEmpty -Because 'what ran is killed'
            Get-MountPoint | Where-Object { $_.StartsWith($case) } | Should -BeNullOrEmpty
            Get-UnicornLeftover | Should -BeNullOrEmpty
            Get-ChildItem /sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT, /sys/fs/cgroup/$env:UNICORN_CGROUP_PARENT -Directory -ErrorAction Ignore |
                Get-ChildItem -Directory | Should -BeNullOrEmpty -Because 'its cgroup is removed too'
        }
        finally {
            foreach ($p in $strace, $child | Where-Object { $_ -and -not $_.HasExited }) { $p.Kill(); $p.WaitForExit() }
            Get-UnicornContainer -ErrorAction Ignore | Remove-UnicornContainer -Force -ErrorAction Ignore
            Get-UnicornRootfs -ErrorAction Ignore | Remove-UnicornRootfs -ErrorAction Ignore
        }
    }
}

Describe 'After a reboot' {
    It 'deletes the logs of containers whose state is gone, and only theirs; their rootfs can still be removed' {
        $live = New-UnicornRootfs | Start-UnicornContainer -Command sh, -c, 'echo still-here; sleep 600'
        $gone = New-UnicornRootfs | Start-UnicornContainer -Command sh, -c, 'echo lost-log' -Wait
        # A reboot empties the state root, and the cgroups: here, only the gone container's.
        Remove-Item (Join-Path $env:UNICORN_STATE_ROOT "containers/$($gone.Id)") -Recurse -Force
        Get-ChildItem /sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT/$($gone.Id), /sys/fs/cgroup/$env:UNICORN_CGROUP_PARENT/$($gone.Id) -Directory -ErrorAction Ignore |
            ForEach-Object { [IO.Directory]::Delete($_.FullName) }
        $logDir = Join-Path $env:UNICORN_DATA_ROOT "containers/$($gone.Id)"
        Test-Path $logDir | Should -BeTrue

        Remove-UnicornLeftover -WhatIf
        Test-Path $logDir | Should -BeTrue -Because '-WhatIf changes nothing'
        $removed = @(Remove-UnicornLeftover -PassThru -Confirm:$false)
        $removed.ContainerId | Should -Be $gone.Id
        $removed[0].Size | Should -BeGreaterThan 0
        Test-Path $logDir | Should -BeFalse
        (Get-UnicornContainerLog $live).Text | Should -Contain 'still-here'

        # Its rootfs names an owner that is gone: it is listed, and removed (or claimed) at will.
        $orphan = Get-UnicornRootfs | Where-Object ContainerId -eq $gone.Id
        $orphan | Should -Not -BeNullOrEmpty
        $orphan | Remove-UnicornRootfs
        $live | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Should -BeNullOrEmpty
    }
}
