#Requires -Version 7.6
# Running an image in one line, -Rm, and restart policies carried out by the supervisor.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest

    # A local image: busybox with an /etc/os-release, imported from a rootfs tarball.
    $root = New-Item -ItemType Directory (Join-Path $script:TestRoot 'fixture')
    New-Item -ItemType Directory "$root/bin", "$root/etc" | Out-Null
    Copy-Item (Get-Command busybox -CommandType Application).Source "$root/bin/busybox"
    foreach ($applet in 'sh', 'ls', 'cat', 'echo', 'sleep', 'true', 'false', 'readlink', 'uname') { ln -s busybox "$root/bin/$applet" }
    Set-Content "$root/etc/os-release" 'PRETTY_NAME="Unicorn test image"'
    $tar = Join-Path $script:TestRoot 'fixture.tar'
    tar -C $root -cf $tar .
    Import-UnicornImage $tar -Name debian:local | Out-Null


    # A directory the test's containers write into (bound at /out).
    function New-OutDir {
        New-Item -ItemType Directory (Join-Path $script:TestRoot "out-$([guid]::NewGuid().ToString('n').Substring(0, 8))") | ForEach-Object FullName
    }

    function Get-TextLog($Container) { @(Get-UnicornContainerLog $Container | Where-Object Stream -eq 'stdout' | ForEach-Object Text) }
}

AfterAll {
    Complete-UnicornTest
}

Describe 'Start-UnicornContainer with an image and a command' -Tag 'Root', 'Run' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Remove-UnicornRootfs
    }

    It 'runs the words after the image as the command, on a rootfs of the image that the container owns' {
        $c = Start-UnicornContainer debian:local cat /etc/os-release -Wait
        $c.State | Should -Be 'Exited'
        $c.ExitCode | Should -Be 0
        $c.Command | Should -Be 'cat', '/etc/os-release'
        $c.Image | Should -Be 'debian:local'
        Get-TextLog $c | Should -Be 'PRETTY_NAME="Unicorn test image"'
        $rootfs = Get-UnicornRootfs
        $rootfs.Id | Should -Be $c.RootfsId
        $rootfs.ContainerId | Should -Be $c.Id
        Get-OwnMountPoint | Should -Contain $rootfs.Path
        $c | Remove-UnicornContainer
        Get-UnicornRootfs | Should -BeNullOrEmpty
        Get-OwnMountPoint | Should -Not -Contain $rootfs.Path
    }

    It 'takes options after --, or as an array, and named parameters anywhere' {
        $c = Start-UnicornContainer debian:local -Name listed -Wait -- ls -l /etc/os-release
        $c.Name | Should -Be 'listed'
        $c.Command | Should -Be 'ls', '-l', '/etc/os-release'
        Get-TextLog $c | Should -Match '^-.* /etc/os-release$'
        $d = Start-UnicornContainer debian:local sh, -c, 'echo $0 $1', one, two -Wait
        $d.Command | Should -Be 'sh', '-c', 'echo $0 $1', 'one', 'two'
        Get-TextLog $d | Should -Be 'one two'
        $e = Start-UnicornContainer debian:local -Wait -Command uname, -s
        Get-TextLog $e | Should -Be 'Linux'
    }

    It 'runs the image''s own command without words after it' {
        $c = Start-UnicornContainer debian:local -Wait
        $c.Command | Should -Be '/bin/sh'
        $c.ExitCode | Should -Be 0
    }

    It 'keeps the first word a command''s with a piped rootfs, and -Command as it was' {
        $c = New-UnicornRootfs | Start-UnicornContainer echo piped rootfs -Wait
        $c.Command | Should -Be 'echo', 'piped', 'rootfs'
        Get-TextLog $c | Should -Be 'piped rootfs'
        $d = New-UnicornRootfs | Start-UnicornContainer -Command echo, named -Wait
        Get-TextLog $d | Should -Be 'named'
        $e = Start-UnicornContainer -RootfsPath (Get-UnicornRootfs -Id $d.RootfsId).Path echo at a path -Wait
        Get-TextLog $e | Should -Be 'at a path'
    }

    It 'removes the rootfs it made when the start fails, and makes none for a missing image' {
        { Start-UnicornContainer debian:local /bin/nope -ErrorAction Stop } |
            Should -Throw -ErrorId 'ExecutableNotFound,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornRootfs | Should -BeNullOrEmpty
        Get-UnicornContainer | Should -BeNullOrEmpty
        Get-UnicornLeftover | Should -BeNullOrEmpty
        { Start-UnicornContainer no-such:image true -ErrorAction Stop } |
            Should -Throw -ErrorId 'ImageNotFound,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornLeftover | Should -BeNullOrEmpty
    }
}

