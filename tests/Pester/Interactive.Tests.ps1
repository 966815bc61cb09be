#Requires -Version 7.6
# Interactive sessions, driven as a person would: a pwsh in tmux, keys sent, the screen read.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest
}

AfterAll {
    Complete-UnicornTest
}

Describe 'Start-UnicornContainer -Interactive' -Tag 'Root', 'Interactive' {
    BeforeAll { Start-TestPwsh }
    AfterAll { Get-UnicornContainer | Remove-UnicornContainer -Force }

    It 'gives the shell a terminal of the container''s own, with job control and Ctrl+C' {
        Send-Keys '$c = New-UnicornRootfs | Start-UnicornContainer -Name it -Command /bin/sh -Interactive'
        Wait-Screen '/ #$' | Out-Null
        Send-Keys 'tty; echo "pid=$$"; stty size'
        $screen = Wait-Screen '\d+ \d+\s*\n/ #$'
        $screen | Should -Match '/dev/pts/0'
        $screen | Should -Match 'pid=1'
        $screen | Should -Match '30 100'

        Send-Keys 'sleep 60 &'
        Send-Keys 'jobs'
        Wait-Screen '\[1\]\+\s+Running\s+sleep 60' | Out-Null

        Send-Keys 'sleep 100'
        Start-Sleep -Milliseconds 500
        tmux -L $script:Terminal send-keys -t t C-c
        Send-Keys 'echo "status=$?"'
        # SIGINT reached the container's foreground process (status 130), not pwsh.
        Wait-Screen 'status=130' | Out-Null
        (Get-UnicornContainer it).State | Should -Be 'Running'

        Send-Keys 'exit 3'
        Wait-Screen '(?m)^PS .*>\s*$' | Out-Null
        Send-Keys '"exit=$($c.ExitCode)"'
        Wait-Screen '(?m)^exit=3' | Out-Null
    }

    It 'keeps the caller''s terminal from the -Init init: only the command has it' {
        Send-Keys 'clear; $c = New-UnicornRootfs | Start-UnicornContainer -Name init-tty -Init -Command /bin/sh -Interactive'
        Wait-Screen '/ #$' | Out-Null
        Send-Keys 'echo "sh0=$(readlink /proc/$$/fd/0)"'
        Wait-Screen '(?m)^sh0=/dev/pts/0' | Out-Null
        # Before, the init's stdin was the host's terminal, open in the container's pid 1.
        $init = (Get-UnicornContainer init-tty).Pid
        stat -L -c '%t:%T' "/proc/$init/fd/0" | Should -Be '1:3' -Because 'the init reads /dev/null'
        Send-Keys 'exit'
        # Typed only once pwsh has its terminal back: keys sent while the shell exits are its.
        Wait-Screen '(?m)^PS .*>\s*$' | Out-Null
        Send-Keys '"done=$($c.ExitCode)"'
        Wait-Screen '(?m)^done=0' | Out-Null
    }
}

Describe 'Enter-UnicornContainer' -Tag 'Root', 'Interactive' {
    BeforeAll { Start-TestPwsh }
    AfterAll { Get-UnicornContainer | Remove-UnicornContainer -Force }

    It 'opens a shell in a running container, passing on window size changes, and sets $LASTEXITCODE' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name entered -Hostname entered-box -Command /bin/sleep, 1000 -Detach
        Send-Keys 'Enter-UnicornContainer entered'
        Wait-Screen '/ #$' | Out-Null
        Send-Keys 'hostname; tty; cat /proc/1/cmdline; echo'
        $screen = Wait-Screen 'sleep1000\s*\n/ #$'
        $screen | Should -Match 'entered-box'
        $screen | Should -Match '/dev/pts/\d+'

        tmux -L $script:Terminal resize-window -t t -x 90 -y 25
        Start-Sleep -Milliseconds 300
        Send-Keys 'stty size'
        Wait-Screen '25 90' | Out-Null

        Send-Keys 'exit 4'
        Send-Keys '"code=$LASTEXITCODE"'
        Wait-Screen '(?m)^code=4' | Out-Null
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Running'
    }
}

Describe 'TERM on a terminal' -Tag 'Root', 'Interactive' {
    BeforeAll { Start-TestPwsh }
    AfterAll { Get-UnicornContainer | Remove-UnicornContainer -Force }

    It 'is xterm, as Docker sets it, whatever the console''s TERM, unless -Environment gives one' {
        # Each line typed once the one before has run: keys typed ahead of PSReadLine can be lost.
        Send-Keys "clear; `$env:TERM = 'vt220-console'; 'console-' + 'set'"
        Wait-Screen '(?m)^console-set' | Out-Null
        Send-Keys '$t = New-UnicornRootfs | Start-UnicornContainer -Name term -Command /bin/sh -Interactive'
        Wait-Screen '/ #$' | Out-Null
        Send-Keys 'echo "term=$TERM"; exit'
        Wait-Screen '(?m)^PS .*>\s*$' | Out-Null
        (Get-UnicornContainerLog term).Text -join "`n" | Should -Match '(?m)^term=xterm\r?$'

        Send-Keys "[Console]::Clear(); 'second-' + 'start'"
        Wait-Screen '(?m)^second-start' | Out-Null
        Send-Keys "`$u = New-UnicornRootfs | Start-UnicornContainer -Name term-set -Environment @{ TERM = 'vt100' } -Command /bin/sh -Interactive"
        Wait-Screen '/ #$' | Out-Null
        Send-Keys 'echo "term=$TERM"; exit'
        Wait-Screen '(?m)^PS .*>\s*$' | Out-Null
        (Get-UnicornContainerLog term-set).Text -join "`n" | Should -Match '(?m)^term=vt100\r?$'

        $null = New-UnicornRootfs | Start-UnicornContainer -Name term-enter -Command /bin/sleep, 1000
        Send-Keys 'clear; Enter-UnicornContainer term-enter'
        Wait-Screen '/ #$' | Out-Null
        Send-Keys 'echo "entered-term=$TERM"'
        Wait-Screen '(?m)^entered-term=xterm\s*$' | Out-Null
        Send-Keys 'exit'
        Wait-Screen '(?m)^PS .*>\s*$' | Out-Null
    }
}

Describe 'Get-UnicornCgroup -Watch on the console' -Tag 'Root', 'Interactive', 'Cgroup' {
    BeforeAll { Start-TestPwsh }
    AfterAll { Get-UnicornContainer | Remove-UnicornContainer -Force }

    It 'draws the table again in place, as docker stats does, until Ctrl+C' {
        $null = New-UnicornRootfs | Start-UnicornContainer -Name watched -Command /bin/sleep, 1000 -PidsLimit 30
        Send-Keys 'clear; Get-UnicornCgroup watched -Watch -SampleInterval 100'
        Wait-Screen '(?m)^watched\s' | Out-Null
        Start-Sleep -Milliseconds 1500 # some fifteen samples
        $screen = Get-Screen
        ([regex]::Matches($screen, '(?m)^Name\s+Memory')).Count | Should -Be 1 -Because "one table, drawn over:`n$screen"
        ([regex]::Matches($screen, '(?m)^watched\s')).Count | Should -Be 1
        $screen | Should -Match '(?m)^watched\s.*\b1/30\b'
        tmux -L $script:Terminal send-keys -t t C-c
        Send-Keys '"watch-" + "ended"'
        Wait-Screen '(?m)^watch-ended' | Out-Null
    }
}
