#Requires -Version 7.6
# Copy-UnicornItem: files and directories between the host and a container, running or exited.
# The container's side is hostile: its symbolic links (to /, to ../../.., to /proc/self/root, to
# host paths) must lead nowhere outside its root, in either direction, even while it swaps them.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest

    # The host's source tree: modes, a time of its own, a relative link, a FIFO.
    $script:Src = New-Item -ItemType Directory (Join-Path $TestRoot 'src') | ForEach-Object FullName
    Set-Content (Join-Path $Src 'a.txt') 'alpha' -NoNewline
    New-Item -ItemType Directory (Join-Path $Src 'sub') | Out-Null
    Set-Content (Join-Path $Src 'sub/b.txt') 'beta' -NoNewline
    chmod 0751 (Join-Path $Src 'a.txt')
    chmod 0700 (Join-Path $Src 'sub')
    $script:Mtime = ([DateTimeOffset]'2001-02-03T04:05:06Z').UtcDateTime
    touch -d '2001-02-03 04:05:06Z' (Join-Path $Src 'a.txt')
    ln -s ../a.txt (Join-Path $Src 'sub/link')
    mkfifo (Join-Path $Src 'fifo')

    # A host directory no copy may write into, and a host file no copy may read.
    $script:Marker = "UNICORN-HOST-SECRET-$([guid]::NewGuid().ToString('n'))"
    $script:HostDir = New-Item -ItemType Directory (Join-Path $TestRoot 'host-secret') | ForEach-Object FullName
    Set-Content (Join-Path $HostDir 'secret') $Marker -NoNewline

    function New-OutDir { New-Item -ItemType Directory (Join-Path $TestRoot "out-$([guid]::NewGuid().ToString('n').Substring(0, 8))") | ForEach-Object FullName }
    # mode uid mtime, and a link's target, of a path in the container.
    function Get-ContainerStat($Container, [string] $Path) { Invoke-UnicornCommand $Container -Command stat, -c, '%a %u %Y %F', $Path }
    function Get-HostEntry { Get-ChildItem $HostDir -Force -Recurse | ForEach-Object Name }
}

AfterAll { Complete-UnicornTest }

