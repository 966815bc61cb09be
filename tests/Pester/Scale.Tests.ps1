#Requires -Version 7.6
# Stop, wait and remove at scale, and the truth when the supervisor does not answer (issue 12).

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest
    # One plain copy of the default rootfs for every container here: no overlay mount each.
    $script:Rootfs = Copy-DefaultRootfs 'scale-rootfs'


    # A child pwsh whose standard input is a pipe (not a terminal), as in a script or a CI job;
    # ended after 30 s (timeout(1)) should it wait for a terminal that never comes.
    function Invoke-ChildPwshNoTty([string] $Command) {
        $exe = (Get-Process -Id $PID).Path
        $prefix = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { [Environment]::GetCommandLineArgs()[0] })
        '' | timeout -s KILL 30 $exe @prefix -NoProfile -NonInteractive -Command $Command
    }

    function Get-StartRecord($Container) {
        Get-Content (Join-Path $env:UNICORN_STATE_ROOT "containers/$($Container.Id)/started") -Raw | ConvertFrom-Json
    }

    # The supervisors this file stopped or left: resumed and killed in cleanup, by pid and only
    # while they are still the same process (start time).
    $script:Supervisors = [Collections.Generic.List[object]]::new()
    function Register-Supervisor($Record) { $script:Supervisors.Add($Record) }
    function Clear-Supervisor {
        foreach ($r in $script:Supervisors) {
            $stat = Get-Content "/proc/$($r.SupervisorPid)/stat" -Raw -ErrorAction Ignore
            if ($stat -and ($stat.Substring($stat.LastIndexOf(')') + 2) -split ' ')[19] -eq "$($r.SupervisorStartTime)") {
                kill -CONT $r.SupervisorPid
            }
        }
        $script:Supervisors.Clear()
    }
}

AfterAll {
    Clear-Supervisor
    Complete-UnicornTest
}

Describe 'Stopping many containers' -Tag 'Root', 'Lifecycle', 'Scale' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'stops 200 containers with -Timeout 2 in one timeout, SIGKILL for those that ignore SIGTERM' {
        # Even: -Init (SIGTERM reaches sleep: 143). Odd: sleep as pid 1, which ignores SIGTERM (137).
        $started = [Diagnostics.Stopwatch]::StartNew()
        $all = for ($i = 0; $i -lt 200; $i++) {
            Start-UnicornContainer -RootfsPath $script:Rootfs -Name "scale-$i" -Command /bin/sleep, 600 -Init:($i % 2 -eq 0) -Detach
        }
        Write-Host "    200 containers started in $([math]::Round($started.Elapsed.TotalSeconds, 1)) s"
        @($all | Where-Object State -EQ 'Running').Count | Should -Be 200

        $sw = [Diagnostics.Stopwatch]::StartNew()
        $stopped = $all | Stop-UnicornContainer -Timeout 2 -PassThru
        $sw.Stop()
        Write-Host "    Stop-UnicornContainer -Timeout 2 on 200: $([math]::Round($sw.Elapsed.TotalSeconds, 2)) s"
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 6 -Because 'many containers take one timeout (2 s), not one each'
        @($stopped).Count | Should -Be 200
        foreach ($c in $stopped) {
            $c.State | Should -Be 'Exited'
            $i = [int]($c.Name -replace 'scale-')
            $c.ExitCode | Should -Be $(if ($i % 2 -eq 0) { 143 } else { 137 }) -Because "$($c.Name) $(if ($i % 2 -eq 0) { 'ends on SIGTERM' } else { 'needs the SIGKILL' })"
        }
        $all | ForEach-Object { Test-ProcessAlive $_.Pid } | Where-Object { $_ } | Should -BeNullOrEmpty
    }

    It 'waits for many containers in one timeout, and removes many running ones with -Force' {
        $all = for ($i = 0; $i -lt 60; $i++) { Start-UnicornContainer -RootfsPath $script:Rootfs -Command /bin/sleep, 600 -Detach }
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $all | Wait-UnicornContainer -Timeout 1 -ErrorVariable timeouts -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $sw.Stop()
        Write-Host "    Wait-UnicornContainer -Timeout 1 on 60 running: $([math]::Round($sw.Elapsed.TotalSeconds, 2)) s"
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 3
        @($timeouts | Where-Object FullyQualifiedErrorId -Like 'ContainerWaitTimeout*').Count | Should -Be 60

        $sw.Restart()
        $all | Remove-UnicornContainer -Force
        Write-Host "    Remove-UnicornContainer -Force on 60 running: $([math]::Round($sw.Elapsed.TotalSeconds, 2)) s"
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 5
        Get-UnicornContainer | Should -BeNullOrEmpty
        $all | ForEach-Object { Test-ProcessAlive $_.Pid } | Where-Object { $_ } | Should -BeNullOrEmpty
    }
}