Describe 'Start-UnicornContainer -Rm' -Tag 'Root', 'Run' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'removes the container and all made for it when -Wait returns, and returns how it ended' {
        $c = Start-UnicornContainer debian:local -Rm -Wait -Memory 64MB -Command sh, -c, 'exit 3'
        $c.State | Should -Be 'Exited'
        $c.ExitCode | Should -Be 3
        $c.AutoRemove | Should -BeTrue
        Get-UnicornContainer | Should -BeNullOrEmpty
        Get-UnicornLeftover | Should -BeNullOrEmpty
        Get-OwnMountPoint | Should -BeNullOrEmpty
        @(Get-ChildItem /sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT, /sys/fs/cgroup/$env:UNICORN_CGROUP_PARENT -Directory -ErrorAction Ignore |
            Get-ChildItem -Directory) | Should -BeNullOrEmpty
    }

    It 'removes a detached one once a wait sees it end, and frees its name' {
        $c = Start-UnicornContainer debian:local -Name once -Rm -Detach -- sh -c 'sleep 0.3; exit 4'
        $c.State | Should -Be 'Running'
        (Get-UnicornContainer once).AutoRemove | Should -BeTrue
        $done = $c | Wait-UnicornContainer
        $done.ExitCode | Should -Be 4
        Get-UnicornContainer | Should -BeNullOrEmpty
        Get-UnicornLeftover | Should -BeNullOrEmpty
        # The name is free again at once.
        (Start-UnicornContainer debian:local -Name once -Rm -Wait true).ExitCode | Should -Be 0
    }

    It 'is swept by the next listing when nobody saw it end' {
        $c = Start-UnicornContainer debian:local -Rm -Detach true
        $record = Join-Path $env:UNICORN_STATE_ROOT "containers/$($c.Id)/exit"
        Wait-Until { Test-Path $record }
        # Its exit command (below) is a pwsh that takes a while to start: the listing sweeps it first.
        Get-UnicornContainer | Should -BeNullOrEmpty
        Get-UnicornLeftover | Should -BeNullOrEmpty
        Get-OwnMountPoint | Should -BeNullOrEmpty
        { Get-UnicornContainer -Id $c.Id -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerNotFound,Unicorn.Commands.GetUnicornContainerCommand'
    }

    It 'is removed by the exit command its supervisor runs, with no Unicorn command run meanwhile' {
        $c = Start-UnicornContainer debian:local -Rm -Detach -Memory 64MB -- sh -c 'sleep 0.2'
        $state = Join-Path $env:UNICORN_STATE_ROOT "containers/$($c.Id)"
        $merged = Join-Path $env:UNICORN_DATA_ROOT "rootfs/$($c.RootfsId)/merged"
        $cgroups = @(Get-ChildItem /sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT/$($c.Id), /sys/fs/cgroup/$env:UNICORN_CGROUP_PARENT/$($c.Id) -Directory -ErrorAction Ignore)
        $cgroups | Should -Not -BeNullOrEmpty
        Get-OwnMountPoint | Should -Contain $merged
        # Only the file system is looked at: a listing would remove it itself.
        Wait-Until { -not (Test-Path $state) } -Seconds 30
        Wait-Until { (Get-OwnMountPoint) -notcontains $merged -and -not ($cgroups | Where-Object { Test-Path $_.FullName }) -and
            -not (Test-Path (Join-Path $env:UNICORN_DATA_ROOT "containers/$($c.Id)")) -and
            -not (Test-Path (Join-Path $env:UNICORN_STATE_ROOT 'names' $c.Name)) } -Seconds 5
        Get-UnicornLeftover | Should -BeNullOrEmpty
    }

    It 'refuses -Rm with a restart policy, and a policy it does not know, before anything is made' {
        { Start-UnicornContainer debian:local true -Rm -Restart Always -ErrorAction Stop } |
            Should -Throw -ErrorId 'AutoRemoveAndRestart,Unicorn.Commands.StartUnicornContainerCommand'
        { Start-UnicornContainer debian:local true -Restart Sometimes -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidRestartPolicy,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornLeftover | Should -BeNullOrEmpty
    }
}

Describe 'Start-UnicornContainer -Restart' -Tag 'Root', 'Run' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'restarts a failing command N times (OnFailure:N), in the same network namespace, and -Wait gets the last run' {
        $out = New-OutDir
        $c = Start-UnicornContainer debian:local -Restart OnFailure:2 -Volume "${out}:/out" -Wait -- sh -c 'readlink /proc/self/ns/net >> /out/runs; exit 5'
        $c.State | Should -Be 'Exited'
        $c.ExitCode | Should -Be 5
        $c.RestartCount | Should -Be 2
        $c.RestartPolicy.ToString() | Should -Be 'OnFailure:2'
        $runs = @(Get-Content "$out/runs")
        $runs.Count | Should -Be 3
        @($runs | Select-Object -Unique).Count | Should -Be 1 -Because 'a restart keeps the network namespace (and what the engine put in it)'
    }

    It 'does not restart a command that succeeded (OnFailure)' {
        $c = Start-UnicornContainer debian:local -Restart OnFailure -Wait true
        $c.ExitCode | Should -Be 0
        $c.RestartCount | Should -Be 0
    }

    It 'restarts Always with a back-off, shows Restarting, and Stop-UnicornContainer stops it for good' {
        $c = Start-UnicornContainer debian:local -Name flaky -Restart Always -Detach -- sh -c 'exit 7'
        # 100, 200, 400, 800 ms: by the fifth restart the supervisor waits 1.6 s.
        Wait-Until { (Get-UnicornContainer flaky).RestartCount -ge 5 }
        Wait-Until { (Get-UnicornContainer flaky).State -eq 'Restarting' }
        $r = Get-UnicornContainer flaky
        $r.ExitCode | Should -Be 7
        $r.RestartPolicy.Mode | Should -Be 'Always'
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $stopped = $r | Stop-UnicornContainer -PassThru
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 1.5 -Because 'a supervisor waiting out its back-off is woken'
        $stopped.State | Should -Be 'Exited'
        $stopped.ExitCode | Should -Be 7
        $count = $stopped.RestartCount
        Start-Sleep -Milliseconds 500
        $after = Get-UnicornContainer flaky
        $after.State | Should -Be 'Exited'
        $after.RestartCount | Should -Be $count
    }

    It 'keeps a running command stopped (UnlessStopped), and restarts one that ends by itself' {
        $out = New-OutDir
        $c = Start-UnicornContainer debian:local -Name service -Init -Restart UnlessStopped -Volume "${out}:/out" -Detach -- sh -c 'echo $$ >> /out/runs; sleep 0.3'
        Wait-Until { (Get-UnicornContainer service).RestartCount -ge 2 -and (Get-UnicornContainer service).State -eq 'Running' }
        $running = Get-UnicornContainer service
        $running.Pid | Should -Not -Be $c.Pid
        Get-TextLog $running | Should -BeNullOrEmpty
        $stopped = $running | Stop-UnicornContainer -PassThru
        $stopped.State | Should -Be 'Exited'
        $lines = @(Get-Content "$out/runs").Count
        Start-Sleep -Milliseconds 800
        @(Get-Content "$out/runs").Count | Should -Be $lines
        (Get-UnicornContainer service).State | Should -Be 'Exited'
    }

    It 'counts a restart whose command has gone as exit code 127, and says so in the log' {
        $c = Start-UnicornContainer debian:local -Restart OnFailure:1 -Wait -- /bin/sh -c 'rm /bin/sh; exit 1'
        $c.State | Should -Be 'Exited'
        $c.ExitCode | Should -Be 127
        $c.RestartCount | Should -Be 1
        $note = Get-UnicornContainerLog $c | Where-Object Stream -eq 'unicorn'
        $note.Text | Should -Match '^restart 1 failed: .*/bin/sh'
    }
}
