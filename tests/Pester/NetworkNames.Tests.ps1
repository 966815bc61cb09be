#Requires -Version 7.6
# Containers on a bridge find each other by name (and -NetworkAlias) through their /etc/hosts,
# and their published ports show on the container and the bridge. Like Network.Tests.ps1,
# build.ps1 runs this file in a private network namespace of its own (unshare --net): nothing
# a test does can reach the machine's interfaces, routes or firewall.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornNetworkTest

    function Start-Sleeper([string] $Name, [hashtable] $Extra = @{}) {
        New-UnicornRootfs | Start-UnicornContainer -Name $Name -Command sleep, 600 @Extra
    }
    # The address a name has in a container (what its libc finds), or nothing.
    function Resolve-Name([string] $Container, [string] $Name) {
        $out = Invoke-UnicornCommand $Container -Command sh, -c, "ping -c1 -W1 $Name 2>&1" | Out-String
        if ($out -match "PING $([regex]::Escape($Name)) \(([^)]+)\)") { $Matches[1] }
    }
    function Test-Ping([string] $Container, [string] $Name) {
        $null = Invoke-UnicornCommand $Container -Command ping, -c1, -W2, $Name 2>&1
        $LASTEXITCODE -eq 0
    }
    function Get-Hosts([string] $Container) { Invoke-UnicornCommand $Container -Command cat, /etc/hosts }
}

AfterAll {
    Complete-UnicornNetworkTest
}

