#Requires -Version 7.6
# A container's files are the attacker's: the host reads them while the container may change them.
# These tests play the attacker: a container that swaps files for symbolic links to host files,
# or for FIFOs, while Export-UnicornRootfs reads them; an /etc/passwd that leads out of the rootfs
# or blocks; and the calls the default seccomp filter must refuse (personality, AF_VSOCK).

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest
    # A rootfs directory with the probe (probe/probe.c) in it.
    $script:Root = Copy-DefaultRootfs hostile-rootfs
    cc -O2 -static -Wall -Wextra -Werror -o (Join-Path $Root 'bin/probe') (Join-Path $PSScriptRoot 'probe/probe.c')
    if ($LASTEXITCODE -ne 0) { throw 'Building the probe failed.' }

    # Host files a container must never get at: a marker only they hold.
    $script:Marker = "UNICORN-HOST-SECRET-$([guid]::NewGuid().ToString('n'))"
    $script:HostDir = New-Item -ItemType Directory (Join-Path $TestRoot 'host-secret') | ForEach-Object FullName
    Set-Content (Join-Path $HostDir 'secret') $Marker -NoNewline
    Set-Content (Join-Path $HostDir 'passwd') "root:x:0:0:root:/root:/bin/sh`nintruder:x:4242:4242::/:/bin/sh"
    Set-Content (Join-Path $HostDir 'group') "root:x:0:`nintruders:x:4242:intruder"

    # Runs $Script on another thread, with the module's path, a flag it should stop at (.Stop)
    # and $ArgumentList; fails if it takes more than $Seconds. Then a thread blocked in open()
    # on a FIFO is let go by opening the FIFOs among $Unblock, until it ends: a failure must
    # not hang the run.
    function Invoke-Bounded([scriptblock] $Script, [object[]] $ArgumentList = @(), [int] $Seconds = 60, [string[]] $Unblock = @()) {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $stop = [hashtable]::Synchronized(@{ Stop = $false })
        $job = Start-ThreadJob -ScriptBlock $Script -ArgumentList (@($script:ModulePath, $stop) + $ArgumentList)
        if (Wait-Job $job -Timeout $Seconds) {
            $output = @(Receive-Job $job)
            Remove-Job $job
            return [pscustomobject]@{ Output = $output; Seconds = $watch.Elapsed.TotalSeconds }
        }
        $stop.Stop = $true
        foreach ($i in 1..300) {
            if ($job.State -ne 'Running') { break }
            timeout 2 bash -c 'for f; do [ -p "$f" ] && { exec 3<>"$f"; exec 3>&-; }; done; true' unblock @Unblock
            Start-Sleep -Milliseconds 100
        }
        if ($job.State -ne 'Running') { Remove-Job $job -Force }
        throw "Still running after $Seconds s: blocked (on a FIFO?)."
    }

    # The names of a tar's entries (without a trailing slash); it must read to its end.
    function Get-TarName([string] $Path) {
        $reader = [System.Formats.Tar.TarReader]::new([IO.File]::OpenRead($Path))
        try { while ($e = $reader.GetNextEntry()) { $e.Name.TrimEnd('/') } }
        finally { $reader.Dispose() }
    }

    function Wait-Log([object] $Container, [string] $Line) {
        foreach ($i in 1..100) {
            if ((Get-UnicornContainerLog $Container).Text -contains $Line) { return }
            Start-Sleep -Milliseconds 100
        }
        throw "The container never wrote '$Line': $((Get-UnicornContainerLog $Container).Text)"
    }
}

AfterAll {
    Get-UnicornContainer | Remove-UnicornContainer -Force
    Get-UnicornRootfs | Remove-UnicornRootfs
    Complete-UnicornTest
}

