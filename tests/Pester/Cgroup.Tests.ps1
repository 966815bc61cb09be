#Requires -Version 7.6
# Limits on the real kernel: this host's cgroup v1 controllers (v2 is tested against a laid-out
# tree in xunit; these tests run on v2 too, where the kernel has its controllers there).

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest

    # The container's directory in a controller's hierarchy.
    function Get-CgroupDir($Container, [string] $Controller) {
        $v1 = "/sys/fs/cgroup/$Controller/$env:UNICORN_CGROUP_PARENT/$($Container.Id)"
        if (Test-Path $v1) { $v1 } else { "/sys/fs/cgroup/$env:UNICORN_CGROUP_PARENT/$($Container.Id)" }
    }
}

AfterAll {
    Complete-UnicornTest
}

Describe 'Limits set at start' -Tag 'Root', 'Cgroup' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'OOM-kills a container that allocates past its 64 MB and says so' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'head -c 200m /dev/zero | tail > /dev/null' -Memory 64MB -MemorySwap 64MB -Wait
        $c.ExitCode | Should -Be 137
        $c.OOMKilled | Should -BeTrue
        (Get-UnicornCgroup $c).OomKills | Should -BeGreaterThan 0
        $ok = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'head -c 10m /dev/zero | tail > /dev/null' -Memory 64MB -Wait
        $ok.ExitCode | Should -Be 0
        $ok.OOMKilled | Should -BeFalse
    }

    It 'stops a fork loop at a pids limit of 20, and the container and host go on' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 1000 -PidsLimit 20 -Detach
        # The loop runs in the container's cgroup (exec joins it) until fork fails there.
        Invoke-UnicornCommand $c -Command /bin/sh, -c, 'for i in $(seq 1 100); do sleep 30 & done' -ErrorVariable errs -ErrorAction SilentlyContinue
        "$errs" | Should -Match "can't fork"
        $cg = Get-UnicornCgroup $c
        $cg.PidsLimit | Should -Be 20
        $cg.Pids | Should -BeLessOrEqual 20
        $cg.Pids | Should -BeGreaterThan 10
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Running'
        if ($cg.Pids -eq 20) {
            { Invoke-UnicornCommand $c -Command /bin/true -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerPidsLimitReached,Unicorn.Commands.InvokeUnicornCommandCommand'
        }
        Get-Process -Id $PID | Should -Not -BeNullOrEmpty
    }

    It 'keeps a busy loop near 20% of a cpu with -Cpus 0.2' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'while :; do :; done' -Cpus 0.2 -Detach
        Start-Sleep -Milliseconds 300
        $cg = Get-UnicornCgroup $c -SampleInterval 2000
        $cg.CpuLimit | Should -Be 0.2
        $cg.CpuPercent | Should -BeGreaterThan 12
        $cg.CpuPercent | Should -BeLessThan 28
        $cg.CpuThrottled | Should -BeGreaterThan 0
    }

    It 'holds the limits before the command''s first instruction' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'cat /proc/self/cgroup' -Memory 100MB -Wait
        # Every hierarchy it is in names the container (v1: one line each; v2: the 0:: line).
        (Get-UnicornContainerLog $c).Text | Where-Object { $_ -match 'memory' -or $_ -match '^0::/.+' } | Should -Match $c.Id
    }

    It 'refuses limits the kernel would not take, before creating anything' -ForEach @(
        @{ limits = @{ Memory = 1MB }; id = 'InvalidCgroupLimit' }
        @{ limits = @{ Cpus = 0 }; id = 'InvalidCgroupLimit' }
        @{ limits = @{ PidsLimit = -5 }; id = 'InvalidCgroupLimit' }
        @{ limits = @{ CpusetCpus = '0-99' }; id = 'InvalidCgroupLimit' }
    ) {
        $r = New-UnicornRootfs
        { $r | Start-UnicornContainer -Command /bin/true -Wait @limits } | Should -Throw -ErrorId "$id,Unicorn.Commands.StartUnicornContainerCommand"
        Get-UnicornContainer | Should -BeNullOrEmpty
        @(Get-ChildItem /sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT -Directory -ErrorAction Ignore | Get-ChildItem -Directory) | Should -BeNullOrEmpty
        $r | Remove-UnicornRootfs -ErrorAction Ignore
    }
}