Describe 'Names on a bridge' {
    AfterEach { Clear-UnicornNetworkTest }

    It 'lets two containers reach each other by name, both ways, the first connected later and the second at its start' {
        $a = Start-Sleeper a | Connect-UnicornBridge -Bridge names0 -Subnet 10.81.0.0/24
        $null = Start-Sleeper b @{ Bridge = 'names0' }
        $b = Get-UnicornContainer b
        Resolve-Name a b | Should -Be $b.IPAddress
        Resolve-Name b a | Should -Be $a.IPAddress
        Test-Ping a b | Should -BeTrue
        Test-Ping b a | Should -BeTrue
        # Its own address under its hostname first, then its name; the localhost lines kept.
        $hosts = Get-Hosts a
        $hosts | Should -Contain "$($a.IPAddress)`t$((Get-UnicornContainer a).Hostname) a"
        $hosts | Should -Contain "$($b.IPAddress)`tb"
        $hosts | Should -Contain "127.0.0.1`tlocalhost"
    }

    It 'finds a container by the aliases given at its start and at a connect, and by its name still' {
        $null = Start-Sleeper db @{ Bridge = 'names0'; Subnet = '10.81.0.0/24'; NetworkAlias = 'postgres', 'primary.db' }
        $app = Start-Sleeper app | Connect-UnicornBridge -Bridge names0 -NetworkAlias web, web
        $app.Aliases | Should -Be 'web' -Because 'an alias given twice is one'
        $db = (Get-UnicornBridge names0).Attachments | Where-Object Name -EQ db
        $db.Aliases | Should -Be 'postgres', 'primary.db'
        foreach ($name in 'db', 'postgres', 'primary.db') { Resolve-Name app $name | Should -Be $db.IPAddress }
        foreach ($name in 'app', 'web') { Resolve-Name db $name | Should -Be $app.IPAddress }
        Test-Ping app postgres | Should -BeTrue
        Resolve-Name db postgres | Should -Be $db.IPAddress -Because 'a container finds its own aliases too'
    }

    It 'forgets a name when its container is disconnected, and when it is removed' {
        $a = Start-Sleeper a | Connect-UnicornBridge -Bridge names0 -Subnet 10.81.0.0/24
        $b = Start-Sleeper b | Connect-UnicornBridge -Bridge names0 -NetworkAlias bee
        $c = Start-Sleeper c | Connect-UnicornBridge -Bridge names0
        Resolve-Name a bee | Should -Be $b.IPAddress

        Disconnect-UnicornBridge b -Bridge names0
        Resolve-Name a b | Should -BeNullOrEmpty
        Resolve-Name a bee | Should -BeNullOrEmpty
        Resolve-Name c b | Should -BeNullOrEmpty
        Resolve-Name a c | Should -Be $c.IPAddress
        Get-Hosts b | Should -Not -Match '^10\.81\.' -Because 'the disconnected container no longer names the bridge''s containers, nor itself there'

        Remove-UnicornContainer c -Force
        Resolve-Name a c | Should -BeNullOrEmpty
        Get-Hosts a | Should -Not -Contain "$($c.IPAddress)`tc"
    }

    It 'shows the new address of a container that comes back with another, and the old one''s new owner' {
        $null = Start-Sleeper a | Connect-UnicornBridge -Bridge names0 -Subnet 10.81.0.0/24
        $old = (Start-Sleeper b | Connect-UnicornBridge -Bridge names0).IPAddress
        Resolve-Name a b | Should -Be $old
        Disconnect-UnicornBridge b
        $null = Start-Sleeper c | Connect-UnicornBridge -Bridge names0 -IPAddress $old
        $new = (Connect-UnicornBridge b -Bridge names0).IPAddress
        $new | Should -Not -Be $old
        Resolve-Name a b | Should -Be $new
        Resolve-Name a c | Should -Be $old
        Resolve-Name c b | Should -Be $new
        Resolve-Name b c | Should -Be $old
        Test-Ping a b | Should -BeTrue
        @(Get-Hosts a | Where-Object { $_ -match '\tb$' }) | Should -HaveCount 1 -Because 'one line per address, none stale'
    }

    It 'keeps the names of one bridge from the containers of another' {
        $x = Start-Sleeper x | Connect-UnicornBridge -Bridge names-x -Subnet 10.83.0.0/24
        $y = Start-Sleeper y | Connect-UnicornBridge -Bridge names-y -Subnet 10.84.0.0/24
        $both = Start-Sleeper both
        $bx = $both | Connect-UnicornBridge -Bridge names-x
        $by = $both | Connect-UnicornBridge -Bridge names-y
        Resolve-Name x y | Should -BeNullOrEmpty
        Resolve-Name y x | Should -BeNullOrEmpty
        Resolve-Name x both | Should -Be $bx.IPAddress
        Resolve-Name y both | Should -Be $by.IPAddress
        Resolve-Name both x | Should -Be $x.IPAddress
        Resolve-Name both y | Should -Be $y.IPAddress
    }

    It 'keeps the lines a container wrote in its /etc/hosts itself' {
        $null = Start-Sleeper a | Connect-UnicornBridge -Bridge names0 -Subnet 10.81.0.0/24
        Invoke-UnicornCommand a -Command sh, -c, 'echo "192.0.2.9 mine" >> /etc/hosts'
        $b = Start-Sleeper b | Connect-UnicornBridge -Bridge names0
        $hosts = Get-Hosts a
        $hosts | Should -Contain '192.0.2.9 mine'
        $hosts | Should -Contain "$($b.IPAddress)`tb"
        Resolve-Name a mine | Should -Be '192.0.2.9'
    }
}