Describe 'Export-UnicornRootfs of a container that changes its files meanwhile' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Remove-UnicornRootfs
    }

    It 'never puts a host file in the tar, while the container swaps a file and a directory for symbolic links to host ones' {
        # renameat2(RENAME_EXCHANGE) in a tight loop: each name is, at any moment, either the
        # container's own file (or directory) or a symbolic link to the host's.
        $c = New-UnicornRootfs -Path $Root | Start-UnicornContainer -Command sh, -c, (
            "mkdir /race && cd /race && echo decoy > file && ln -s '$HostDir/secret' link && mkdir dir && echo decoy > dir/secret && " +
            "ln -s '$HostDir' dirlink && exec probe swap file link dir dirlink")
        Wait-Log $c 'swapping'
        $run = Invoke-Bounded -Seconds 240 -ArgumentList $c.RootfsId, $TestRoot {
            param($module, $stop, $rootfsId, $dir)
            Import-Module $module
            foreach ($i in 1..8) {
                foreach ($diff in $false, $true) {
                    if ($stop.Stop) { return }
                    $tar = Join-Path $dir "race-$i-$diff.tar"
                    try { $null = Export-UnicornRootfs -Id $rootfsId -Path $tar -Diff:$diff -ErrorAction Stop; $tar }
                    catch { "error: $_" }
                }
            }
        }
        $errors = $run.Output | Where-Object { $_ -like 'error: *' }
        $leaks = $run.Output | Where-Object { $_ -notlike 'error: *' } | Where-Object { [IO.File]::ReadAllText($_, [Text.Encoding]::Latin1).Contains($Marker) }
        $leaks | Should -BeNullOrEmpty -Because 'no tar may hold a byte of the host''s file'
        $errors | Should -BeNullOrEmpty
        $run.Output | Should -HaveCount 16
        (Get-UnicornContainer | Where-Object Id -eq $c.Id).State | Should -Be 'Running' -Because 'the swapping went on all along'
        foreach ($tar in $run.Output) {
            $names = Get-TarName $tar
            foreach ($n in 'race/file', 'race/link', 'race/dir', 'race/dirlink') { $names | Should -Contain $n -Because "every name is there in $tar" }
            Remove-Item $tar
        }
    }

    It 'records a FIFO without opening it, and does not hang on a file the container swaps for a FIFO' {
        $c = New-UnicornRootfs -Path $Root | Start-UnicornContainer -Command sh, -c, (
            'mkdir /race && cd /race && mkfifo still && echo decoy > file && mkfifo fifo && exec probe swap file fifo')
        Wait-Log $c 'swapping'
        $r = Get-UnicornRootfs $c.RootfsId
        $fifos = foreach ($d in $r.Path, $r.UpperDir) { "$d/race/file"; "$d/race/fifo" }
        $run = Invoke-Bounded -Seconds 120 -ArgumentList $c.RootfsId, $TestRoot -Unblock $fifos {
            param($module, $stop, $rootfsId, $dir)
            Import-Module $module
            foreach ($i in 1..8) {
                foreach ($diff in $false, $true) {
                    if ($stop.Stop) { return }
                    $tar = Join-Path $dir "fifo-$i-$diff.tar"
                    $null = Export-UnicornRootfs -Id $rootfsId -Path $tar -Diff:$diff -ErrorAction Stop
                    $tar
                }
            }
        }
        $run.Output | Should -HaveCount 16
        foreach ($tar in $run.Output) {
            $reader = [System.Formats.Tar.TarReader]::new([IO.File]::OpenRead($tar))
            $types = @{}
            try { while ($e = $reader.GetNextEntry()) { $types[$e.Name] = $e.EntryType } } finally { $reader.Dispose() }
            $types['race/still'] | Should -Be 'Fifo'
            # Each name is read at its own moment: either may be the FIFO or the file then.
            foreach ($n in 'race/file', 'race/fifo') { $types[$n] | Should -BeIn 'Fifo', 'RegularFile' }
            Remove-Item $tar
        }
    }

    It 'writes the tar through a temporary file no one could make beforehand' {
        # A symbolic link where a predictable temporary name would be (a volume the container
        # writes to, say) must not be followed: the host file it names stays as it was.
        $victim = Join-Path $TestRoot 'victim'
        Set-Content $victim 'untouched'
        $out = New-Item -ItemType Directory (Join-Path $TestRoot 'export-out') | ForEach-Object FullName
        ln -s $victim (Join-Path $out 'rootfs.tar.tmp')
        $r = New-UnicornRootfs -Path $Root
        $file = $r | Export-UnicornRootfs -Path (Join-Path $out 'rootfs.tar')
        $file.Length | Should -BeGreaterThan 1MB
        Get-Content $victim | Should -Be 'untouched'
        (Get-ChildItem $out -Force).Name | Sort-Object | Should -Be 'rootfs.tar', 'rootfs.tar.tmp' -Because 'the temporary file is gone, and the link left alone'
        Remove-Item $out -Recurse -Force
    }
}

