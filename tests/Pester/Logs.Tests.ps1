#Requires -Version 7.4
# The container log: rotation, reading from the end and by time, following across a rotation,
# and a full disk. Root: containers.

BeforeAll {
    . $PSScriptRoot/TestSetup.ps1
    Initialize-UnicornTest

    function Get-LogDir($c) { Join-Path $env:UNICORN_DATA_ROOT "containers/$($c.Id)" }

    # A record as the supervisor writes it: time, stream, F or P, text.
    $script:RecordPattern = '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr|unicorn) [FP] '

    # Every line of every log file is one whole record.
    function Assert-WholeRecords($c) {
        foreach ($f in Get-ChildItem (Get-LogDir $c) -Filter 'container.log*') {
            $bad = @(Get-Content $f.FullName | Where-Object { $_ -notmatch $script:RecordPattern })
            $bad | Should -BeNullOrEmpty -Because "every record of $($f.Name) is whole"
            if ($f.Length -gt 0) {
                $bytes = [IO.File]::ReadAllBytes($f.FullName)
                $bytes[-1] | Should -Be 10 -Because "$($f.Name) ends with a whole record"
            }
        }
    }

    # awk in the container: lines "line 000001 xxx..." (numbered from 1, padded to width bytes).
    function Get-LineScript([int] $count, [int] $width = 100, [string] $every = '') {
        "awk 'BEGIN { p = sprintf(`"%$($width - 12)s`", `"`"); gsub(/ /, `"x`", p); for (i = 1; i <= $count; i++) { printf `"line %06d %s\n`", i, p; $every } }'"
    }
}

AfterAll {
    Complete-UnicornTest
}

Describe 'Log rotation' -Tag 'Root', 'Logs' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'keeps at most -LogMaxFiles files of at most -LogMaxSize, the newest lines, every record whole' {
        # 50000 lines of 100 bytes: about 7 MB of records.
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, (Get-LineScript 50000) -LogMaxSize 1MB -LogMaxFiles 2 -Detach |
            Wait-UnicornContainer
        $c.ExitCode | Should -Be 0
        $files = @(Get-ChildItem (Get-LogDir $c) -Filter 'container.log*' | Sort-Object Name)
        $files.Name | Should -Be 'container.log', 'container.log.1'
        foreach ($f in $files) { $f.Length | Should -BeLessOrEqual 1MB }
        $files[1].Length | Should -BeGreaterThan (1MB - 200) -Because 'a rotated file is full but for less than a record'
        Assert-WholeRecords $c

        $log = @(Get-UnicornContainerLog $c)
        $log[-1].Text | Should -BeLike 'line 050000 x*'
        # What is kept is the end, without a gap: oldest file first.
        $numbers = $log.Text | ForEach-Object { [int]$_.Substring(5, 6) }
        $numbers | Should -Be ($numbers[0]..50000)
        $log.Count | Should -BeGreaterThan 10000
        ($log.Time | Sort-Object) | Should -Be $log.Time
    }

    It 'defaults to 10MB x 3, takes 0 for a log that is never rotated, and refuses a size too small' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, (Get-LineScript 120000) -LogMaxSize 0 -Detach | Wait-UnicornContainer
        @(Get-ChildItem (Get-LogDir $c) -Filter 'container.log*').Name | Should -Be 'container.log'
        (Get-Item (Join-Path (Get-LogDir $c) 'container.log')).Length | Should -BeGreaterThan 15MB

        $d = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, (Get-LineScript 300000) -Detach | Wait-UnicornContainer
        $files = @(Get-ChildItem (Get-LogDir $d) -Filter 'container.log*' | Sort-Object Name)
        $files.Name | Should -Be 'container.log', 'container.log.1', 'container.log.2'
        foreach ($f in $files) { $f.Length | Should -BeLessOrEqual 10MB }

        # One file: emptied when full, so it holds the last lines only.
        $e = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, (Get-LineScript 20000) -LogMaxSize 256KB -LogMaxFiles 1 -Detach | Wait-UnicornContainer
        @(Get-ChildItem (Get-LogDir $e) -Filter 'container.log*').Name | Should -Be 'container.log'
        (Get-Item (Join-Path (Get-LogDir $e) 'container.log')).Length | Should -BeLessOrEqual 256KB
        (Get-UnicornContainerLog $e -Tail 1).Text | Should -BeLike 'line 020000 x*'
        Assert-WholeRecords $e

        { Start-UnicornContainer -Command /bin/true -LogMaxSize 1KB } | Should -Throw -ErrorId 'InvalidLogMaxSize*'
        { Start-UnicornContainer -Command /bin/true -LogMaxFiles 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        Get-UnicornContainer | Where-Object Command -eq '/bin/true' | Should -BeNullOrEmpty
    }
}

Describe 'The log of an -Interactive container' -Tag 'Root', 'Logs' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'is rotated by the same rules' {
        # -Interactive needs a terminal: a pwsh in a detached tmux session (a pty of its own) runs it.
        $exe = (Get-Process -Id $PID).Path
        $prefix = if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { [Environment]::GetCommandLineArgs()[0] } else { '' }
        $inner = "Import-Module '$script:ModulePath'; `$null = New-UnicornRootfs | Start-UnicornContainer -Name tty-log -Command /bin/sh, -c, '$((Get-LineScript 2000) -replace "'", "''")' -Interactive -LogMaxSize 64KB -LogMaxFiles 2"
        $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($inner))
        $socket = "unicorn-test-$PID-logs"
        tmux -L $socket new-session -d -x 100 -y 30 "$exe $prefix -NoProfile -NonInteractive -EncodedCommand $encoded; tmux -L $socket wait-for -S done"
        try {
            $waiter = Start-ThreadJob { param($s) tmux -L $s wait-for done } -ArgumentList $socket
            $waiter | Wait-Job -Timeout 60 | Out-Null
            $waiter | Remove-Job -Force
        }
        finally {
            tmux -L $socket kill-server 2>$null
            Remove-Item "$(if ($env:TMUX_TMPDIR) { $env:TMUX_TMPDIR } else { '/tmp' })/tmux-$(id -u)/$socket" -ErrorAction Ignore
        }
        $c = Get-UnicornContainer tty-log
        $c.ExitCode | Should -Be 0
        $files = @(Get-ChildItem (Get-LogDir $c) -Filter 'container.log*' | Sort-Object Name)
        $files.Name | Should -Be 'container.log', 'container.log.1'
        foreach ($f in $files) { $f.Length | Should -BeLessOrEqual 64KB }
        Assert-WholeRecords $c
        $log = @(Get-UnicornContainerLog $c)
        $log[-1].Text | Should -BeLike 'line 002000 x*'
        $log.Stream | Sort-Object -Unique | Should -Be 'stdout'
    }
}

