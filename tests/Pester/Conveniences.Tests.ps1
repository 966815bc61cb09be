#Requires -Version 7.6
# What a person sees: tables at 80 columns, JSON, progress, and messages that say what to do.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest

    # Runs a script in a runspace of its own (the module imported, this run's roots) and returns
    # its output and its progress records.
    function Invoke-Watched([scriptblock] $Script, [object[]] $Arguments = @()) {
        $ps = [powershell]::Create()
        try {
            [void]$ps.AddScript("Import-Module '$script:ModulePath'").AddStatement().AddScript($Script)
            foreach ($a in $Arguments) { [void]$ps.AddArgument($a) }
            $output = $ps.Invoke()
            [pscustomobject]@{ Output = $output; Progress = @($ps.Streams.Progress); Errors = @($ps.Streams.Error) }
        }
        finally { $ps.Dispose() }
    }
}

AfterAll { Complete-UnicornTest }

Describe 'Tables at 80 columns, and JSON' -Tag 'Root' {
    BeforeAll {
        # An image named as Docker Hub's are, from a tarball of the default rootfs.
        $default = New-UnicornRootfs
        $script:Tarball = Join-Path $script:TestRoot 'debian.tar'
        tar -C $default.LowerDir -cf $Tarball .
        $default | Remove-UnicornRootfs
        $script:Image = Import-UnicornImage $Tarball -Name docker.io/library/debian:12
        $null = Import-UnicornImage $Tarball -Name debian:local # the same image: a second name
    }
    AfterAll {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornImage | Remove-UnicornImage -Force
    }

    It 'shows a default name and an image reference whole, with a Ports column' {
        $c = Get-UnicornImage docker.io/library/debian:12 | New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 100
        $c.Name.Length | Should -Be 12
        $table = Get-UnicornContainer $c.Name | Format-Table | Out-String -Width 80
        $lines = $table -split "`n" | Where-Object { $_.Trim() }
        $lines[0] | Should -Match '^Id\s+Name\s+Image\s+State\s+Ports$'
        $row = $lines | Where-Object { $_.StartsWith($c.ShortId) }
        $row | Should -Match ([regex]::Escape("$($c.ShortId) $($c.Name)"))
        $row | Should -Match ([regex]::Escape(' docker.io/library/debian:12 '))
        $row | Should -Match 'Running'
        $lines | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 }
    }

    It 'shows every name of an image' {
        (Get-UnicornImage debian:local).Id | Should -Be $Image.Id
        $table = Get-UnicornImage debian:local | Format-Table | Out-String -Width 80
        $table | Should -Match ([regex]::Escape('docker.io/library/debian:12'))
        $table | Should -Match ([regex]::Escape('debian:local'))
        $table -split "`n" | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 }
    }

    It 'writes State, and every other enum of the module, as a name in JSON' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Command /bin/sleep, 100
        ($c | ConvertTo-Json -Depth 1) | Should -Match '"State": "Running"'
        (Get-UnicornContainer $c.Id | ConvertTo-Json -Depth 1 | ConvertFrom-Json).State | Should -Be 'Running'
        $enums = [Unicorn.Container].Assembly.GetExportedTypes() | Where-Object IsEnum
        $enums | Should -Not -BeNullOrEmpty
        foreach ($enum in $enums) {
            $value = [Enum]::GetValues($enum) | Select-Object -Last 1
            [pscustomobject]@{ V = $value } | ConvertTo-Json -Compress | Should -Be "{`"V`":`"$value`"}" -Because "$($enum.FullName) is written by name"
        }
    }

    It 'leaves Pids empty where there is no pids cgroup, and shows a live change at once' {
        $c = New-UnicornRootfs | Start-UnicornContainer -Name busy-loop -Command /bin/sh, -c, 'while :; do :; done' -Memory 64MB -Cpus 1
        $cg = Get-UnicornCgroup $c
        $cg.Pids | Should -BeNullOrEmpty
        $row = ($cg | Format-Table | Out-String -Width 80) -split "`n" | Where-Object { $_.StartsWith('busy-loop') }
        $row | Should -Not -Match '/'
        $row | Should -Match '64MB'

        $null = $c | Set-UnicornCgroup -Memory 128MB -Cpus 0.3
        $cg = Get-UnicornCgroup $c -SampleInterval 1000
        $cg.MemoryLimit | Should -Be 128MB
        $cg.CpuLimit | Should -Be 0.3
        $cg.CpuPercent | Should -BeLessOrEqual 40 -Because 'the new quota holds from the change on'
        ($cg | Format-Table | Out-String -Width 80) -split "`n" | Where-Object { $_.StartsWith('busy-loop') } | Should -Match '128MB.*\b0\.3\b'
    }
}