Describe 'A container started again on its bridge' {
    AfterEach { Clear-UnicornNetworkTest }

    It 'is connected again, with its ports and aliases, and a bridge connected later too; the others find its new address by name' {
        $null = Start-Sleeper peer @{ Bridge = 'again0'; Subnet = '10.82.0.0/24' }
        $web = Start-Sleeper web @{ Bridge = 'again0'; NetworkAlias = 'www'; Publish = '8082:80' }
        $null = $web | Connect-UnicornBridge -Bridge later0 -Subnet 10.83.0.0/24
        $old = (Get-UnicornContainer web).IPAddress
        Resolve-Name peer www | Should -Be $old
        # Its address is taken while it is down, so that it comes back with another.
        $null = Get-UnicornContainer web | Stop-UnicornContainer -Timeout 0 -PassThru
        $null = Start-Sleeper taker @{ Bridge = 'again0' }
        $again = Start-UnicornContainer -Id web
        $again.State | Should -Be 'Running'
        $new = $again.IPAddress
        $new | Should -Not -BeNullOrEmpty
        $new | Should -Not -Be $old
        foreach ($name in 'web', 'www') { Resolve-Name peer $name | Should -Be $new }
        Resolve-Name web peer | Should -Be (Get-UnicornContainer peer).IPAddress
        $again.Ports | ForEach-Object ToString | Should -Be '0.0.0.0:8082->80/tcp'
        @((Get-UnicornBridge later0).Attachments.Name) | Should -Be 'web'
        Test-Ping web 10.83.0.1 | Should -BeTrue -Because 'the bridge connected after its start is connected again'
        # Its static address, given at its start, is its own again.
        $fixed = Start-Sleeper fixed @{ Bridge = 'again0'; IPAddress = [ipaddress]'10.82.0.50' }
        $null = Restart-UnicornContainer fixed -Timeout 0
        (Get-UnicornContainer fixed).IPAddress | Should -Be '10.82.0.50'
        Get-UnicornContainer | Remove-UnicornContainer -Force
        @(Get-UnicornLink | Where-Object { $_ -notin 'again0', 'later0' }) | Should -BeNullOrEmpty -Because 'no veth outlives its container'
    }
}