Describe 'Reading a large log' -Tag 'Root', 'Logs' {
    BeforeAll {
        # A full-size log: 10MB x 3, and a container.log of a few lines.
        $script:Big = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, "$(Get-LineScript 300000); echo last-out; echo last-err >&2" -Detach |
            Wait-UnicornContainer
    }
    AfterAll {
        $script:Big | Remove-UnicornContainer -Force
    }

    It '-Tail 5 reads from the end: the right lines, fast' {
        Get-UnicornContainerLog $script:Big -Tail 5 | Out-Null # warm (JIT)
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $tail = @(Get-UnicornContainerLog $script:Big -Tail 5)
        $watch.Stop()
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 1
        $tail.Count | Should -Be 5
        ($tail.Text[0..2] | ForEach-Object { $_.Substring(0, 11) }) | Should -Be 'line 299998', 'line 299999', 'line 300000'
        $tail.Text[3..4] | Should -Be 'last-out', 'last-err'
        (Get-UnicornContainerLog $script:Big -Tail 1 -Stream stdout).Text | Should -Be 'last-out'
    }

    It '-Tail across the rotated files gives the same as the end of everything' {
        $all = @(Get-UnicornContainerLog $script:Big)
        $tail = @(Get-UnicornContainerLog $script:Big -Tail 100000)
        $tail.Count | Should -Be 100000
        $tail.Text | Should -Be $all.Text[-100000..-1]
        (Get-Item (Join-Path (Get-LogDir $script:Big) 'container.log')).Length | Should -BeLessThan 2MB -Because 'the tail spans the rotated files'
    }

    It '-Since returns exactly the records from that time, in any file' {
        $all = @(Get-UnicornContainerLog $script:Big)
        foreach ($at in 0.02, 0.5, 0.97) {
            $since = $all[[int]($all.Count * $at)].Time
            $expected = @($all | Where-Object Time -ge $since)
            $got = @(Get-UnicornContainerLog $script:Big -Since $since)
            $got.Count | Should -Be $expected.Count
            $got[0].Text | Should -Be $expected[0].Text
            $got[-1].Text | Should -Be 'last-err'
        }
        $watch = [Diagnostics.Stopwatch]::StartNew()
        @(Get-UnicornContainerLog $script:Big -Since $all[-3].Time).Count | Should -BeGreaterOrEqual 3
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 1
        Get-UnicornContainerLog $script:Big -Since ([datetime]::UtcNow.AddMinutes(1)) | Should -BeNullOrEmpty
    }
}