Describe 'Set-UnicornCgroup on a running container' -Tag 'Root', 'Cgroup' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'changes limits live, and leaves them as they were when one is refused' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name live -Command /bin/sleep, 1000 -Memory 64MB -Detach
        $cg = $c | Set-UnicornCgroup -Memory 128MB -Cpus 0.5
        $cg.ContainerId | Should -Be $c.Id
        $cg.MemoryLimit | Should -Be 128MB
        $cg.CpuLimit | Should -Be 0.5
        [long](Get-Content (Join-Path (Get-CgroupDir $c memory) 'memory.limit_in_bytes' -ErrorAction Ignore) -ErrorAction Ignore) | Should -BeIn 128MB, 0

        { $c | Set-UnicornCgroup -Memory 256MB -CpusetCpus '0-99' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidCgroupLimit,Unicorn.Commands.SetUnicornCgroupCommand'
        (Get-UnicornCgroup live).MemoryLimit | Should -Be 128MB
        ($c | Set-UnicornCgroup -PidsLimit 50 -PassThru).Id | Should -Be $c.Id
        (Get-UnicornCgroup live).PidsLimit | Should -Be 50
    }

    It 'gives a container started without limits a cgroup, with its processes in it' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'sleep 1000 & sleep 1000' -Detach
        { Get-UnicornCgroup $c -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerHasNoCgroup,Unicorn.Commands.GetUnicornCgroupCommand'
        $null = $c | Set-UnicornCgroup -PidsLimit 10
        # The shell becomes the last sleep; the first one runs beside it, once the shell has forked
        # it (a process forked after the move lands in the cgroup too).
        $deadline = (Get-Date).AddSeconds(5)
        while (($cg = Get-UnicornCgroup $c).Pids -lt 2 -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 20 }
        $cg.Pids | Should -Be 2
        $c | Set-UnicornCgroup -WhatIf
    }

    It 'puts processes run with Invoke-UnicornCommand into the container''s cgroup' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 1000 -PidsLimit 30 -Detach
        Invoke-UnicornCommand $c -Command cat, /proc/self/cgroup | Where-Object { $_ -match 'pids' -or $_ -match '^0::/.+' } | Should -Match $c.Id
    }

    It 'finds, joins and removes a cgroup under the parent it was made with, whatever the variable says later' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 1000 -PidsLimit 30 -Detach
        $made = $env:UNICORN_CGROUP_PARENT
        $env:UNICORN_CGROUP_PARENT = "$made-elsewhere"
        try {
            (Get-UnicornCgroup $c).PidsLimit | Should -Be 30
            $c | Remove-UnicornContainer -Force
            Test-Path "/sys/fs/cgroup/pids/$made/$($c.Id)" | Should -BeFalse
        }
        finally { $env:UNICORN_CGROUP_PARENT = $made }
        { $env:UNICORN_CGROUP_PARENT = '../escape'; Get-UnicornCgroup $c -ErrorAction Stop } | Should -Throw
        $env:UNICORN_CGROUP_PARENT = $made
    }

    It 'refuses, on v1, a memory limit above the memory+swap limit already set' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 1000 -Memory 64MB -MemorySwap 64MB -Detach
        if ((Get-UnicornCgroup $c).Version -notmatch 'v1') { Set-ItResult -Skipped -Because 'memory is on cgroup v2 here, where swap is limited on its own' ; return }
        { $c | Set-UnicornCgroup -Memory 128MB -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidCgroupLimit,Unicorn.Commands.SetUnicornCgroupCommand'
        ($c | Set-UnicornCgroup -Memory 128MB -MemorySwap 128MB).MemoryLimit | Should -Be 128MB
    }

    It 'keeps sampling with -Watch until stopped' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name watched -Command /bin/sleep, 1000 -PidsLimit 30 -Detach
        $ps = [powershell]::Create()
        [void]$ps.AddScript({ param($m) Import-Module $m; Get-UnicornCgroup watched -Watch -SampleInterval 100 }).AddArgument($script:ModulePath)
        $out = [Management.Automation.PSDataCollection[psobject]]::new()
        $async = $ps.BeginInvoke([Management.Automation.PSDataCollection[psobject]]::new(), $out)
        Start-Sleep -Milliseconds 800
        $ps.Stop()
        $ps.Dispose()
        $out.Count | Should -BeGreaterOrEqual 3
        $out[0].ContainerId | Should -Be $c.Id
    }

    It 'refuses a container that is not running' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/true -Wait
        { $c | Set-UnicornCgroup -Memory 64MB -ErrorAction Stop } | Should -Throw -ErrorId 'ContainerNotRunning,Unicorn.Commands.SetUnicornCgroupCommand'
    }
}
