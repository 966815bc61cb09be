# Start-UnicornContainer -Bundle: an OCI bundle (config.json + root) run as one of the module's
# containers, through the same translation the unicorn OCI runtime uses.

BeforeAll {
    . $PSScriptRoot/TestSetup.ps1
    Initialize-UnicornTest
    $script:Oci = Join-Path $script:ModulePath 'bin/unicorn'
    $script:Rootfs = Copy-DefaultRootfs 'bundle-rootfs'

    # A bundle whose root is the shared rootfs (a symlink would be refused: its config names it
    # by absolute path), its config unicorn's default with the changes given.
    function New-TestBundle([scriptblock] $Change) {
        $dir = Join-Path $script:TestRoot "bundle-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        New-Item -ItemType Directory $dir | Out-Null
        & $script:Oci spec --bundle $dir
        $config = Get-Content (Join-Path $dir config.json) -Raw | ConvertFrom-Json
        $config.root.path = $script:Rootfs
        $config.process.terminal = $false
        if ($Change) { & $Change $config }
        $config | ConvertTo-Json -Depth 20 | Set-Content (Join-Path $dir config.json)
        $dir
    }
}

AfterAll {
    Complete-UnicornTest
}

Describe 'Start-UnicornContainer -Bundle' {
    It 'runs the config''s process, environment and working directory, supervised and logged' {
        $bundle = New-TestBundle {
            param($c)
            $c.process.args = '/bin/sh', '-c', 'echo "in $(pwd) as $(id -u) with $GREETING"; exit 4'
            $c.process.env = @('PATH=/bin:/usr/bin', 'GREETING=hello')
            $c.process.cwd = '/tmp'
        }
        $c = Start-UnicornContainer -Bundle $bundle -Name bundled -Wait
        $c.ExitCode | Should -Be 4
        $c.Name | Should -Be bundled
        $c.Rootfs | Should -Be $script:Rootfs
        (Get-UnicornContainerLog -Id bundled).Text | Should -Be 'in /tmp as 0 with hello'
        $c | Remove-UnicornContainer
        Test-Path $script:Rootfs | Should -BeTrue -Because 'a bundle''s root is the bundle''s, never removed with the container'
    }

    It 'confines as the config says: its capability sets, masked and read-only paths, its mounts' {
        $data = New-Item -ItemType Directory (Join-Path $script:TestRoot 'bundle-data') -Force
        Set-Content (Join-Path $data 'note') 'from the host'
        $bundle = New-TestBundle {
            param($c)
            $c.process.args = '/bin/sh', '-c', 'grep CapEff /proc/self/status; cat /data/note; (echo x > /data/new) 2>/dev/null || echo read-only; cat /proc/timer_list 2>&1 | wc -c; hostname'
            $c.process.capabilities.effective = @('CAP_CHOWN')
            $c.process.capabilities.permitted = @('CAP_CHOWN')
            $c.process.capabilities.bounding = @('CAP_CHOWN')
            $c.hostname = 'from-config'
            $c.mounts += [pscustomobject]@{ destination = '/data'; type = 'bind'; source = $data.FullName; options = @('rbind', 'ro') }
        }
        $c = Start-UnicornContainer -Bundle $bundle -Wait
        $c.ExitCode | Should -Be 0
        $lines = (Get-UnicornContainerLog -Id $c.Id).Text
        $lines[0] | Should -Match 'CapEff:\s+0000000000000001'
        $lines[1] | Should -Be 'from the host'
        $lines[2] | Should -Be 'read-only'
        $lines[3] | Should -Be '0' -Because '/proc/timer_list is masked'
        $lines[4] | Should -Be 'from-config'
        Test-Path (Join-Path $data 'new') | Should -BeFalse
        $c | Remove-UnicornContainer
    }

    It 'refuses parameters that the config decides, and leaves nothing' {
        $bundle = New-TestBundle {}
        { Start-UnicornContainer -Bundle $bundle -Memory 64MB } | Should -Throw -ErrorId 'BundleAndParameters,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornContainer | Should -BeNullOrEmpty
    }

    It 'refuses what it cannot honour, naming the field: <Case>' -ForEach @(
        @{ Case = 'user namespace mappings'; Id = 'OciUnsupported'; Change = { param($c) $c.linux | Add-Member uidMappings @(@{ containerID = 0; hostID = 1000; size = 1 }) } }
        @{ Case = 'a joined network namespace'; Id = 'BundleNamespaces'; Change = { param($c) ($c.linux.namespaces | Where-Object type -eq network) | Add-Member path /proc/1/ns/net } }
        @{ Case = 'no config.json'; Id = 'OciConfigNotFound'; Change = $null }
    ) {
        $bundle = New-TestBundle $Change
        if ($Case -eq 'no config.json') { Remove-Item (Join-Path $bundle config.json) }
        { Start-UnicornContainer -Bundle $bundle } | Should -Throw -ErrorId "$Id,Unicorn.Commands.StartUnicornContainerCommand"
        Get-UnicornContainer | Should -BeNullOrEmpty
        @(Get-ChildItem /sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT -Directory -ErrorAction Ignore | Get-ChildItem -Directory) | Should -BeNullOrEmpty
    }

    It 'starts again, stops and is removed like any container' {
        $bundle = New-TestBundle { param($c) $c.process.args = '/bin/sleep', '300' }
        $c = Start-UnicornContainer -Bundle $bundle -Name sleeper
        $c.State | Should -Be Running
        Stop-UnicornContainer -Id sleeper -Timeout 1 | Out-Null
        (Start-UnicornContainer -Id sleeper).State | Should -Be Running
        Remove-UnicornContainer -Id sleeper -Force
        Get-UnicornContainer | Should -BeNullOrEmpty
    }
}

Describe 'The two faces keep their containers apart' {
    It 'Get-UnicornContainer does not list the OCI runtime''s containers, nor unicorn list the module''s' {
        $bundle = New-TestBundle { param($c) $c.process.args = '/bin/sleep', '300'; $c.linux | Add-Member -Force cgroupsPath "/$env:UNICORN_CGROUP_PARENT/oci-apart" }
        $root = Join-Path $script:TestRoot 'oci-root'
        $module = Start-UnicornContainer -Bundle $bundle -Name module-side
        # Detached, the init keeps the stdio it is given: not this test's pipes.
        /bin/sh -c "exec '$script:Oci' --root '$root' run --detach --bundle '$bundle' oci-side </dev/null >/dev/null 2>&1"
        $LASTEXITCODE | Should -Be 0
        try {
            (Get-UnicornContainer).Name | Should -Be 'module-side'
            & $script:Oci --root $root list --quiet | Should -Be 'oci-side'
        }
        finally {
            & $script:Oci --root $root delete --force oci-side
            $module | Remove-UnicornContainer -Force
        }
    }
}