Describe 'Progress' -Tag 'Root' {
    AfterAll { Get-UnicornContainer | Remove-UnicornContainer -Force }

    It 'reports an import by bytes during its layer' {
        $dir = New-Item -ItemType Directory (Join-Path $script:TestRoot 'big')
        $bytes = [byte[]]::new(8MB); [Random]::new(1).NextBytes($bytes)
        [IO.File]::WriteAllBytes("$dir/blob", $bytes)
        $tar = Join-Path $script:TestRoot 'big.tar'
        tar -C $dir -cf $tar .
        $r = Invoke-Watched { param($t) Import-UnicornImage $t -Name big:1 } $tar
        $r.Errors | Should -BeNullOrEmpty
        $during = $r.Progress | Where-Object StatusDescription -Match '^Layer 1 of 1: [\d.]+ MiB of 8\.0 MiB read$'
        $during.Count | Should -BeGreaterOrEqual 4
        $during[0].PercentComplete | Should -BeLessThan 50
        ($r.Progress | Where-Object RecordType -eq Completed) | Should -Not -BeNullOrEmpty
        Get-UnicornImage big:1 | Remove-UnicornImage
    }

    It 'shows "n of N stopped" from the start of a stop of many, and "n of N exited" for a wait' {
        1..3 | ForEach-Object { New-UnicornRootfs | Start-UnicornContainer -Name "stopme-$_" -Command /bin/sleep, 1000 }
        $r = Invoke-Watched { Stop-UnicornContainer 'stopme-*' -Timeout 1 -PassThru }
        $r.Output.Count | Should -Be 3
        $status = @($r.Progress | Where-Object RecordType -ne Completed | ForEach-Object StatusDescription)
        $status[0] | Should -BeLike '0 of 3 stopped*' -Because 'the bar shows while the first timeout runs'
        $status[-1] | Should -BeLike '3 of 3 stopped*'

        1..2 | ForEach-Object { New-UnicornRootfs | Start-UnicornContainer -Name "waitme-$_" -Command /bin/sleep, 1 }
        $r = Invoke-Watched { Wait-UnicornContainer 'waitme-*' }
        $r.Output.Count | Should -Be 2
        $status = @($r.Progress | Where-Object RecordType -ne Completed | ForEach-Object StatusDescription)
        $status[0] | Should -Be '0 of 2 exited'
        $status[-1] | Should -Be '2 of 2 exited'
    }
}

