#Requires -Version 7.6
# PowerShell sessions into containers: New-UnicornSession's PSSession with PowerShell's own remoting
# cmdlets, Invoke-UnicornCommand -ScriptBlock, and the module driven over PowerShell remoting through SSH
# (fleet use; an sshd of the test's own, tests/Pester/Sshd.ps1).
# The containers run on a glibc rootfs made from the host's libraries, with the host's pwsh bound in.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest

    # The host pids of the processes in a container's pid namespace: the container's own only.
    function Get-ContainerProcess([string] $Name) {
        $ns = (Get-Item "/proc/$((Get-UnicornContainer $Name).Pid)/ns/pid").LinkTarget
        foreach ($dir in Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$') {
            if ((Get-Item "$($dir.FullName)/ns/pid" -ErrorAction Ignore).LinkTarget -eq $ns) { [int]$dir.Name }
        }
    }

    $script:sessionRoot = New-GlibcTestRootfs
    $script:box = New-UnicornRootfs -Path $script:sessionRoot |
        Start-UnicornContainer -Name box -Hostname session-box -Command /bin/sleep, 100000 -Detach
}

AfterAll {
    Get-PSSession | Remove-PSSession
    Complete-UnicornTest
}

Describe 'New-UnicornSession' -Tag 'Root', 'Container' {
    AfterEach { Get-PSSession | Remove-PSSession }

    It 'returns a PSSession that Get-PSSession lists, and Invoke-Command returns typed objects from the container' {
        $s = New-UnicornSession box -Name it
        $s | Should -BeOfType System.Management.Automation.Runspaces.PSSession
        $s.State | Should -Be 'Opened'
        $s.ComputerName | Should -Be 'box'
        $s.Transport | Should -Be 'Unicorn'
        (Get-PSSession -Name it).InstanceId | Should -Be $s.InstanceId

        $r = Invoke-Command -Session $s { [pscustomobject]@{ Hostname = [Environment]::MachineName; Pid = $PID; File = Get-Item /etc/passwd; Processes = Get-Process } }
        $r.Hostname | Should -Be 'session-box'
        $r.PSComputerName | Should -Be 'box'
        $r.File.PSObject.TypeNames | Should -Contain 'Deserialized.System.IO.FileInfo'
        $r.File.Length | Should -BeOfType [long]
        $r.File.Length | Should -Be (Get-Item (Join-Path $script:sessionRoot etc/passwd)).Length
        # Only the container's processes: its sleep (pid 1) and the session's pwsh.
        @($r.Processes).Count | Should -Be 2
        ($r.Processes | Where-Object Id -EQ 1).ProcessName | Should -Be 'sleep'
        $r.Processes.Id | Should -Contain $r.Pid
    }

    It 'brings a remote throw back as an error record, and Write-Error as a non-terminating one' {
        $s = New-UnicornSession box
        { Invoke-Command -Session $s { throw 'boom in the box' } -ErrorAction Stop } | Should -Throw 'boom in the box'
        $out = Invoke-Command -Session $s { Write-Error 'soft'; 'after' } -ErrorVariable ev -ErrorAction SilentlyContinue
        $out | Should -Be 'after'
        $ev.Count | Should -Be 1
        $ev[0].Exception.Message | Should -Be 'soft'
        $ev[0].OriginInfo.PSComputerName | Should -Be 'box'
        $s.State | Should -Be 'Opened'
    }

    It 'copies with Copy-Item -ToSession into the container, not onto the host, and back with -FromSession' {
        $s = New-UnicornSession box
        $name = "copied-$([guid]::NewGuid().ToString('n').Substring(0, 8)).txt"
        $source = Join-Path $script:TestRoot $name
        Set-Content $source 'from the host'
        Copy-Item $source -ToSession $s -Destination "/tmp/$name"
        $upper = (Get-UnicornRootfs -RootfsId $script:box.RootfsId).UpperDir
        Get-Content (Join-Path $upper "tmp/$name") | Should -Be 'from the host'
        Test-Path "/tmp/$name" | Should -BeFalse -Because 'the session''s /tmp is the container''s'
        Invoke-Command -Session $s { Get-Content "/tmp/$using:name" } | Should -Be 'from the host'

        Copy-Item "/tmp/$name" -FromSession $s -Destination (Join-Path $script:TestRoot "back-$name")
        Get-Content (Join-Path $script:TestRoot "back-$name") | Should -Be 'from the host'
    }

    It 'imports the container''s commands with Import-PSSession' {
        $s = New-UnicornSession box
        $module = Import-PSSession $s -CommandName Get-Process -Prefix Box
        try {
            $processes = Get-BoxProcess
            ($processes | Where-Object Id -EQ 1).ProcessName | Should -Be 'sleep'
            @($processes).Count | Should -Be 2
        }
        finally { Remove-Module $module }
    }

    It 'ends the PowerShell in the container on Remove-PSSession' {
        # The earlier tests' sessions' PowerShells end a moment after Remove-PSSession returns.
        Wait-Until { @(Get-ContainerProcess box).Count -eq 1 }
        $s = New-UnicornSession box
        $server = @(Get-ContainerProcess box | Where-Object { $_ -ne $script:box.Pid })
        $server.Count | Should -Be 1
        (Get-Content "/proc/$($server[0])/cmdline" -Raw) -split "`0" | Should -Contain '-s'
        $s | Remove-PSSession
        Wait-Until { -not (Test-ProcessAlive $server[0]) }
        @(Get-ContainerProcess box) | Should -Be $script:box.Pid
        Get-PSSession | Should -BeNullOrEmpty
    }

    It 'goes Broken with the reason when the container stops, and a running command ends' {
        $c = New-UnicornRootfs -Path $script:sessionRoot | Start-UnicornContainer -Name stopping -Command /bin/sleep, 100000 -Detach
        $s = New-UnicornSession stopping
        $job = Invoke-Command -Session $s { Start-Sleep 1000 } -AsJob
        Wait-Until { $job.ChildJobs[0].State -eq 'Running' }
        $c | Stop-UnicornContainer -Signal KILL
        Wait-Until { $s.State -eq 'Broken' }
        $s.Runspace.RunspaceStateInfo.Reason.Message | Should -Match "container 'stopping' is no longer running"
        $job | Wait-Job -Timeout 15 | Out-Null
        $job.State | Should -Be 'Failed'
        $job | Remove-Job
        { Invoke-Command -Session $s { 1 } -ErrorAction Stop } | Should -Throw
        $s | Remove-PSSession
        $c | Remove-UnicornContainer
    }

    It 'writes clear errors: <case>' -ForEach @(
        @{ case = 'no such container'; Setup = { 'no-such-box' }; ErrorId = 'ContainerNotFound' }
        @{ case = 'a container that is not running'; ErrorId = 'ContainerNotRunning'; Setup = {
                (New-UnicornRootfs -Path $script:sessionRoot | Start-UnicornContainer -Name ended -Command /bin/true -Wait).Name } }
        @{ case = 'a busybox-only rootfs'; ErrorId = 'SessionHostPowerShellUnusable'; Setup = {
                (New-UnicornRootfs | Start-UnicornContainer -Name busybox-only -Command /bin/sleep, 100000 -Detach).Name } }
        @{ case = 'a rootfs without OpenSSL'; ErrorId = 'SessionHostPowerShellUnusable'; Message = 'OpenSSL'; Setup = {
                $root = New-GlibcTestRootfs
                Get-ChildItem $root -Recurse -Filter 'libssl.so*' | Remove-Item
                (New-UnicornRootfs -Path $root | Start-UnicornContainer -Name no-openssl -Command /bin/sleep, 100000 -Detach).Name } }
        # libssl without its libcrypto passes the engine's check; pwsh then dies at start, and says why.
        @{ case = 'a pwsh that dies at start'; ErrorId = 'SessionOpenFailed'; Message = 'OpenSSL is required'; Setup = {
                $root = New-GlibcTestRootfs
                Get-ChildItem $root -Recurse -Filter 'libcrypto.so*' | Remove-Item
                (New-UnicornRootfs -Path $root | Start-UnicornContainer -Name pwsh-dies -Command /bin/sleep, 100000 -Detach).Name } }
        @{ case = 'a -PowerShellPath that is not there'; ErrorId = 'PowerShellNotFound'; PowerShellPath = '/opt/nope/pwsh'; Setup = { 'box' } }
    ) {
        $target = & $Setup
        $extra = if ($PowerShellPath) { @{ PowerShellPath = $PowerShellPath } } else { @{} }
        $before = if ((Get-UnicornContainer $target -ErrorAction Ignore).State -eq 'Running') { @(Get-ContainerProcess $target) }
        $s = New-UnicornSession $target @extra -ErrorVariable err -ErrorAction SilentlyContinue
        $s | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -Be "$ErrorId,Unicorn.Commands.NewUnicornSessionCommand"
        if ($Message) { $err[0].Exception.Message | Should -Match $Message }
        if ($before) { Wait-Until { @(Get-ContainerProcess $target).Count -eq $before.Count } }
        Get-PSSession | Should -BeNullOrEmpty
        if ($target -ne 'box') { Get-UnicornContainer $target -ErrorAction Ignore | Remove-UnicornContainer -Force }
    }
}

