#Requires -Version 7.6
# A container that has ended, started again (Start-UnicornContainer -Id / a piped container,
# Restart-UnicornContainer): the same container, a new run. (On a bridge: NetworkNames.Tests.ps1.)

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest

    function Get-TextLog($Container) { @(Get-UnicornContainerLog $Container | Where-Object Stream -eq 'stdout' | ForEach-Object Text) }
    function Get-StateFile($Container, [string] $Name) { Join-Path $env:UNICORN_STATE_ROOT "containers/$($Container.Id)/$Name" }
    # The container's cgroup directory of a controller (v1), or its v2 directory.
    function Get-CgroupDir($Container, [string] $Controller) {
        $v1 = "/sys/fs/cgroup/$Controller/$env:UNICORN_CGROUP_PARENT/$($Container.Id)"
        if (Test-Path "/sys/fs/cgroup/$Controller") { $v1 } else { "/sys/fs/cgroup/$env:UNICORN_CGROUP_PARENT/$($Container.Id)" }
    }
    function Get-MemoryLimit($Container) {
        $dir = Get-CgroupDir $Container memory
        $file = if (Test-Path "$dir/memory.max") { "$dir/memory.max" } else { "$dir/memory.limit_in_bytes" }
        [long](Get-Content $file)
    }
}

AfterAll {
    Complete-UnicornTest
}