Describe 'Copy-UnicornItem with a <State> container' -ForEach @(
    @{ State = 'running' }
    @{ State = 'exited' }
) {
    BeforeAll {
        $script:C = New-UnicornRootfs | Start-UnicornContainer -Name "cp-$State" -Detach -Command sh, -c, (
            'mkdir /links && cd /links && ln -s / toroot && ln -s ../../.. up && ln -s /proc/self/root procroot && ' +
            "ln -s /etc etclink && ln -s '$HostDir' hostlink && echo ready > /ready && exec sleep 1000")
        foreach ($i in 1..100) { if (Test-Path "$($C.Rootfs)/ready") { break }; Start-Sleep -Milliseconds 50 }
        if ($State -eq 'exited') { $script:C = $C | Stop-UnicornContainer -PassThru }
        $C.State | Should -Be ($State -eq 'running' ? 'Running' : 'Exited')
        # What the container's root holds, read from the host (its overlay's merged view).
        $script:CRoot = $C.Rootfs
        function Get-InContainer([string] $Path) { Get-Item -Force (Join-Path $CRoot $Path) }
    }
    AfterAll { $C | Remove-UnicornContainer -Force }

    It 'copies a directory in, recursively: modes, times, links as links; the FIFO is skipped with a warning' {
        $made = Copy-UnicornItem $Src "cp-${State}:/tmp/" -PassThru -WarningVariable warnings -WarningAction SilentlyContinue
        $made | Should -HaveCount 1
        $made.GetType().Name | Should -Be 'ContainerItem'
        $made.Path | Should -Be '/tmp/src'
        $made.ItemType | Should -Be 'Directory'
        $made.UnixMode | Should -Be 'drwxr-xr-x'
        "$made" | Should -Be "cp-${State}:/tmp/src"
        $warnings | Should -HaveCount 1
        "$warnings" | Should -BeLike "*src/fifo' is a FIFO: not copied*"
        $a = Get-InContainer tmp/src/a.txt
        $a.UnixMode | Should -Be '-rwxr-x--x'
        $a.LastWriteTimeUtc | Should -Be $Mtime
        Get-Content $a.FullName -Raw | Should -Be 'alpha'
        (Get-InContainer tmp/src/sub).UnixMode | Should -Be 'drwx------'
        (Get-InContainer tmp/src/sub/link).LinkTarget | Should -Be '../a.txt'
        Test-Path (Join-Path $CRoot tmp/src/fifo) | Should -BeFalse
        if ($State -eq 'running') {
            Get-ContainerStat $C /tmp/src/a.txt | Should -Be "751 0 $(([DateTimeOffset]$Mtime).ToUnixTimeSeconds()) regular file" -Because 'the container sees the copy'
        }
    }

    It 'copies a file out, with its mode and time, as a file of the caller''s' {
        $out = New-OutDir
        $made = Copy-UnicornItem "cp-${State}:/tmp/src/a.txt" "$out/copy.txt" -PassThru
        $made.FullName | Should -Be "$out/copy.txt"
        $made.UnixMode | Should -Be '-rwxr-x--x'
        $made.LastWriteTimeUtc | Should -Be $Mtime
        Get-Content "$out/copy.txt" -Raw | Should -Be 'alpha'
    }

    It 'copies a directory out into an existing directory, and its content only with dir/.' {
        $out = New-OutDir
        Copy-UnicornItem "cp-${State}:/tmp/src" $out
        (Get-Item "$out/src/sub/link").LinkTarget | Should -Be '../a.txt'
        (Get-Item "$out/src/sub").UnixMode | Should -Be 'drwx------'
        $content = New-OutDir
        Copy-UnicornItem "cp-${State}:/tmp/src/." $content
        (Get-ChildItem $content -Name | Sort-Object) -join ',' | Should -Be 'a.txt,sub'
    }

    It 'refuses to overwrite without -Force (DestinationExists), and overwrites with it' {
        Set-Content (Join-Path $TestRoot 'new.txt') 'new' -NoNewline
        { Copy-UnicornItem (Join-Path $TestRoot 'new.txt') "cp-${State}:/tmp/src/a.txt" -ErrorAction Stop } |
            Should -Throw -ErrorId 'DestinationExists,Unicorn.Commands.CopyUnicornItemCommand'
        Get-Content (Join-Path $CRoot tmp/src/a.txt) -Raw | Should -Be 'alpha'
        Copy-UnicornItem (Join-Path $TestRoot 'new.txt') "cp-${State}:/tmp/src/a.txt" -Force
        Get-Content (Join-Path $CRoot tmp/src/a.txt) -Raw | Should -Be 'new'
        Copy-UnicornItem (Join-Path $TestRoot 'new.txt') "cp-${State}:/tmp/src/a.txt" -Force -Archive # back as it was for the next tests
        Copy-UnicornItem (Join-Path $Src 'a.txt') "cp-${State}:/tmp/src/a.txt" -Force
    }

    It 'takes a piped container with -ToContainer and -FromContainer' {
        $made = $C | Copy-UnicornItem (Join-Path $Src 'sub/b.txt') /b.txt -ToContainer -PassThru
        $made.ContainerId | Should -Be $C.Id
        $out = New-OutDir
        Get-UnicornContainer "cp-$State" | Copy-UnicornItem /b.txt $out -FromContainer
        Get-Content "$out/b.txt" -Raw | Should -Be 'beta'
    }

    It 'copies nothing with -WhatIf' {
        $out = New-OutDir
        Copy-UnicornItem "cp-${State}:/tmp/src" "$out/x" -WhatIf
        Copy-UnicornItem $Src "cp-${State}:/whatif" -WhatIf
        Test-Path "$out/x" | Should -BeFalse
        Test-Path (Join-Path $CRoot whatif) | Should -BeFalse
    }

    It 'writes into the container through a link to <Link>, never to the host' -ForEach @(
        @{ Link = '/etc'; Path = 'links/etclink/'; Lands = 'etc' }
        @{ Link = '/'; Path = 'links/toroot/tmp/'; Lands = 'tmp' }
        @{ Link = '../../..'; Path = 'links/up/'; Lands = '' }
    ) {
        $name = "unicorn-cp-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        Set-Content (Join-Path $TestRoot $name) 'inside' -NoNewline
        Copy-UnicornItem (Join-Path $TestRoot $name) "cp-${State}:/$Path"
        Get-Content (Join-Path $CRoot "$Lands/$name") -Raw | Should -Be 'inside'
        Test-Path "/$Lands/$name" | Should -BeFalse -Because 'the host''s own directory is not the container''s'
    }

    It 'does not write through /proc/self/root, nor through a link to a host path' {
        Set-Content (Join-Path $TestRoot 'probe.txt') 'x'
        { Copy-UnicornItem (Join-Path $TestRoot 'probe.txt') "cp-${State}:/links/procroot/tmp/" -ErrorAction Stop } | Should -Throw
        { Copy-UnicornItem (Join-Path $TestRoot 'probe.txt') "cp-${State}:/links/hostlink/" -ErrorAction Stop } |
            Should -Throw -ErrorId 'DestinationNotFound,Unicorn.Commands.CopyUnicornItemCommand'
        Get-HostEntry | Should -Be 'secret'
    }

    It 'copies the link <Name> out as a link, never what it points to' -ForEach @(
        @{ Name = 'toroot'; Target = '/' }
        @{ Name = 'up'; Target = '../../..' }
        @{ Name = 'procroot'; Target = '/proc/self/root' }
        @{ Name = 'hostlink'; Target = '<host>' }
    ) {
        $out = New-OutDir
        $made = Copy-UnicornItem "cp-${State}:/links/$Name" $out -PassThru
        $made.LinkTarget | Should -Be ($Target -eq '<host>' ? $HostDir : $Target)
        (Get-Item "$out/$Name").LinkType | Should -Be 'SymbolicLink'
        @(Get-ChildItem $out -Force) | Should -HaveCount 1
    }

    It 'resolves a path through a link inside the root: /links/toroot/etc/hostname is the container''s' {
        $out = New-OutDir
        Copy-UnicornItem "cp-${State}:/links/toroot/etc/hostname" "$out/hostname"
        # Running, the container's own /etc/hostname (a bind its root shows); exited, the rootfs's file.
        Get-Content "$out/hostname" -Raw | Should -Be ($State -eq 'running' ? "$($C.Hostname)`n" : (Get-Content (Join-Path $CRoot etc/hostname) -Raw))
        Copy-UnicornItem "cp-${State}:/links/hostlink/" $out/h -ErrorAction SilentlyContinue -ErrorVariable e
        "$($e[0].FullyQualifiedErrorId)" | Should -BeLike 'ItemNotFound,*'
        Test-Path "$out/h" | Should -BeFalse
    }

    It 'says what is wrong: <ErrorId>' -ForEach @(
        @{ From = 'cp-{0}:/nope'; To = '<out>/x'; ErrorId = 'ItemNotFound' }
        @{ From = '<src>/a.txt'; To = 'cp-{0}:/nodir/x'; ErrorId = 'DestinationNotFound' }
        @{ From = '<src>'; To = 'cp-{0}:/etc/passwd'; ErrorId = 'DestinationNotDirectory' }
        @{ From = '<src>'; To = 'no-such-container:/'; ErrorId = 'ContainerNotFound' }
        @{ From = '<src>'; To = '<out>/y'; ErrorId = 'InvalidCopyPath' }
        @{ From = 'cp-{0}:/etc'; To = 'cp-{0}:/tmp'; ErrorId = 'InvalidCopyPath' }
    ) {
        $out = New-OutDir
        $from = ($From -f $State).Replace('<src>', $Src).Replace('<out>', $out)
        $to = ($To -f $State).Replace('<src>', $Src).Replace('<out>', $out)
        { Copy-UnicornItem $from $to -ErrorAction Stop } | Should -Throw -ErrorId "$ErrorId,Unicorn.Commands.CopyUnicornItemCommand"
        @(Get-ChildItem $out) | Should -HaveCount 0
    }
}

