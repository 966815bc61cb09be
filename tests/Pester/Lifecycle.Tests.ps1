#Requires -Version 7.6
# Containers that live on their own: detach, supervisor, logs, stop, wait, exec, init.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest

    # Waits until script returns true, or fails after seconds.

    # The states of the processes in a container, from inside it.
    function Get-ProcessState($Container) {
        Invoke-UnicornCommand $Container -Command /bin/sh, -c, 'for s in /proc/[0-9]*/stat; do read -r pid comm state rest < $s; echo "$pid $comm $state"; done'
    }
}

AfterAll {
    Complete-UnicornTest
}

Describe 'Detached containers and their supervisor' -Tag 'Root', 'Lifecycle' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'keeps running after the pwsh that started it has exited, and another session sees it' {
        $module = (Get-Module Unicorn).Path
        Invoke-ChildPwsh "Import-Module '$module'; New-UnicornRootfs | Start-UnicornContainer -Name survivor -Command /bin/sleep, 1000 -Detach | Out-Null"
        $LASTEXITCODE | Should -Be 0
        $c = Get-UnicornContainer survivor
        $c.State | Should -Be 'Running'
        (Get-Content "/proc/$($c.Pid)/cmdline" -Raw) | Should -Match 'sleep'
        # Its supervisor is not the (gone) pwsh's child: it was re-parented.
        $supervisor = [int]((Get-Content "/proc/$($c.Pid)/status" | Select-String '^PPid:').Line -split '\s+')[1]
        (Get-Content "/proc/$supervisor/cmdline" -Raw) | Should -Match 'unicorn-launcher'
        Invoke-ChildPwsh "Import-Module '$module'; (Get-UnicornContainer survivor).State" | Should -Be 'Running'
    }

    It 'records the exit status and the finish time once the supervisor has reaped the command' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'sleep 0.2; exit 5' -Detach
        $c.State | Should -Be 'Running'
        $done = $c | Wait-UnicornContainer
        $done.State | Should -Be 'Exited'
        $done.ExitCode | Should -Be 5
        $done.Finished | Should -BeGreaterThan $done.Started
        Get-Content (Join-Path $env:UNICORN_STATE_ROOT "containers/$($c.Id)/exit") | Should -Match '^5 \d+$'
    }

    It 'uses little memory per running container (supervisor RSS under 1 MiB)' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 1000 -Detach
        $supervisor = [int]((Get-Content "/proc/$($c.Pid)/status" | Select-String '^PPid:').Line -split '\s+')[1]
        $rss = [int]((Get-Content "/proc/$supervisor/status" | Select-String '^VmRSS:').Line -split '\s+')[1]
        $rss | Should -BeLessThan 1024
    }

    It 'shows a container whose supervisor was killed as Unknown, and Remove -Force leaves no trace' {
        $mounts = Get-OwnMountPoint
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 1000 -Detach
        $supervisor = [int]((Get-Content "/proc/$($c.Pid)/status" | Select-String '^PPid:').Line -split '\s+')[1]
        kill -KILL $supervisor
        Wait-Until { -not (Test-ProcessAlive $supervisor) }
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Unknown'
        { $c | Remove-UnicornContainer -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerRunning,Unicorn.Commands.RemoveUnicornContainerCommand'
        $c | Remove-UnicornContainer -Force
        Test-ProcessAlive $c.Pid | Should -BeFalse
        Get-OwnMountPoint | Should -Be $mounts
        Get-UnicornLeftover | Should -BeNullOrEmpty
    }

    It 'shows a container whose supervisor and command were both killed as Dead' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 1000 -Detach
        $supervisor = [int]((Get-Content "/proc/$($c.Pid)/status" | Select-String '^PPid:').Line -split '\s+')[1]
        kill -KILL $supervisor $c.Pid
        Wait-Until { -not (Test-ProcessAlive $c.Pid) -and -not (Test-ProcessAlive $supervisor) }
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Dead'
        $c | Remove-UnicornContainer
        Get-UnicornContainer | Should -BeNullOrEmpty
    }

    It 'starts 50 containers in parallel with distinct ids and removes them all cleanly' {
        $mounts = Get-OwnMountPoint
        $module = (Get-Module Unicorn).Path
        $ids = 1..50 | ForEach-Object -ThrottleLimit 8 -Parallel {
            Import-Module $using:module
            (New-UnicornRootfs | Start-UnicornContainer -Name "par-$_" -Command /bin/sleep, 1000 -Detach).Id
        }
        $ids.Count | Should -Be 50
        ($ids | Sort-Object -Unique).Count | Should -Be 50
        (Get-UnicornContainer par-* -State Running).Count | Should -Be 50
        Get-UnicornContainer par-* | Remove-UnicornContainer -Force
        Get-UnicornContainer | Should -BeNullOrEmpty
        Get-OwnMountPoint | Should -Be $mounts
        Get-UnicornLeftover | Should -BeNullOrEmpty
    }
}