Describe 'Start-UnicornContainer -Id: a container that has ended, started again' -Tag 'Root', 'Restart' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornLeftover | Should -BeNullOrEmpty -Because 'a container started again leaves nothing once removed'
    }

    It 'runs it again: the same id, name and rootfs (with what the first run wrote), both runs in its log, its cgroup made anew' {
        $first = New-UnicornRootfs | Start-UnicornContainer -Name job -Memory 64MB -Wait -Command sh, -c, 'echo run >> /runs; echo "run $(wc -l < /runs)"; exit 3'
        $first.ExitCode | Should -Be 3
        $cgroup = Get-CgroupDir $first memory
        Test-Path $cgroup | Should -BeTrue
        $again = Start-UnicornContainer -Id job -Wait
        $again.Id | Should -Be $first.Id
        $again.Name | Should -Be 'job'
        $again.RootfsId | Should -Be $first.RootfsId
        $again.State | Should -Be 'Exited'
        $again.ExitCode | Should -Be 3
        $again.Started | Should -BeGreaterThan $first.Finished
        $again.RestartCount | Should -Be 0
        Get-TextLog $again | Should -Be 'run 1', 'run 2'
        Get-MemoryLimit $again | Should -Be 64MB
        # Piped, detached: running, in a cgroup with its limit again.
        $running = Get-UnicornContainer job | Start-UnicornContainer
        $running.Id | Should -Be $first.Id
        (Wait-UnicornContainer job).ExitCode | Should -Be 3
        Get-TextLog $running | Should -Be 'run 1', 'run 2', 'run 3'
        @(Get-UnicornContainer).Count | Should -Be 1
        Get-UnicornContainer job | Remove-UnicornContainer
        Test-Path $cgroup | Should -BeFalse
        Get-OwnMountPoint | Should -BeNullOrEmpty
    }

    It 'starts one that runs in its cgroup, its command in force: Stop, then Start again, leaves a live process in the new run' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name svc -Init -PidsLimit 20 -Command sleep, 600
        $stopped = $c | Stop-UnicornContainer -PassThru
        $stopped.ExitCode | Should -Be 143
        $again = $stopped | Start-UnicornContainer
        $again.State | Should -Be 'Running'
        $again.Pid | Should -Not -Be $c.Pid
        Test-ProcessAlive $again.Pid | Should -BeTrue
        (Get-Content "$(Get-CgroupDir $again pids)/cgroup.procs") | Should -Contain "$($again.Pid)"
        (Get-Content (Get-StateFile $again 'exit') -ErrorAction Ignore) | Should -BeNullOrEmpty -Because 'the last run''s exit went once the command ran'
    }

    It 'returns a running container as it is (as Start-Service does), starting nothing' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name busy -Command sleep, 600
        $same = Start-UnicornContainer -Id busy -Verbose 4>&1
        ($same | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message | Should -Be 'busy is already running.'
        $out = $same | Where-Object { $_ -isnot [Management.Automation.VerboseRecord] }
        $out.Pid | Should -Be $c.Pid
        $out.State | Should -Be 'Running'
    }

    It 'keeps a piped rootfs a new container''s, and a deserialized container a start again' {
        $first = New-UnicornRootfs | Start-UnicornContainer -Name one -Wait -Command true
        $xml = Join-Path $script:TestRoot 'one.xml'
        $first | Export-Clixml $xml
        $again = Import-Clixml $xml | Start-UnicornContainer -Wait
        $again.Id | Should -Be $first.Id
        $fresh = New-UnicornRootfs | Start-UnicornContainer -Wait echo fresh
        $fresh.Id | Should -Not -Be $first.Id
        Get-TextLog $fresh | Should -Be 'fresh'
    }

    It 'mounts its rootfs again when it is not mounted (as after a reboot)' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name boot -Wait -Command sh, -c, 'echo kept > /file; cat /file'
        $rootfs = Get-UnicornRootfs -Id $c.RootfsId
        umount $rootfs.Path
        Get-OwnMountPoint | Should -Not -Contain $rootfs.Path
        $again = Start-UnicornContainer -Id boot -Wait
        $again.ExitCode | Should -Be 0
        Get-OwnMountPoint | Should -Contain $rootfs.Path
        Get-TextLog $again | Should -Be 'kept', 'kept'
    }

    It 'leaves a container whose start again fails as it was: Exited, its exit code, its log' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name gone -Wait -Command /bin/sh, -c, 'echo once; rm /bin/sh; exit 4'
        { Start-UnicornContainer -Id gone -ErrorAction Stop } | Should -Throw -ErrorId 'ExecutableNotFound,Unicorn.Commands.StartUnicornContainerCommand'
        $after = Get-UnicornContainer gone
        $after.State | Should -Be 'Exited'
        $after.ExitCode | Should -Be 4
        $after.Finished | Should -Be $c.Finished
        $after.Started | Should -Be $c.Started
        Get-TextLog $after | Should -Be 'once'
        Get-OwnMountPoint | Should -Contain (Get-UnicornRootfs -Id $c.RootfsId).Path
    }

    It 'refuses a removed container, limits, and changes nothing with -WhatIf' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name what -Wait -Command true
        Start-UnicornContainer -Id what -WhatIf
        $same = Get-UnicornContainer what
        $same.State | Should -Be 'Exited'
        $same.Started | Should -Be $c.Started
        { Start-UnicornContainer -Id what -Memory 64MB -ErrorAction Stop } |
            Should -Throw -ErrorId 'LimitsOnStartAgain,Unicorn.Commands.StartUnicornContainerCommand'
        $c | Remove-UnicornContainer
        { Start-UnicornContainer -Id what -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerNotFound,Unicorn.Commands.StartUnicornContainerCommand'
        { $c | Start-UnicornContainer -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerNotFound,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornLeftover | Should -BeNullOrEmpty
    }

    It 'runs its restart policy again, with RestartCount from 0' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name retry -Restart OnFailure:1 -Wait -Command sh, -c, 'exit 6'
        $c.RestartCount | Should -Be 1
        $again = Start-UnicornContainer -Id retry -Wait
        $again.ExitCode | Should -Be 6
        $again.RestartCount | Should -Be 1 -Because 'a start again counts its own restarts, as Docker'
        @(Get-UnicornContainerLog retry | Where-Object Stream -eq 'unicorn') | Should -BeNullOrEmpty
    }
}