Describe 'Copy-UnicornItem and what only a running container has' {
    AfterEach { Get-UnicornContainer | Remove-UnicornContainer -Force }

    It 'copies into a volume, as the container sees its tree' {
        $vol = New-OutDir
        $c = New-UnicornRootfs | Start-UnicornContainer -Detach -Volume "${vol}:/data" -Command sleep, 1000
        Copy-UnicornItem (Join-Path $Src 'a.txt') "$($c.Name):/data/"
        Get-Content "$vol/a.txt" -Raw | Should -Be 'alpha'
    }

    It 'says DestinationReadOnly for a container started with -ReadOnly, and copies once it is stopped' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Detach -ReadOnly -Command sleep, 1000
        { Copy-UnicornItem (Join-Path $Src 'a.txt') "$($c.Name):/" -ErrorAction Stop } |
            Should -Throw -ErrorId 'DestinationReadOnly,Unicorn.Commands.CopyUnicornItemCommand'
        $c | Stop-UnicornContainer -Timeout 0
        Copy-UnicornItem (Join-Path $Src 'a.txt') "$($c.Name):/"
        Get-Content "$($c.Rootfs)/a.txt" -Raw | Should -Be 'alpha'
    }

    It 'stops at -MaxSize (CopyTooLarge), and removes what it made on the host' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Detach -Command sh, -c, 'mkdir /big && head -c 300000 /dev/zero > /big/f1 && head -c 300000 /dev/zero > /big/f2 && exec sleep 1000'
        foreach ($i in 1..100) { if ((Get-Item "$($c.Rootfs)/big/f2" -ErrorAction Ignore).Length -eq 300000) { break }; Start-Sleep -Milliseconds 50 }
        $out = New-OutDir
        { Copy-UnicornItem "$($c.Name):/big" "$out/big" -MaxSize 500000 -ErrorAction Stop } |
            Should -Throw -ErrorId 'CopyTooLarge,Unicorn.Commands.CopyUnicornItemCommand'
        Test-Path "$out/big" | Should -BeFalse
        Copy-UnicornItem "$($c.Name):/big" "$out/big" -MaxSize 600000
        (Get-ChildItem "$out/big" | Measure-Object Length -Sum).Sum | Should -Be 600000
    }
}