Describe 'Get-UnicornContainerLog' -Tag 'Root', 'Lifecycle' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'keeps stdout and stderr apart, timestamped, in order' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'for i in $(seq 1 100); do echo "out $i"; echo "err $i" >&2; done' -Detach
        $c | Wait-UnicornContainer | Out-Null
        $log = Get-UnicornContainerLog $c
        $log.Count | Should -Be 200
        ($log | Where-Object Stream -eq 'stdout').Text | Should -Be (1..100 | ForEach-Object { "out $_" })
        ($log | Where-Object Stream -eq 'stderr').Text | Should -Be (1..100 | ForEach-Object { "err $_" })
        $log[0].ContainerId | Should -Be $c.Id
        $log[0].Time | Should -BeGreaterOrEqual $c.Started.AddSeconds(-1)
        $times = $log.Time
        $times | Should -Be ($times | Sort-Object)
        (Get-UnicornContainerLog $c -Tail 3).Text | Should -Be $log.Text[-3..-1]
        (Get-UnicornContainerLog $c -Stream stderr -Tail 1).Text | Should -Be 'err 100'
        Get-UnicornContainerLog $c -Since ([datetime]::UtcNow.AddMinutes(1)) | Should -BeNullOrEmpty
        # Used as strings (Write-Warning, Out-File), entries are their text.
        "$((Get-UnicornContainerLog $c -Stream stdout -Tail 1))" | Should -Be 'out 100'
    }

    It 'joins a line longer than the relay buffer, and keeps a last line without a newline' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'head -c 20000 /dev/zero | tr "\0" x; echo; printf tail' -Detach | Wait-UnicornContainer
        $log = Get-UnicornContainerLog $c
        $log[0].Text.Length | Should -Be 20000
        $log[1].Text | Should -Be 'tail'
    }

    It 'logs a -Wait container too' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'echo attached' -Wait
        (Get-UnicornContainerLog $c).Text | Should -Be 'attached'
    }

    It 'follows new lines until the container exits' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'for i in 1 2 3 4 5; do echo "tick $i"; sleep 0.1; done' -Detach
        $started = [datetime]::UtcNow
        $lines = Get-UnicornContainerLog $c -Follow
        $lines.Text | Should -Be (1..5 | ForEach-Object { "tick $_" })
        ([datetime]::UtcNow - $started).TotalSeconds | Should -BeGreaterThan 0.3
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Exited'
    }
}