Describe 'Invoke-UnicornCommand -ScriptBlock' -Tag 'Root', 'Container' {
    It 'returns the script''s objects with its arguments, its errors as error records, and leaves no session' {
        $before = @(Get-ContainerProcess box)
        $r = Invoke-UnicornCommand box { param($a, $b) [pscustomobject]@{ Host = [Environment]::MachineName; Sum = $a + $b; Dir = "$PWD"; Mode = $env:MODE }; Write-Error 'soft' } `
            -ArgumentList 2, 3 -Environment @{ MODE = 'debug' } -WorkingDirectory /tmp -ErrorVariable ev -ErrorAction SilentlyContinue
        $r.Host | Should -Be 'session-box'
        $r.PSComputerName | Should -Be 'box'
        $r.Sum | Should -BeOfType [int]
        $r.Sum | Should -Be 5
        $r.Dir | Should -Be '/tmp'
        $r.Mode | Should -Be 'debug'
        $ev.Count | Should -Be 1
        $ev[0].Exception.Message | Should -Be 'soft'

        { Invoke-UnicornCommand box { throw 'boom' } -ErrorAction Stop } | Should -Throw 'boom'
        $script:box | Invoke-UnicornCommand -ScriptBlock { $args[0] * 2 } -ArgumentList 21 | Should -Be 42
        Get-PSSession | Should -BeNullOrEmpty
        Wait-Until { @(Get-ContainerProcess box).Count -eq $before.Count }
    }

    It 'still runs a command given as strings' {
        Invoke-UnicornCommand box hostname | Should -Be 'session-box'
    }
}

Describe 'The module through PowerShell remoting over SSH (fleet use)' -Tag 'Root', 'Container' {
    BeforeAll {
        # An sshd of the test's own on 127.0.0.1 with a pwsh subsystem: what Invoke-Command -HostName
        # node1, node2 reaches on a fleet. It fails here, with what to install, if there is no sshd.
        . (Join-Path $PSScriptRoot 'Sshd.ps1')
        $script:sshd = Start-TestSshd (Join-Path $script:TestRoot 'sshd')
        $script:ssh = @{ Port = $script:sshd.Port; UserName = 'root'; KeyFilePath = $script:sshd.KeyFilePath; Options = $script:sshd.Options }

        # Is the (running) process a descendant of the test's sshd (its connection's session)?
        function Test-UnderSshd([int] $ProcessId) {
            for ($id = $ProcessId; $id -gt 1; $id = [int](((Get-Content "/proc/$id/stat" -Raw) -replace '^.*\) ') -split ' ')[1]) {
                if ($id -eq $script:sshd.Process.Id) { return $true }
            }
            $false
        }
    }
    AfterEach { Get-PSSession | Remove-PSSession }
    AfterAll { Stop-TestSshd $script:sshd }

    It 'runs Unicorn''s cmdlets in a pwsh reached by New-PSSession -HostName, and its objects come back and bind' {
        $s = New-PSSession -HostName 127.0.0.1 @ssh
        $s.Transport | Should -Be 'SSH'
        Test-UnderSshd (Invoke-Command -Session $s { $PID }) | Should -BeTrue -Because 'the remote pwsh is the subsystem of the test''s sshd'
        $containers = Invoke-Command -Session $s {
            # sshd passes no environment: the node's roots are this run's.
            $env:UNICORN_STATE_ROOT, $env:UNICORN_DATA_ROOT, $env:UNICORN_CGROUP_PARENT = $using:env:UNICORN_STATE_ROOT, $using:env:UNICORN_DATA_ROOT, $using:env:UNICORN_CGROUP_PARENT
            Import-Module $using:script:ModulePath
            Get-UnicornContainer
        }
        $containers.PSComputerName | Select-Object -Unique | Should -Be '127.0.0.1'
        $containers.Id | Sort-Object | Should -Be ((Get-UnicornContainer).Id | Sort-Object)
        $box = $containers | Where-Object Name -EQ box
        $box.PSObject.TypeNames | Should -Contain 'Deserialized.Unicorn.Container'
        $box.State | Should -Be 'Running'
        # A deserialized container binds to the local cmdlets by its Id.
        ($box | Get-UnicornContainer).Pid | Should -Be $script:box.Pid
        $box | Invoke-UnicornCommand -Command hostname | Should -Be 'session-box'
    }

    It 'fans out with Invoke-Command -HostName to two nodes, and PSComputerName tells their results apart' {
        $accepted = @(Select-String -Path $script:sshd.Log -Pattern '^Accepted publickey for root from 127\.0\.0\.1').Count
        $results = Invoke-Command -HostName 127.0.0.1, localhost @ssh {
            $env:UNICORN_STATE_ROOT, $env:UNICORN_DATA_ROOT, $env:UNICORN_CGROUP_PARENT = $using:env:UNICORN_STATE_ROOT, $using:env:UNICORN_DATA_ROOT, $using:env:UNICORN_CGROUP_PARENT
            Import-Module $using:script:ModulePath
            Get-UnicornContainer -State Running | Add-Member -NotePropertyName NodePid -NotePropertyValue $PID -PassThru
        }
        @($results).Count | Should -Be 2
        ($results.PSComputerName | Sort-Object) -join ',' | Should -Be '127.0.0.1,localhost'
        $results.Name | Should -Be 'box', 'box'
        # Two nodes: two connections to the test's sshd, two pwsh processes.
        @(Select-String -Path $script:sshd.Log -Pattern '^Accepted publickey for root from 127\.0\.0\.1').Count | Should -Be ($accepted + 2)
        $results[0].NodePid | Should -Not -Be $results[1].NodePid
        ($results | Invoke-UnicornCommand -Command hostname) | Should -Be 'session-box', 'session-box'
        Get-PSSession | Should -BeNullOrEmpty
    }
}

Describe 'Enter-PSSession into a container' -Tag 'Root', 'Interactive' {
    BeforeAll {
        Start-TestPwsh
    }
    AfterAll {
        Stop-TestTerminal
    }

    It 'shows the container''s prompt, runs there, and exit comes back' {
        Send-Keys 'Enter-PSSession (New-UnicornSession box)'
        Wait-Screen '(?m)^\[box\]: PS /[^>]*>\s*$' | Out-Null
        Send-Keys '"in-" + [Environment]::MachineName'
        Wait-Screen '(?m)^in-session-box' | Out-Null
        Send-Keys 'exit'
        Wait-Screen '(?m)^PS /[^>]*>\s*$' | Out-Null
        Send-Keys '"back-" + [Environment]::MachineName + "-" + (Get-PSSession).State'
        Wait-Screen "(?m)^back-$([Environment]::MachineName)-Opened" | Out-Null
        Send-Keys 'Get-PSSession | Remove-PSSession; "removed-" + @(Get-PSSession).Count'
        Wait-Screen '(?m)^removed-0' | Out-Null
    }
}