Describe 'Copy-UnicornItem while the container swaps a directory for a link to the host' {
    BeforeAll {
        # A rootfs with the probe, whose "swap" exchanges two names over and over (renameat2).
        $script:Root = Copy-DefaultRootfs copy-race-rootfs
        cc -O2 -static -Wall -Wextra -Werror -o (Join-Path $Root 'bin/probe') (Join-Path $PSScriptRoot 'probe/probe.c')
        if ($LASTEXITCODE -ne 0) { throw 'Building the probe failed.' }
    }
    AfterEach { Get-UnicornContainer | Remove-UnicornContainer -Force; Get-UnicornRootfs | Remove-UnicornRootfs }

    It 'never writes into the host directory, nor copies a byte of the host file out' {
        # /race/dir is, at any moment, the container's directory or a link to the host's.
        $c = New-UnicornRootfs -Path $Root | Start-UnicornContainer -Detach -Command sh, -c, (
            "mkdir /race && cd /race && mkdir dir && echo decoy > dir/secret && ln -s '$HostDir' dirlink && " +
            "echo decoy > file && ln -s '$HostDir/secret' link && exec probe swap dir dirlink file link")
        foreach ($i in 1..100) { if ((Get-UnicornContainerLog $c).Text -contains 'swapping') { break }; Start-Sleep -Milliseconds 50 }
        $outcomes = foreach ($i in 1..40) {
            $out = New-OutDir
            try { Copy-UnicornItem $Src "$($c.Name):/race/dir/" -Force -WarningAction SilentlyContinue -ErrorAction Stop; 'in' } catch { "in: $($_.FullyQualifiedErrorId)" }
            try { Copy-UnicornItem "$($c.Name):/race" $out -ErrorAction Stop; 'out' } catch { "out: $($_.FullyQualifiedErrorId)" }
            # (A link copied out is a link, to wherever the container pointed it: only files are read.)
            Get-ChildItem $out -Recurse -File | Where-Object { -not $_.LinkType -and (Get-Content $_.FullName -Raw) -like "*$Marker*" } | ForEach-Object { "leak: $($_.FullName)" }
        }
        $outcomes | Where-Object { $_ -like 'leak:*' } | Should -BeNullOrEmpty -Because 'no copy out may hold a byte of the host''s file'
        Get-HostEntry | Should -Be 'secret' -Because 'no copy in may write to the host''s directory'
        Get-Content (Join-Path $HostDir 'secret') -Raw | Should -Be $Marker
        $outcomes | Where-Object { $_ -eq 'out' } | Should -HaveCount 40 -Because 'a copy out reads the names as they are, links as links'
        $outcomes | Where-Object { $_ -eq 'in' } | Should -Not -BeNullOrEmpty -Because 'some copies in found the container''s directory'
        (Get-UnicornContainer -Id $c.Id).State | Should -Be 'Running' -Because 'the swapping went on all along'
    }
}