Describe 'Stop-UnicornContainer and Wait-UnicornContainer' -Tag 'Root', 'Lifecycle' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'escalates to SIGKILL within the timeout for a command that ignores SIGTERM' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'trap "" TERM; while :; do sleep 1; done' -Init -Detach
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $stopped = $c | Stop-UnicornContainer -Timeout 1 -PassThru
        $watch.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 1
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 4
        $stopped.ExitCode | Should -Be 137
    }

    It 'ends a command that honours SIGTERM at once, with 128+15' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 1000 -Init -Detach
        $watch = [Diagnostics.Stopwatch]::StartNew()
        ($c | Stop-UnicornContainer -Timeout 10 -PassThru).ExitCode | Should -Be 143
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 3
    }

    It 'sends the signal asked for, by name or number' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 1000 -Init -Detach
        ($c | Stop-UnicornContainer -Signal SIGUSR1 -PassThru).ExitCode | Should -Be 138
        { $c | Stop-UnicornContainer -Signal NOPE } | Should -Throw -ErrorId 'InvalidSignal,Unicorn.Commands.StopUnicornContainerCommand'
    }

    It 'stops many containers at once, in one timeout' {
        $cs = 1..6 | ForEach-Object { New-UnicornRootfs | Start-UnicornContainer -Name "many-$_" -Command /bin/sleep, 1000 -Detach }
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $stopped = Get-UnicornContainer many-* | Stop-UnicornContainer -Timeout 1 -PassThru
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 4
        $stopped.Count | Should -Be 6
        $stopped.State | Sort-Object -Unique | Should -Be 'Exited'
    }

    It 'returns each container from Wait once it has exited, and times out on the rest' {
        $quick = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'exit 2' -Detach
        $slow = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 1000 -Detach
        $result = $quick, $slow | Wait-UnicornContainer -Timeout 1 -ErrorVariable timedOut -ErrorAction SilentlyContinue
        $result.Id | Should -Be $quick.Id
        $result.ExitCode | Should -Be 2
        $timedOut[0].FullyQualifiedErrorId | Should -Be 'ContainerWaitTimeout,Unicorn.Commands.WaitUnicornContainerCommand'
        (Get-UnicornContainer -Id $slow.Id).State | Should -Be 'Running'
    }

    It 'cancels a wait, not the container, on Ctrl+C' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name waited-on -Command /bin/sleep, 1000 -Detach
        $ps = [powershell]::Create()
        [void]$ps.AddScript({ param($m) Import-Module $m; Wait-UnicornContainer waited-on }).AddArgument($script:ModulePath)
        $async = $ps.BeginInvoke()
        Start-Sleep -Milliseconds 300
        $ps.Stop()
        $ps.Dispose()
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Running'
    }
}