Describe 'A start again that dies midway' -Tag 'Root', 'Restart' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornLeftover | Should -BeNullOrEmpty
    }

    It 'takes an exit record older than the start record for the last run''s (a supervisor killed before it deleted it)' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name twice -Wait -Command sh, -c, 'if [ -e /ran ]; then exec sleep 600; fi; touch /ran'
        $old = Get-Content (Get-StateFile $c 'exit') -Raw
        $again = Start-UnicornContainer -Id twice
        $again.State | Should -Be 'Running'
        Test-Path (Get-StateFile $c 'exit') | Should -BeFalse
        Set-Content (Get-StateFile $c 'exit') $old -NoNewline
        $now = Get-UnicornContainer twice
        $now.State | Should -Be 'Running'
        $now.ExitCode | Should -BeNullOrEmpty
        $now.Pid | Should -Be $again.Pid
        (Stop-UnicornContainer twice -Timeout 0 -PassThru).ExitCode | Should -Be 137
    }

    It 'leaves it Exited as it was when pwsh is killed as it spawns the launcher, and it starts again after' {
        $strace = (Get-Command strace -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
        $pwsh = (Get-Process -Id $PID).Path
        $prefix = @(if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { [Environment]::GetCommandLineArgs()[0] })
        $c = New-UnicornRootfs | Start-UnicornContainer -Name crash -Wait -Command sh, -c, 'echo ran; exit 9'
        $script = "Import-Module '$script:ModulePath'; `$null = Get-UnicornContainer crash; [Console]::Out.WriteLine(`"ready`"); [Console]::Out.Flush(); " +
            "`$null = [Console]::In.ReadLine(); try { `$null = Start-UnicornContainer -Id crash -ErrorAction Stop; 'ok' } catch { `"error `$(`$_.FullyQualifiedErrorId)`" }"
        $psi = [Diagnostics.ProcessStartInfo]::new($pwsh)
        foreach ($a in @($prefix) + @('-NoProfile', '-NonInteractive', '-Command', $script)) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardInput = $psi.RedirectStandardOutput = $true
        $child = [Diagnostics.Process]::Start($psi)
        try {
            $child.StandardOutput.ReadLine() | Should -Be 'ready'
            $spsi = [Diagnostics.ProcessStartInfo]::new($strace)
            foreach ($a in '-f', '-o', '/dev/null', '-p', $child.Id, '-e', 'trace=clone3', '-e', 'inject=clone3:signal=SIGKILL:when=1') { $spsi.ArgumentList.Add($a) }
            $spsi.RedirectStandardError = $true
            $tracer = [Diagnostics.Process]::Start($spsi)
            $tracer.StandardError.ReadLine() | Should -BeLike '*attached*'
            $child.StandardInput.WriteLine('go')
            $outcome = $child.StandardOutput.ReadLineAsync()
            $outcome.Wait(30000) | Should -BeTrue
            $outcome.Result | Should -Not -Be 'ok'
            $tracer.Kill(); $tracer.WaitForExit()
        } finally { if (-not $child.HasExited) { $child.Kill() }; $child.WaitForExit() }
        Start-Sleep -Milliseconds 500
        $after = Get-UnicornContainer crash
        $after.State | Should -Be 'Exited'
        $after.ExitCode | Should -Be 9
        $after.Finished | Should -Be $c.Finished
        $again = Start-UnicornContainer -Id crash -Wait
        $again.ExitCode | Should -Be 9
        Get-TextLog $again | Should -Be 'ran', 'ran'
    }
}

Describe 'Restart-UnicornContainer' -Tag 'Root', 'Restart' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'stops a running container (SIGTERM, then SIGKILL after -Timeout) and starts it again; -PassThru returns it' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name web -Command sh, -c, 'echo up; sleep 600'
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $r = Restart-UnicornContainer web -Timeout 1 -PassThru
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 6
        $r.Id | Should -Be $c.Id
        $r.State | Should -Be 'Running'
        $r.Pid | Should -Not -Be $c.Pid
        Test-ProcessAlive $c.Pid | Should -BeFalse
        Test-ProcessAlive $r.Pid | Should -BeTrue
        Start-Sleep -Milliseconds 300
        Get-TextLog $r | Should -Be 'up', 'up'
        Restart-UnicornContainer web -Timeout 0 | Should -BeNullOrEmpty
    }

    It 'starts one that has ended, refuses a -Rm one, and changes nothing with -WhatIf' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name done -Wait -Command true
        Restart-UnicornContainer done -WhatIf
        (Get-UnicornContainer done).State | Should -Be 'Exited'
        ($c | Restart-UnicornContainer -PassThru).State | Should -BeIn 'Running', 'Exited'
        (Get-UnicornContainer done).Started | Should -BeGreaterThan $c.Started
        $rm = New-UnicornRootfs | Start-UnicornContainer -Rm -Command sleep, 600
        { $rm | Restart-UnicornContainer -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerAutoRemove,Unicorn.Commands.RestartUnicornContainerCommand'
        (Get-UnicornContainer -Id $rm.Id).Pid | Should -Be $rm.Pid
    }
}