Describe 'Messages, wildcards and piped names' -Tag 'Root' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Remove-UnicornRootfs
    }

    It 'says that Unicorn needs root, before it touches anything' {
        # An unprivileged user (nobody); it keeps only the right to read files, so that it can
        # load pwsh and the module wherever they are (under /root, for instance).
        $homeDir = New-Item -ItemType Directory (Join-Path $script:TestRoot 'nobody-home'); chmod 1777 $homeDir
        $state = Join-Path $script:TestRoot 'nobody-state'
        $exe = (Get-Process -Id $PID).Path
        $prefix = @(if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { [Environment]::GetCommandLineArgs()[0] })
        $command = "Import-Module '$script:ModulePath'; try { New-UnicornRootfs -ErrorAction Stop } catch { `$_.FullyQualifiedErrorId; `$_.CategoryInfo.Category; `$_.Exception.Message }"
        $out = setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+dac_read_search --ambient-caps=+dac_read_search `
            env "HOME=$homeDir" "UNICORN_STATE_ROOT=$state" "UNICORN_DATA_ROOT=$state-data" $exe @prefix -NoProfile -NonInteractive -Command $command
        $out[0] | Should -Be 'RootRequired,Unicorn.Commands.NewUnicornRootfsCommand'
        $out[1] | Should -Be 'PermissionDenied'
        $out[2] | Should -Match 'Unicorn needs root'
        Test-Path $state, "$state-data" | Should -Be $false, $false
    }

    It 'says that a -Path is a file, and what to do with it' {
        $file = New-Item (Join-Path $script:TestRoot 'rootfs.tar') -Value 'x'
        $e = { New-UnicornRootfs -Path $file -ErrorAction Stop } | Should -Throw -ErrorId 'RootfsSourceIsFile,Unicorn.Commands.NewUnicornRootfsCommand' -PassThru
        $e.Exception.Message | Should -Match 'is a file'
        $e.Exception.Message | Should -Match 'Import-UnicornImage'
        Get-UnicornRootfs | Should -BeNullOrEmpty
    }

    It 'suggests the array form for a command string with spaces that is not found' {
        $e = { New-UnicornRootfs | Start-UnicornContainer -Command 'echo hi' -Wait -ErrorAction Stop } |
            Should -Throw -ErrorId 'ExecutableNotFound,Unicorn.Commands.StartUnicornContainerCommand' -PassThru
        $e.Exception.Message | Should -Match ([regex]::Escape("-Command 'echo', 'hi'"))
        $e.Exception.Message | Should -Match ([regex]::Escape("-Command /bin/sh, -c, 'echo hi'"))
        { Start-UnicornContainer -Command /bin/nope -Wait -ErrorAction Stop } | Should -Throw -ExpectedMessage '*Check the command*'
    }

    It 'takes wildcards in Remove-, Stop- and Wait-UnicornContainer, and -WhatIf shows what they would remove' {
        foreach ($n in 'p1', 'p2', 'q1') { $null = New-UnicornRootfs | Start-UnicornContainer -Name $n -Command /bin/sleep, 1000 }
        $whatIf = Invoke-ChildPwsh "Import-Module '$script:ModulePath'; Remove-UnicornContainer 'p*' -Force -WhatIf"
        $whatIf | Should -HaveCount 2
        $whatIf -join "`n" | Should -Match 'target "p1 \(' 
        $whatIf -join "`n" | Should -Match 'target "p2 \('
        (Get-UnicornContainer).Count | Should -Be 3

        (Stop-UnicornContainer 'P*' -Timeout 0 -PassThru).Name | Sort-Object | Should -Be 'p1', 'p2'
        (Wait-UnicornContainer 'p?' -Timeout 5).Name | Sort-Object | Should -Be 'p1', 'p2'
        Remove-UnicornContainer 'p*'
        (Get-UnicornContainer).Name | Should -Be 'q1'
        Remove-UnicornContainer 'nothing-like-this-*' -ErrorAction Stop # a pattern that matches none is no error
    }

    It 'binds a piped string to a name in Stop-, Wait- and Remove-UnicornContainer' {
        $null = New-UnicornRootfs | Start-UnicornContainer -Name piped -Command /bin/sleep, 1000
        ('piped' | Stop-UnicornContainer -Timeout 0 -PassThru).State | Should -Be 'Exited'
        ('piped' | Wait-UnicornContainer).Name | Should -Be 'piped'
        'piped' | Remove-UnicornContainer
        Get-UnicornContainer | Should -BeNullOrEmpty
    }

    It 'says that a start refused for a taken name left the piped rootfs unowned, and it is' {
        $null = New-UnicornRootfs | Start-UnicornContainer -Name taken -Command /bin/sleep, 1000
        $r = New-UnicornRootfs
        $e = { $r | Start-UnicornContainer -Name taken -Command /bin/sleep, 1000 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ContainerNameInUse,Unicorn.Commands.StartUnicornContainerCommand' -PassThru
        $e.Exception.Message | Should -Match ([regex]::Escape($r.Id.Substring(0, 12)))
        $e.Exception.Message | Should -Match 'owned by no container'
        (Get-UnicornRootfs $r.Id).ContainerId | Should -BeNullOrEmpty
        ($r | Start-UnicornContainer -Name other -Command /bin/true -Wait).ExitCode | Should -Be 0
    }

    It 'refuses a file that is no archive with UnknownArchiveFormat' {
        $random = Join-Path $script:TestRoot 'random.bin'
        $bytes = [byte[]]::new(4096); [Random]::new(2).NextBytes($bytes); [IO.File]::WriteAllBytes($random, $bytes)
        $e = { Import-UnicornImage $random -ErrorAction Stop } | Should -Throw -ErrorId 'UnknownArchiveFormat,Unicorn.Commands.ImportUnicornImageCommand' -PassThru
        $e.Exception.Message | Should -Match 'docker save'
        $e.CategoryInfo.Category | Should -Be 'InvalidArgument'
        Get-UnicornImage | Should -BeNullOrEmpty
    }
}