Describe 'Names, against a hostile container' {
    AfterEach { Clear-UnicornNetworkTest }

    It 'writes a container''s names, never through a symlink it put in place of its /etc/hosts' {
        $victim = Join-Path $script:TestRoot 'victim'
        Set-Content $victim 'untouched'
        $evil = Start-Sleeper evil @{ Privileged = $true } | Connect-UnicornBridge -Bridge names0 -Subnet 10.81.0.0/24
        Invoke-UnicornCommand evil -Command sh, -c, "umount /etc/hosts && rm -f /etc/hosts && ln -s $victim /etc/hosts && echo replaced" | Should -Be 'replaced'
        $b = Start-Sleeper b | Connect-UnicornBridge -Bridge names0
        Disconnect-UnicornBridge b
        Get-Content $victim | Should -Be 'untouched'
        (Get-Item (Join-Path (Get-UnicornContainer evil).Rootfs etc/hosts)).LinkTarget | Should -Be $victim
        # The engine's file, in the container's state, out of its reach: written, b's line gone again.
        $state = Get-Content (Join-Path $env:UNICORN_STATE_ROOT "containers/$($evil.ContainerId)/hosts")
        $state | Should -Contain "$($evil.IPAddress)`t$((Get-UnicornContainer evil).Hostname) evil"
        $state | Should -Not -Contain "$($b.IPAddress)`tb"
    }

    It 'rewrites the bridge''s lines of a /etc/hosts the container filled with junk and false names, reading a bounded part of it' {
        $a = Start-Sleeper a | Connect-UnicornBridge -Bridge names0 -Subnet 10.81.0.0/24
        Invoke-UnicornCommand a -Command sh, -c, 'echo "10.81.0.200 b" >> /etc/hosts; echo "192.0.2.9 mine" >> /etc/hosts; yes junk-junk-junk | head -c 3000000 >> /etc/hosts'
        $b = Start-Sleeper b | Connect-UnicornBridge -Bridge names0
        Resolve-Name a b | Should -Be $b.IPAddress -Because "the bridge's addresses are the engine's to name"
        $hosts = Get-Hosts a
        $hosts | Should -Not -Contain '10.81.0.200 b'
        $hosts | Should -Contain '192.0.2.9 mine'
        [int](Invoke-UnicornCommand a -Command sh, -c, 'wc -c < /etc/hosts') | Should -BeLessOrEqual (1MB + 100)
        Test-Ping b a | Should -BeTrue
    }

    It 'refuses an alias that is not a host name, at a connect and at a start, and makes nothing' -ForEach @(
        @{ Alias = 'two words' }, @{ Alias = '-dash' }, @{ Alias = "new`nline" }, @{ Alias = 'x#comment' }
    ) {
        $c = Start-Sleeper bad
        { $c | Connect-UnicornBridge -Bridge names0 -NetworkAlias ok, $Alias -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidNetworkAlias,Unicorn.Commands.ConnectUnicornBridgeCommand'
        $r = New-UnicornRootfs
        { $r | Start-UnicornContainer -NetworkAlias $Alias -Command true -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidNetworkAlias,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornBridge | Should -BeNullOrEmpty
        (Get-UnicornContainer bad).IPAddress | Should -BeNullOrEmpty
        $r | Remove-UnicornRootfs
    }
}

Describe 'Published ports' {
    AfterEach { Clear-UnicornNetworkTest }

    It 'shows them on the container as docker ps does, in its table, and on its deserialized copy' {
        $null = Start-Sleeper web @{ Bridge = 'ports0'; Subnet = '10.82.0.0/24', 'fd00:82::/64'; Publish = '8080:80', '5353:53/udp' }
        $null = Start-Sleeper quiet @{ Bridge = 'ports0' }
        $web = Get-UnicornContainer web
        $web.Ports | ForEach-Object ToString | Should -Be '0.0.0.0:8080->80/tcp', '[::]:8080->80/tcp', '0.0.0.0:5353->53/udp', '[::]:5353->53/udp'
        $web.Ports[0].HostPort | Should -Be 8080
        $web.Ports[0].ContainerPort | Should -Be 80
        $web.Ports[2].Protocol | Should -Be 'udp'
        $web.Ports[0].Bridge | Should -Be 'ports0'
        (Get-UnicornContainer quiet).Ports | Should -BeNullOrEmpty

        $table = Get-UnicornContainer | Format-Table | Out-String -Width 250
        $table | Should -Match '\bPorts\b'
        $table | Should -Match 'web .*0\.0\.0\.0:8080->80/tcp, \[::\]:8080->80/tcp, 0\.0\.0\.0:5353->53/udp, \[::\]:5353->53/udp'
        $file = Join-Path $script:TestRoot 'web.xml'
        $web | Export-Clixml $file
        Import-Clixml $file | Format-Table | Out-String -Width 250 | Should -Match '0\.0\.0\.0:8080->80/tcp, \[::\]:8080->80/tcp'

        Disconnect-UnicornBridge web
        (Get-UnicornContainer web).Ports | Should -BeNullOrEmpty
    }

    It 'lists each bridge''s containers with their ports' {
        $null = Start-Sleeper web @{ Bridge = 'ports0'; Subnet = '10.82.0.0/24'; Publish = '8080:80', '5353:53/udp'; NetworkAlias = 'www' }
        $null = Start-Sleeper quiet @{ Bridge = 'ports0' }
        $null = Start-Sleeper far @{ Bridge = 'ports1'; Subnet = '10.85.0.0/24'; Publish = '9090:90' }
        $bridge = Get-UnicornBridge ports0
        $bridge.Attachments.Name | Should -Be 'quiet', 'web'
        $bridge.Containers | Should -HaveCount 2
        $web = $bridge.Attachments | Where-Object Name -EQ web
        $web.Ports | ForEach-Object ToString | Should -Be '8080:80/tcp', '5353:53/udp'
        $web.Aliases | Should -Be 'www'
        $web.IPAddress | Should -Be (Get-UnicornContainer web).IPAddress
        ($bridge.Attachments | Where-Object Name -EQ quiet).Ports | Should -BeNullOrEmpty

        $table = Get-UnicornBridge | Format-Table | Out-String -Width 120
        $table | Should -Match 'ports0 .* 10\.82\.0\.0/24 .* quiet'
        $table | Should -Match '\s web\s+8080->80/tcp, 5353->53/udp'
        $table | Should -Match 'ports1 .* far\s+9090->90/tcp'
    }
}