Describe 'Following a rotated log' -Tag 'Root', 'Logs' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
    }

    It 'reads every line while container.log is renamed and made again' {
        # 4000 records of about 140 bytes: 8 rotations of 64 KiB, written in bursts of 100 lines
        # 50 ms apart. A follower gets what it has not read yet while the files that hold it
        # exist: it must not fall more than three files (about 0.7 s) behind (a first -Follow's
        # JIT could: warmed up first; a loaded machine did at two files and 20 ms).
        $warm = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, 'echo warm' -Detach
        $null = Get-UnicornContainerLog $warm -Follow
        $script = 'sleep 0.5; ' + (Get-LineScript 4000 -every 'if (i % 100 == 0) { fflush(); system("usleep 50000") }')
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, $script -LogMaxSize 64KB -LogMaxFiles 4 -Detach
        $lines = @(Get-UnicornContainerLog $c -Follow)
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Exited'
        $lines.Count | Should -Be 4000
        ($lines.Text | ForEach-Object { [int]$_.Substring(5, 6) }) | Should -Be (1..4000)
        @(Get-ChildItem (Get-LogDir $c) -Filter 'container.log*').Count | Should -Be 4
    }
}

Describe 'A full disk' -Tag 'Root', 'Logs' {
    BeforeAll {
        # The containers' data directories (their logs) on a small tmpfs of the test's own.
        $script:Disk = Join-Path $env:UNICORN_DATA_ROOT 'containers'
        New-Item -ItemType Directory -Path $script:Disk -Force | Out-Null
        & mount -t tmpfs -o size=2m unicorn-test-logs $script:Disk
        $LASTEXITCODE | Should -Be 0
        $script:Control = Join-Path $script:TestRoot 'control'
        New-Item -ItemType Directory -Path $script:Control | Out-Null
    }
    AfterAll {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        & umount $script:Disk
    }

    It 'drops whole lines while the disk is full, keeps the container running, and says how many were lost' {
        # Numbered lines, 50 every 10 ms, until told to stop.
        $script = 'i=0; while [ ! -e /control/stop ]; do j=0; while [ $j -lt 50 ]; do i=$((i+1)); j=$((j+1)); echo "line $i"; done; usleep 10000; done; echo done'
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sh, -c, $script -Volume "$($script:Control):/control" -LogMaxSize 0 -Detach
        Start-Sleep -Milliseconds 500
        # Fill what is left of the disk; the container goes on writing meanwhile.
        $filler = Join-Path $script:Disk 'filler'
        & dd if=/dev/zero of=$filler bs=64k 2>$null
        Start-Sleep -Milliseconds 700
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Running'
        Remove-Item $filler
        Start-Sleep -Milliseconds 500
        New-Item -ItemType File -Path (Join-Path $script:Control 'stop') | Out-Null
        $c = $c | Wait-UnicornContainer -Timeout 10
        $c.ExitCode | Should -Be 0

        Assert-WholeRecords $c
        $log = @(Get-UnicornContainerLog $c)
        $log[-1].Text | Should -Be 'done'
        $markers = @($log | Where-Object Stream -eq 'unicorn')
        $markers.Count | Should -BeGreaterOrEqual 1
        $at = [array]::IndexOf($log, $markers[0])
        $markers[0].Text | Should -Match '^(\d+) lines? lost: no space left on the log''s disk$'
        $lost = [int]($markers[0].Text -split ' ')[0]
        $lost | Should -BeGreaterThan 0
        # The lines around the gap: exactly the count missing, none glued to another.
        $before = [int]$log[$at - 1].Text.Substring(5)
        $after = [int]$log[$at + 1].Text.Substring(5)
        ($after - $before - 1) | Should -Be $lost
        $stdout = $log | Where-Object { $_.Stream -eq 'stdout' -and $_.Text -ne 'done' }
        $stdout.Text | ForEach-Object { $_ | Should -Match '^line \d+$' }
        # Only stdout lines, so the markers' counts add up to every number missing.
        $numbers = $stdout.Text | ForEach-Object { [int]$_.Substring(5) }
        $missing = $numbers[-1] - $numbers[0] + 1 - $numbers.Count
        ($markers.Text | ForEach-Object { [int]($_ -split ' ')[0] } | Measure-Object -Sum).Sum | Should -Be $missing
        # The marker also shows when one stream is asked for.
        @(Get-UnicornContainerLog $c -Stream stdout | Where-Object Stream -eq 'unicorn').Count | Should -Be $markers.Count
    }
}