Describe 'The user database of a hostile rootfs' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Remove-UnicornRootfs
    }

    It 'does not follow <Case> out of the rootfs' -ForEach @(
        @{ Case = 'an /etc/passwd linked to a host file'; Setup = { param($m, $h) ln -sfn "$h/passwd" "$m/etc/passwd" } }
        @{ Case = 'an /etc/passwd linked with ../ past the root'; Setup = { param($m, $h) ln -sfn ('../' * 12 + $h.TrimStart('/') + '/passwd') "$m/etc/passwd" } }
        @{ Case = 'an /etc linked to a host directory'; Setup = { param($m, $h) Remove-Item "$m/etc" -Recurse -Force; ln -s $h "$m/etc" } }
    ) {
        $r = New-UnicornRootfs -Path $Root
        $null = & $Setup $r.Path $HostDir
        { $r | Start-UnicornContainer -User intruder -Command id -Wait -ErrorAction Stop } |
            Should -Throw -ErrorId 'UserNotFound,Unicorn.Commands.StartUnicornContainerCommand'
        { $r | Start-UnicornContainer -User 0:intruders -Command id -Wait -ErrorAction Stop } |
            Should -Throw -ErrorId 'GroupNotFound,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornContainer | Should -BeNullOrEmpty
    }

    It 'follows a symbolic link that stays inside the rootfs, as Docker does' {
        $r = New-UnicornRootfs -Path $Root
        Set-Content "$($r.Path)/etc/passwd.real" "root:x:0:0:root:/root:/bin/sh`ninsider:x:4343:4344::/:/bin/sh"
        ln -sfn /etc/passwd.real "$($r.Path)/etc/passwd"
        $c = $r | Start-UnicornContainer -User insider -Wait -Command sh, -c, 'id -u; id -g'
        (Get-UnicornContainerLog $c).Text | Should -Be '4343', '4344'
    }

    It 'refuses <Case> as /etc/passwd at once, with <ErrorId>' -ForEach @(
        @{ Case = 'a FIFO'; ErrorId = 'UserDatabaseUnusable'; Setup = { param($p) mkfifo $p } }
        @{ Case = 'a device'; ErrorId = 'UserDatabaseUnusable'; Setup = { param($p) mknod $p c 1 3 } }
        @{ Case = 'a directory'; ErrorId = 'UserDatabaseUnusable'; Setup = { param($p) mkdir $p } }
        @{ Case = 'a file of 5 MiB'; ErrorId = 'UserDatabaseTooLarge'; Setup = { param($p) Set-Content $p 'root:x:0:0:root:/root:/bin/sh'; truncate -s 5M $p } }
    ) {
        $r = New-UnicornRootfs -Path $Root
        $passwd = "$($r.Path)/etc/passwd"
        Remove-Item $passwd
        & $Setup $passwd
        $run = Invoke-Bounded -Seconds 30 -Unblock $passwd -ArgumentList $r {
            param($module, $stop, $rootfs)
            Import-Module $module
            try { $null = $rootfs | Start-UnicornContainer -User root -Command true -Wait -ErrorAction Stop; 'started' }
            catch { $_.FullyQualifiedErrorId; $_.Exception.Message }
        }
        $run.Output[0] | Should -Be "$ErrorId,Unicorn.Commands.StartUnicornContainerCommand"
        $run.Output[1] | Should -Match '/etc/passwd'
        $run.Seconds | Should -BeLessThan 10
    }

    It 'refuses, at once, Invoke-UnicornCommand in a container that made its /etc/passwd a FIFO' {
        $c = New-UnicornRootfs -Path $Root | Start-UnicornContainer -User 0 -Command sh, -c, 'rm /etc/passwd && mkfifo /etc/passwd && echo ready && exec sleep 60'
        Wait-Log $c 'ready'
        $passwd = "$((Get-UnicornRootfs $c.RootfsId).Path)/etc/passwd"
        $run = Invoke-Bounded -Seconds 30 -Unblock $passwd -ArgumentList $c.Id {
            param($module, $stop, $id)
            Import-Module $module
            try { Invoke-UnicornCommand $id -Command true -ErrorAction Stop; 'ran' }
            catch { $_.FullyQualifiedErrorId }
        }
        $run.Output | Should -Be 'UserDatabaseUnusable,Unicorn.Commands.InvokeUnicornCommandCommand'
        $run.Seconds | Should -BeLessThan 10
    }
}

Describe 'The default seccomp filter' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Remove-UnicornRootfs
    }

    It 'allows personality only with Docker''s values, and refuses AF_VSOCK sockets (<Case>)' -ForEach @(
        @{ Case = 'default capabilities'; Extra = @{} }
        @{ Case = 'with CAP_SYS_ADMIN, which lifts the namespace checks'; Extra = @{ CapAdd = 'SYS_ADMIN' } }
    ) {
        $c = New-UnicornRootfs -Path $Root | Start-UnicornContainer -Wait @Extra -Command probe, personality_query, personality_linux32, personality_linux,
            personality_rie, personality_rie_high, vsock, inet
        (Get-UnicornContainerLog $c).Text | Should -Be 'personality_query ok', 'personality_linux32 ok', 'personality_linux ok',
            'personality_rie EPERM', 'personality_rie_high EPERM', 'vsock EPERM', 'inet ok'
    }
}