Describe 'Invoke-UnicornCommand' -Tag 'Root', 'Lifecycle' {
    BeforeAll {
        $vol = New-Item -ItemType Directory (Join-Path $script:TestRoot 'exec-vol') -Force
        $c = New-UnicornRootfs | Start-UnicornContainer -Name exec-target -Hostname exec-box -Command /bin/sleep, 1000 `
            -Environment @{ FROM_START = 'yes' } -WorkingDirectory /srv -Volume "${vol}:/data" -Detach
    }
    AfterAll {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'runs inside the container''s pid namespace, hostname, mounts and environment' {
        $out = Invoke-UnicornCommand exec-target -Command /bin/sh, -c, 'hostname; echo "$FROM_START"; pwd; tr "\0" " " < /proc/1/cmdline; echo; grep -c " /data " /proc/self/mountinfo; ls /proc | grep -cE "^[0-9]+$"'
        $out[0] | Should -Be 'exec-box'
        $out[1] | Should -Be 'yes'
        $out[2] | Should -Be '/srv'
        $out[3].Trim() | Should -Be '/bin/sleep 1000'
        $out[4] | Should -Be '1'
        [int]$out[5] | Should -BeLessOrEqual 5
        (Get-Content "/proc/$($c.Pid)/ns/pid" -ErrorAction Ignore) | Out-Null
    }

    It 'sets $LASTEXITCODE like a native command, and -PassThru returns the exit code' {
        Invoke-UnicornCommand $c -Command /bin/sh, -c, 'exit 7'
        $LASTEXITCODE | Should -Be 7
        Invoke-UnicornCommand $c -Command /bin/true
        $LASTEXITCODE | Should -Be 0
        $r = Invoke-UnicornCommand $c -Command /bin/sh, -c, 'echo a; echo b >&2; exit 3' -PassThru
        $r.ExitCode | Should -Be 3
        $r.Output | Should -Be 'a'
        $r.Error | Should -Be 'b'
    }

    It 'writes stderr to the error stream and stdout to the pipeline' {
        $out = Invoke-UnicornCommand $c -Command /bin/sh, -c, 'echo to-out; echo to-err >&2' -ErrorVariable errs -ErrorAction SilentlyContinue
        $out | Should -Be 'to-out'
        "$($errs[0])" | Should -Be 'to-err'
    }

    It 'writes an error for a non-zero exit where $PSNativeCommandUseErrorActionPreference asks' {
        $PSNativeCommandUseErrorActionPreference = $true
        { Invoke-UnicornCommand $c -Command /bin/false -ErrorAction Stop } | Should -Throw -ErrorId 'CommandExitCode,Unicorn.Commands.InvokeUnicornCommandCommand'
    }

    It 'kills the process it runs on Ctrl+C, and only that' {
        $ps = [powershell]::Create()
        [void]$ps.AddScript({ param($m) Import-Module $m; Invoke-UnicornCommand exec-target -Command /bin/sleep, 77 }).AddArgument($script:ModulePath)
        $async = $ps.BeginInvoke()
        $sleeping = { (Invoke-UnicornCommand exec-target -Command /bin/sh, -c, 'ps -o args') -match 'sleep 77' }
        Wait-Until $sleeping
        $ps.Stop()
        $ps.Dispose()
        Wait-Until { -not (& $sleeping) } -Seconds 5
        (Get-UnicornContainer exec-target).State | Should -Be 'Running'
    }

    It 'takes extra environment and another working directory' {
        Invoke-UnicornCommand $c -Command /bin/sh, -c, 'echo "$EXTRA $FROM_START"; pwd' -Environment @{ EXTRA = 'more' } -WorkingDirectory /tmp |
            Should -Be @('more yes', '/tmp')
    }

    It 'takes the container and the command by position, or the container from the pipeline' {
        Invoke-UnicornCommand exec-target hostname | Should -Be 'exec-box'
        Invoke-UnicornCommand $c hostname | Should -Be 'exec-box'
        $c | Invoke-UnicornCommand -Command hostname | Should -Be 'exec-box'
    }

    It 'kills the process when the pipeline stops early, and sets no stale exit code' {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        Invoke-UnicornCommand $c -Command /bin/sh, -c, 'echo first; sleep 30' | Select-Object -First 1 | Should -Be 'first'
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 10
        { Invoke-UnicornCommand $c -Command /bin/sh, -c, 'echo oops >&2; sleep 30' -ErrorAction Stop } | Should -Throw
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 20
    }

    It 'refuses bad environment names and working directories before running anything' {
        { Invoke-UnicornCommand $c -Command /bin/true -Environment @{ 'A=B' = 'c' } -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidEnvironmentName,Unicorn.Commands.InvokeUnicornCommandCommand'
        { Invoke-UnicornCommand $c -Command /bin/true -WorkingDirectory relative -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidWorkingDirectory,Unicorn.Commands.InvokeUnicornCommandCommand'
    }

    It 'names a missing command, and refuses a container that is not running' {
        { Invoke-UnicornCommand $c -Command /no/such -ErrorAction Stop } | Should -Throw -ErrorId 'ExecutableNotFound,Unicorn.Commands.InvokeUnicornCommandCommand'
        $done = New-UnicornRootfs | Start-UnicornContainer -Command /bin/true -Wait
        { Invoke-UnicornCommand $done -Command /bin/true -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerNotRunning,Unicorn.Commands.InvokeUnicornCommandCommand'
        { Invoke-UnicornCommand no-such-container -Command /bin/true -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerNotFound,Unicorn.Commands.InvokeUnicornCommandCommand'
        Get-ChildItem (Join-Path $env:UNICORN_STATE_ROOT "containers/$($c.Id)") -Filter 'exec-*' | Should -BeNullOrEmpty
    }
}

Describe '-Init' -Tag 'Root', 'Lifecycle' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    # An orphan that exits becomes a zombie of pid 1; `sleep` as pid 1 never reaps it.
    It 'reaps a zombie that a plain pid 1 would leave (init: <init>)' -ForEach @(
        @{ init = $false; zombies = 1 }
        @{ init = $true; zombies = 0 }
    ) {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, '(sleep 0.1 &); exec sleep 1000' -Init:$init -Detach
        Start-Sleep -Milliseconds 500
        @(Get-ProcessState $c | Where-Object { $_ -match ' Z$' }).Count | Should -Be $zombies
        if ($init) {
            (Get-ProcessState $c | Select-Object -First 1) | Should -Match '^1 \(unicorn-init\)'
            # pid 1 shows no host path (the launcher's, the state directory's).
            (Invoke-UnicornCommand $c -Command /bin/sh, -c, 'tr "\0" " " < /proc/1/cmdline').Trim() | Should -Be 'unicorn-init'
        }
    }
}