Describe 'A supervisor that does not answer' -Tag 'Root', 'Lifecycle' {
    AfterEach {
        Clear-Supervisor
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'Stop with a stopped (SIGSTOP) supervisor kills the init, returns promptly and says what happened' {
        $c = Start-UnicornContainer -RootfsPath $script:Rootfs -Command /bin/sleep, 600 -Detach
        $r = Get-StartRecord $c
        Register-Supervisor $r
        kill -STOP $r.SupervisorPid
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $stopped = $c | Stop-UnicornContainer -Timeout 1 -PassThru -WarningVariable warnings -WarningAction SilentlyContinue
        $sw.Stop()
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 4 -Because 'a stopped supervisor must not add its own wait to the timeout'
        Test-ProcessAlive $r.Pid | Should -BeFalse -Because 'the init is killed even though its supervisor cannot reap it'
        # The truth from the kernel: the init ended by SIGKILL (a zombie its stopped parent holds).
        $stopped.State | Should -Be 'Exited'
        $stopped.ExitCode | Should -Be 137
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Exited'
        "$warnings" | Should -Match "supervisor .*pid $($r.SupervisorPid)\) is stopped"
        "$warnings" | Should -Match 'kill -CONT'

        # Resumed, the supervisor records the same exit and ends.
        kill -CONT $r.SupervisorPid
        Wait-Until { -not (Test-ProcessAlive $r.SupervisorPid) }
        Get-Content (Join-Path $env:UNICORN_STATE_ROOT "containers/$($c.Id)/exit") | Should -Match '^137 \d+$'
    }

    It 'Remove -Force with a stopped supervisor kills the init and the supervisor, and leaves nothing' {
        $c = Start-UnicornContainer -RootfsPath $script:Rootfs -Command /bin/sleep, 600 -Init -Detach
        $r = Get-StartRecord $c
        Register-Supervisor $r
        kill -STOP $r.SupervisorPid
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $c | Remove-UnicornContainer -Force
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 4
        Test-ProcessAlive $r.Pid | Should -BeFalse
        Wait-Until { -not (Test-ProcessAlive $r.SupervisorPid) } 3
        Get-UnicornContainer | Should -BeNullOrEmpty
    }
}

Describe 'A -Init container whose supervisor is killed' -Tag 'Root', 'Lifecycle' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'keeps running while it writes output (no SIGPIPE), shows Unknown, and Stop still ends it' {
        # More output than a pipe holds: neither SIGPIPE nor a full pipe may stop it.
        $c = Start-UnicornContainer -RootfsPath $script:Rootfs -Init -Detach -Command /bin/sh, -c, `
            'while :; do echo out-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; echo err >&2; sleep 0.001; done'
        $r = Get-StartRecord $c
        Start-Sleep -Milliseconds 200
        kill -KILL $r.SupervisorPid
        Wait-Until { -not (Test-ProcessAlive $r.SupervisorPid) }
        # The command, the init's child: its pid inside the container's pid namespace is 2.
        $command = [int]((Get-Content "/proc/$($r.Pid)/task/$($r.Pid)/children" -Raw).Trim() -split ' ')[0]
        $before = (Get-Content "/proc/$command/stat" -Raw).Split(' ')[13] # utime: it keeps working
        Start-Sleep -Seconds 1.5
        Test-ProcessAlive $r.Pid | Should -BeTrue
        Test-ProcessAlive $command | Should -BeTrue -Because 'writes to the output must not kill the command once the supervisor is gone'
        (Get-Content "/proc/$command/stat" -Raw).Split(' ')[2] | Should -Not -Be 'T'
        $c2 = Get-UnicornContainer -Id $c.Id
        $c2.State | Should -Be 'Unknown'
        # Still writing, not blocked on a full pipe: its wchan is not pipe_write for long.
        $blocked = 0
        1..10 | ForEach-Object { if ((Get-Content "/proc/$command/wchan" -Raw -ErrorAction Ignore) -match 'pipe_write') { $blocked++ }; Start-Sleep -Milliseconds 20 }
        $blocked | Should -BeLessThan 10

        $stopped = $c | Stop-UnicornContainer -Timeout 2 -PassThru
        $stopped.State | Should -BeIn 'Dead', 'Exited'
        Test-ProcessAlive $r.Pid | Should -BeFalse
        Test-ProcessAlive $command | Should -BeFalse
    }
}

Describe 'A terminal is needed for -Interactive and Enter' -Tag 'Root', 'Lifecycle' {
    It 'refuses -Interactive at once with NoTerminal when stdin is not a terminal, and leaves nothing' {
        $module = (Get-Module Unicorn).Path
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $out = Invoke-ChildPwshNoTty @"
Import-Module '$module'
try { Start-UnicornContainer -RootfsPath '$($script:Rootfs)' -Command /bin/sh -Interactive -ErrorAction Stop; 'started' }
catch { `$_.FullyQualifiedErrorId; `$_.CategoryInfo.Category; `$_.Exception.Message }
"@
        $sw.Stop()
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 15
        $out[0] | Should -Be 'NoTerminal,Unicorn.Commands.StartUnicornContainerCommand'
        $out[1] | Should -Be 'InvalidOperation'
        $out[2] | Should -Match 'not a terminal.*drop -Interactive'
        Get-UnicornContainer | Should -BeNullOrEmpty
        Get-UnicornLeftover | Should -BeNullOrEmpty
    }

    It 'refuses Enter-UnicornContainer with NoTerminal when stdin is not a terminal' {
        $c = Start-UnicornContainer -RootfsPath $script:Rootfs -Command /bin/sleep, 600 -Detach
        $module = (Get-Module Unicorn).Path
        $out = Invoke-ChildPwshNoTty @"
Import-Module '$module'
try { Enter-UnicornContainer '$($c.Id)' -ErrorAction Stop; 'entered' }
catch { `$_.FullyQualifiedErrorId }
"@
        $out | Should -Be 'NoTerminal,Unicorn.Commands.EnterUnicornContainerCommand'
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Running'
        $c | Remove-UnicornContainer -Force
    }
}
