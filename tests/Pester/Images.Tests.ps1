#Requires -Version 7.6
# Images made by real tools (umoci, skopeo, GNU tar, zstd), imported and run; hostile and corrupt
# archives made here. Every fixture lives under the test's own temporary root.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest
    $script:Fixtures = New-Item -ItemType Directory (Join-Path $script:TestRoot 'fixtures')
    $busybox = (Get-Command busybox -CommandType Application).Source

    # An OCI layout with two images: base (busybox, /etc/deleteme, /replaced/old) and v2 on top of
    # it (deleteme deleted, /replaced made anew: opaque, a hard link, a symlink chain, a setuid
    # binary, a file capability), with a config: Cmd, Env, WorkingDir, User.
    $layout = Join-Path $Fixtures 'layout'
    $bundle = Join-Path $Fixtures 'bundle'
    umoci init --layout $layout
    umoci new --image "${layout}:base"
    umoci unpack --image "${layout}:base" $bundle
    $root = Join-Path $bundle 'rootfs'
    New-Item -ItemType Directory "$root/bin", "$root/etc", "$root/replaced" | Out-Null
    Copy-Item $busybox "$root/bin/busybox"
    foreach ($applet in 'sh', 'ls', 'cat', 'stat', 'readlink', 'id', 'echo', 'pwd', 'sleep', 'true') { ln -s busybox "$root/bin/$applet" }
    Set-Content "$root/etc/deleteme" 'gone'
    Set-Content "$root/replaced/old" 'old'
    Set-Content "$root/etc/passwd" "root:x:0:0:root:/root:/bin/sh`napp:x:1000:1000::/home/app:/bin/sh"
    Set-Content "$root/etc/group" "root:x:0:`napp:x:1000:`nextra:x:2000:app"
    umoci repack --image "${layout}:base" $bundle
    Remove-Item $bundle -Recurse -Force
    umoci unpack --image "${layout}:base" $bundle
    Remove-Item "$root/etc/deleteme"
    Remove-Item "$root/replaced" -Recurse
    New-Item -ItemType Directory "$root/replaced" | Out-Null
    Set-Content "$root/replaced/new" 'new'
    Set-Content "$root/etc/hard1" 'data'
    ln "$root/etc/hard1" "$root/etc/hard2"
    ln -s hard1 "$root/etc/link1"
    ln -s link1 "$root/etc/link2"
    Copy-Item $busybox "$root/bin/suid"
    chmod 4755 "$root/bin/suid"
    Copy-Item $busybox "$root/bin/capped"
    setcap cap_net_raw+ep "$root/bin/capped"
    umoci repack --image "${layout}:v2" $bundle
    umoci config --image "${layout}:v2" --config.cmd /bin/sh --config.cmd -c --config.cmd 'echo FOO=$FOO; pwd; id -u; id -G' `
        --config.env FOO=bar --config.workingdir /etc --config.user app
    Remove-Item $bundle -Recurse -Force
    $script:Layout = $layout

    # The same image as skopeo writes it for docker load, and as an OCI archive.
    $script:DockerArchive = Join-Path $Fixtures 'v2-docker.tar'
    skopeo --insecure-policy copy -q "oci:${layout}:v2" "docker-archive:${DockerArchive}:test/app:v2"
    $script:OciArchive = Join-Path $Fixtures 'v2-oci.tar'
    skopeo --insecure-policy copy -q "oci:${layout}:v2" "oci-archive:${OciArchive}:v2"

    # A plain rootfs tarball, gzip and zstd, by GNU tar.
    $script:RootfsDir = New-Item -ItemType Directory (Join-Path $Fixtures 'plain')
    New-Item -ItemType Directory "$RootfsDir/bin" | Out-Null
    Copy-Item $busybox "$RootfsDir/bin/busybox"
    ln -s busybox "$RootfsDir/bin/sh"
    Set-Content "$RootfsDir/hello" 'from a tarball'
    $script:TarGz = Join-Path $Fixtures 'rootfs.tar.gz'
    tar -C $RootfsDir -czf $TarGz .
    $script:TarZst = Join-Path $Fixtures 'rootfs.tar.zst'
    tar -C $RootfsDir --zstd -cf $TarZst .

    # A tar of hostile entries, written here: each would land outside the layer if followed.
    function New-HostileArchive([string] $Path, [scriptblock] $Entries) {
        $stream = [IO.File]::Create($Path)
        $writer = [Formats.Tar.TarWriter]::new($stream, [Formats.Tar.TarEntryFormat]::Pax, $false)
        try { & $Entries $writer } finally { $writer.Dispose(); $stream.Dispose() }
    }
    function New-File($Writer, [string] $Name, [string] $Text = 'x') {
        $e = [Formats.Tar.PaxTarEntry]::new([Formats.Tar.TarEntryType]::RegularFile, $Name)
        $e.DataStream = [IO.MemoryStream]::new([Text.Encoding]::UTF8.GetBytes($Text))
        $Writer.WriteEntry($e)
    }
    function New-Link($Writer, [string] $Type, [string] $Name, [string] $Target) {
        $e = [Formats.Tar.PaxTarEntry]::new([Formats.Tar.TarEntryType]::$Type, $Name)
        $e.LinkName = $Target
        $Writer.WriteEntry($e)
    }
    function Get-StoreContent {
        foreach ($d in 'layers', 'records', 'tmp') {
            $dir = Join-Path $env:UNICORN_DATA_ROOT "images/$d"
            if (Test-Path $dir) { Get-ChildItem $dir -Force | ForEach-Object FullName }
        }
    }
}

AfterAll {
    Get-UnicornContainer | Remove-UnicornContainer -Force
    Get-UnicornRootfs | Remove-UnicornRootfs
    Get-UnicornImage | Remove-UnicornImage -Force
    Get-StoreContent | Should -BeNullOrEmpty -Because 'removing every image frees every layer'
    Complete-UnicornTest
}

Describe 'Import-UnicornImage and New-UnicornRootfs -Image' {
    AfterEach {
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Remove-UnicornRootfs
    }

    It 'imports an OCI layout made by umoci, and runs it with its layers stacked as they say' {
        $images = Import-UnicornImage $Layout
        $images.Count | Should -Be 2
        $v2 = Get-UnicornImage 'layout:v2'
        $v2.Layers.Count | Should -Be 2
        (Get-UnicornImage 'layout:base').Layers[0] | Should -Be $v2.Layers[0] -Because 'the base layer is shared, stored once'
        @(Get-ChildItem (Join-Path $env:UNICORN_DATA_ROOT 'images/layers')).Count | Should -Be 2

        $c = Get-UnicornImage layout:v2 | New-UnicornRootfs | Start-UnicornContainer -User root -Wait -Command /bin/sh, -c, @'
test -e /etc/deleteme && echo deleteme-present
ls /replaced
cat /etc/link2
test "$(stat -c %i /etc/hard1)" = "$(stat -c %i /etc/hard2)" && echo hardlinked
stat -c %a /bin/suid
'@
        $c.ExitCode | Should -Be 0
        $out = (Get-UnicornContainerLog $c).Text
        $out | Should -Not -Contain 'deleteme-present'
        $out | Should -Contain 'new'
        $out | Should -Not -Contain 'old'
        $out | Should -Contain 'data'
        $out | Should -Contain 'hardlinked'
        $out | Should -Contain '4755'
    }

    It 'keeps a file capability (security.capability) through the import' {
        $rootfs = New-UnicornRootfs -Image layout:v2
        getcap (Join-Path $rootfs.Path 'bin/capped') | Should -Match 'cap_net_raw[=+]ep'
    }

    It 'runs the image''s command, environment, working directory and user unless told otherwise' {
        $c = New-UnicornRootfs -Image layout:v2 | Start-UnicornContainer -Wait
        $c.Command | Should -Be '/bin/sh', '-c', 'echo FOO=$FOO; pwd; id -u; id -G'
        (Get-UnicornContainerLog $c).Text | Should -Be 'FOO=bar', '/etc', '1000', '1000 2000'

        $d = New-UnicornRootfs -Image layout:v2 | Start-UnicornContainer -Wait -Command /bin/sh, -c, 'pwd; id -u' -WorkingDirectory / -User 0:0
        (Get-UnicornContainerLog $d).Text | Should -Be '/', '0'

        # A process run in it later runs as its user too, with its groups.
        $e = New-UnicornRootfs -Image layout:v2 | Start-UnicornContainer -Command sleep, 60
        Invoke-UnicornCommand $e -Command id, -u | Should -Be '1000'
        Invoke-UnicornCommand $e -Command id, -G | Should -Be '1000 2000'
        $f = New-UnicornRootfs -Image layout:v2 | Start-UnicornContainer -Wait -User app:extra -Command id, -g
        (Get-UnicornContainerLog $f).Text | Should -Be '2000'
        $g = New-UnicornRootfs -Image layout:v2 | Start-UnicornContainer -Wait -User 1000 -GroupAdd extra, 3000 -Command id, -G
        (Get-UnicornContainerLog $g).Text | Should -Be '1000 2000 3000'
        { New-UnicornRootfs -Image layout:v2 | Start-UnicornContainer -GroupAdd nogroup-here -Command true -ErrorAction Stop } |
            Should -Throw -ErrorId 'GroupNotFound,Unicorn.Commands.StartUnicornContainerCommand'
    }

    It 'refuses a user the image does not have, before anything is made' {
        $rootfs = New-UnicornRootfs -Image layout:v2
        { $rootfs | Start-UnicornContainer -User nobody-here -ErrorAction Stop } |
            Should -Throw -ErrorId 'UserNotFound,Unicorn.Commands.StartUnicornContainerCommand'
        Get-UnicornRootfs $rootfs.Id | Should -Not -BeNullOrEmpty
    }

    It 'imports the same image again as a no-op that returns it' {
        $again = Import-UnicornImage $Layout
        ($again | Where-Object Names -Contains 'layout:v2').Id | Should -Be (Get-UnicornImage layout:v2).Id
        @(Get-UnicornImage).Count | Should -Be 2
    }

    It 'imports <Kind> made by skopeo, sharing the layers already stored' -ForEach @(
        @{ Kind = 'a docker-save archive'; Fixture = 'v2-docker.tar'; Name = 'docker.io/test/app:v2' }
        @{ Kind = 'an OCI archive'; Fixture = 'v2-oci.tar'; Name = 'oci-archive:v2' }
    ) {
        $layers = @(Get-ChildItem (Join-Path $env:UNICORN_DATA_ROOT 'images/layers')).Count
        $image = Import-UnicornImage (Join-Path $Fixtures $Fixture) -Name $Name
        $image.Names | Should -Contain $Name
        $image.Layers | Should -Be (Get-UnicornImage layout:v2).Layers
        @(Get-ChildItem (Join-Path $env:UNICORN_DATA_ROOT 'images/layers')).Count | Should -Be $layers
        $c = New-UnicornRootfs -Image $Name | Start-UnicornContainer -Wait -User root -Command cat, /replaced/new
        (Get-UnicornContainerLog $c).Text | Should -Be 'new'
    }

    It 'resolves a multi-platform index to this machine''s platform, and names a missing one' {
        # The layout again, its index.json now pointing at an index blob that lists the image for
        # another architecture and for this one.
        $multi = Join-Path $Fixtures 'multi'
        Copy-Item $Layout $multi -Recurse
        $top = Get-Content "$multi/index.json" | ConvertFrom-Json
        $v2 = $top.manifests | Where-Object { $_.annotations.'org.opencontainers.image.ref.name' -eq 'v2' }
        $arch = switch ([Runtime.InteropServices.RuntimeInformation]::OSArchitecture) { 'X64' { 'amd64' } 'Arm64' { 'arm64' } default { "$_".ToLower() } }
        $other = if ($arch -eq 's390x') { 'amd64' } else { 's390x' }
        function Write-Index($Entries) {
            $json = @{ schemaVersion = 2; mediaType = 'application/vnd.oci.image.index.v1+json'; manifests = @($Entries) } | ConvertTo-Json -Depth 6 -Compress
            $bytes = [Text.Encoding]::UTF8.GetBytes($json)
            $digest = 'sha256:' + [Convert]::ToHexStringLower([Security.Cryptography.SHA256]::HashData($bytes))
            [IO.File]::WriteAllBytes("$multi/blobs/sha256/$($digest.Substring(7))", $bytes)
            $top = @{ schemaVersion = 2; manifests = @(@{ mediaType = 'application/vnd.oci.image.index.v1+json'; digest = $digest; size = $bytes.Length
                        annotations = @{ 'org.opencontainers.image.ref.name' = 'multi' } }) } | ConvertTo-Json -Depth 6
            Set-Content "$multi/index.json" $top
        }
        $entry = { param($a) @{ mediaType = $v2.mediaType; digest = $v2.digest; size = $v2.size; platform = @{ os = 'linux'; architecture = $a } } }
        Write-Index @((& $entry $other), (& $entry $arch))
        $image = Import-UnicornImage $multi
        $image.Id | Should -Be (Get-UnicornImage layout:v2).Id
        $image.Names | Should -Contain 'multi:multi'

        Write-Index @(& $entry $other)
        { Import-UnicornImage $multi -ErrorAction Stop } | Should -Throw -ErrorId 'PlatformNotFound,Unicorn.Commands.ImportUnicornImageCommand'
    }

    It 'imports a rootfs tarball compressed with <Compression>' -ForEach @(
        @{ Compression = 'gzip'; Fixture = 'rootfs.tar.gz' }
        @{ Compression = 'zstd'; Fixture = 'rootfs.tar.zst' }
    ) {
        $image = Import-UnicornImage (Join-Path $Fixtures $Fixture) -Name "plain-$($Compression):1"
        $image.Layers.Count | Should -Be 1
        $c = $image | New-UnicornRootfs | Start-UnicornContainer -Wait -Command /bin/busybox, cat, /hello
        (Get-UnicornContainerLog $c).Text | Should -Be 'from a tarball'
    }
}

Describe 'Import-UnicornImage -Reference' {
    BeforeAll {
        # A registry of our own on loopback (Debian's docker-registry), with htpasswd auth, holding
        # layout:v2 as skopeo pushes it; stopped by its pid after.
        $script:RegistryDir = New-Item -ItemType Directory (Join-Path $Fixtures 'registry')
        htpasswd -Bbc "$RegistryDir/htpasswd" tester secret 2>&1 | Out-Null
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $listener.Start()
        $script:Port = $listener.LocalEndpoint.Port; $listener.Stop()
        Set-Content "$RegistryDir/config.yml" @"
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $RegistryDir/storage
http:
  addr: 127.0.0.1:$Port
auth:
  htpasswd:
    realm: unicorn-test
    path: $RegistryDir/htpasswd
"@
        $script:Registry = Start-Process docker-registry -ArgumentList serve, "$RegistryDir/config.yml" -PassThru -RedirectStandardError "$RegistryDir/log"
        $deadline = (Get-Date).AddSeconds(10)
        while (-not (Test-Connection 127.0.0.1 -TcpPort $Port -Quiet -TimeoutSeconds 1) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 50 }
        skopeo --insecure-policy copy -q --dest-tls-verify=false --dest-creds tester:secret "oci:${Layout}:v2" "docker://127.0.0.1:$Port/test/app:v2"
        $script:Credential = [pscredential]::new('tester', (ConvertTo-SecureString secret -AsPlainText -Force))
    }
    AfterAll {
        if ($Registry) { Stop-Process -Id $Registry.Id -ErrorAction Ignore; $Registry.WaitForExit() }
        Get-UnicornContainer | Remove-UnicornContainer -Force
        Get-UnicornRootfs | Remove-UnicornRootfs
    }

    It 'pulls an image with -Credential, verified, and runs it' {
        $image = Import-UnicornImage -Reference "127.0.0.1:$Port/test/app:v2" -Credential $Credential
        $image.Names | Should -Contain "127.0.0.1:$Port/test/app:v2"
        $image.Id | Should -Be (Get-UnicornImage layout:v2).Id -Because 'the same image as imported from the layout, in the store once'
        $image.Digest | Should -Match '^sha256:[0-9a-f]{64}$'
        $image.Layers.Count | Should -Be 2
        $c = $image | New-UnicornRootfs | Start-UnicornContainer -Wait
        (Get-UnicornContainerLog $c).Text | Should -Be 'FOO=bar', '/etc', '1000', '1000 2000'
    }

    It 'refuses without credentials, and for a missing image, with clear errors' {
        { Import-UnicornImage -Reference "127.0.0.1:$Port/test/app:v2" -ErrorAction Stop } |
            Should -Throw -ErrorId 'RegistryAuthenticationFailed,Unicorn.Commands.ImportUnicornImageCommand'
        { Import-UnicornImage -Reference "127.0.0.1:$Port/test/nothing:1" -Credential $Credential -ErrorAction Stop } |
            Should -Throw -ErrorId 'ImageNotFound,Unicorn.Commands.ImportUnicornImageCommand'
        { Import-UnicornImage -Reference 'Not A Reference' -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidImageReference,Unicorn.Commands.ImportUnicornImageCommand'
    }
}

Describe 'Hostile and corrupt archives' {
    BeforeAll { $script:Before = @(Get-StoreContent) }

    It 'keeps <Case> inside the layer, or refuses it' -ForEach @(
        @{ Case = 'a ../ path'; Entries = { param($w) New-File $w '../../../escaped-dotdot' } }
        @{ Case = 'an absolute path'; Entries = { param($w) New-File $w '/escaped-absolute' } }
        @{ Case = 'a symlink to / and a file through it'; Entries = { param($w) New-Link $w SymbolicLink 'root' '/'; New-File $w 'root/escaped-symlink' } }
        @{ Case = 'a symlink up and out, and a file through it'; Entries = { param($w) New-Link $w SymbolicLink 'up' '../../../..'; New-File $w 'up/escaped-up' } }
        @{ Case = 'a hard link to a host file'; Entries = { param($w) New-Link $w HardLink 'passwd' '/etc/passwd' } }
        @{ Case = 'a hard link out of the layer'; Entries = { param($w) New-Link $w HardLink 'out' '../../escaped-hard' } }
    ) {
        $sentinel = Join-Path $Fixtures "hostile-$([guid]::NewGuid().ToString('n').Substring(0, 6))"
        New-Item -ItemType Directory $sentinel | Out-Null
        $archive = Join-Path $sentinel 'hostile.tar'
        New-HostileArchive $archive $Entries
        # Refused as unsafe, or (a link to a file the layer lacks) as corrupt; or contained.
        $image = try { Import-UnicornImage $archive -Name hostile -ErrorAction Stop }
        catch { $_.FullyQualifiedErrorId.Split(',')[0] | Should -BeIn 'UnsafeArchive', 'CorruptArchive'; $null }
        # Nothing anywhere outside the store: not next to the archive, not at /, not in /etc.
        Get-ChildItem $sentinel | ForEach-Object Name | Should -Be 'hostile.tar'
        Get-ChildItem / -Filter 'escaped-*' | Should -BeNullOrEmpty
        Get-ChildItem (Join-Path $env:UNICORN_DATA_ROOT 'images') -Recurse -Filter 'escaped-*' |
            Where-Object { -not $_.FullName.StartsWith((Join-Path $env:UNICORN_DATA_ROOT 'images/layers')) } | Should -BeNullOrEmpty
        if ($image) {
            # Contained: what it holds is inside its own layer, and /etc/passwd was not linked.
            $layer = Join-Path $env:UNICORN_DATA_ROOT "images/layers/$($image.Layers[0].Substring(7))"
            if (Test-Path "$layer/passwd") { (Get-Item "$layer/passwd").Length | Should -Not -Be (Get-Item /etc/passwd).Length }
            $image | Remove-UnicornImage
        }
        Get-StoreContent | Should -Be $Before
    }

    It 'refuses a truncated archive with CorruptArchive, and keeps nothing of it' {
        $bytes = [IO.File]::ReadAllBytes($DockerArchive)
        $cut = Join-Path $Fixtures 'truncated.tar'
        [IO.File]::WriteAllBytes($cut, $bytes[0..([int]($bytes.Length * 0.6))])
        Get-UnicornImage | Remove-UnicornImage -Force
        { Import-UnicornImage $cut -ErrorAction Stop } | Should -Throw -ErrorId 'CorruptArchive,Unicorn.Commands.ImportUnicornImageCommand'
        Get-StoreContent | Where-Object { $_ -like '*/tmp/*' -or $_ -like '*/records/*' } | Should -BeNullOrEmpty
    }

    It 'refuses a layer that does not match its digest with DigestMismatch, and keeps nothing of it' {
        $copy = Join-Path $Fixtures 'tampered'
        Copy-Item $Layout $copy -Recurse
        $index = Get-Content "$copy/index.json" | ConvertFrom-Json
        $manifest = Get-Content "$copy/blobs/sha256/$($index.manifests[0].digest.Substring(7))" | ConvertFrom-Json
        $layer = "$copy/blobs/sha256/$($manifest.layers[0].digest.Substring(7))"
        $bytes = [IO.File]::ReadAllBytes($layer); $bytes[100] = $bytes[100] -bxor 0xff; [IO.File]::WriteAllBytes($layer, $bytes)
        $layers = @(Get-ChildItem (Join-Path $env:UNICORN_DATA_ROOT 'images/layers') -ErrorAction Ignore).Count
        { Import-UnicornImage $copy -ErrorAction Stop } | Should -Throw -ErrorId '*,Unicorn.Commands.ImportUnicornImageCommand'
        $Error[0].FullyQualifiedErrorId | Should -BeIn 'DigestMismatch,Unicorn.Commands.ImportUnicornImageCommand', 'CorruptArchive,Unicorn.Commands.ImportUnicornImageCommand'
        @(Get-ChildItem (Join-Path $env:UNICORN_DATA_ROOT 'images/layers') -ErrorAction Ignore).Count | Should -Be $layers
        @(Get-ChildItem (Join-Path $env:UNICORN_DATA_ROOT 'images/tmp') -ErrorAction Ignore) | Should -BeNullOrEmpty
    }

    It 'refuses a directory that is not an OCI layout' {
        { Import-UnicornImage $RootfsDir -ErrorAction Stop } | Should -Throw -ErrorId 'UnsupportedImageFormat,Unicorn.Commands.ImportUnicornImageCommand'
    }
}

Describe 'Hostile images: every byte of a layout is its author''s' {
    BeforeAll {
        # A copy of the umoci layout to tamper with, its index reduced to the v2 image; helpers to
        # add blobs to it and to rewrite its config.
        function Add-Blob([string] $Dir, [byte[]] $Bytes) {
            $digest = 'sha256:' + [Convert]::ToHexStringLower([Security.Cryptography.SHA256]::HashData($Bytes))
            [IO.File]::WriteAllBytes("$Dir/blobs/sha256/$($digest.Substring(7))", $Bytes)
            $digest
        }
        function Add-JsonBlob([string] $Dir, $Object) { Add-Blob $Dir ([Text.Encoding]::UTF8.GetBytes(($Object | ConvertTo-Json -Depth 20 -Compress))) }
        function Set-Index([string] $Dir, [object[]] $Descriptors) {
            @{ schemaVersion = 2; manifests = @($Descriptors) } | ConvertTo-Json -Depth 10 -Compress | Set-Content "$Dir/index.json"
        }
        function Get-V2([string] $Dir) {
            $d = (Get-Content "$Dir/index.json" | ConvertFrom-Json).manifests | Where-Object { $_.annotations.'org.opencontainers.image.ref.name' -eq 'v2' }
            $manifest = Get-Content "$Dir/blobs/sha256/$($d.digest.Substring(7))" -Raw | ConvertFrom-Json
            [pscustomobject]@{ Descriptor = $d; Manifest = $manifest
                Config = Get-Content "$Dir/blobs/sha256/$($manifest.config.digest.Substring(7))" -Raw | ConvertFrom-Json -DateKind String }
        }
        # The v2 image with its config changed by $Edit; the index names only it (as hostile:1).
        function Set-Config([string] $Dir, [scriptblock] $Edit) {
            $v2 = Get-V2 $Dir
            & $Edit $v2.Config
            $bytes = [Text.Encoding]::UTF8.GetBytes(($v2.Config | ConvertTo-Json -Depth 20 -Compress))
            $v2.Manifest.config.digest = Add-Blob $Dir $bytes
            $v2.Manifest.config.size = $bytes.Length
            Set-Index $Dir @{ mediaType = $v2.Descriptor.mediaType; digest = (Add-JsonBlob $Dir $v2.Manifest); size = 1; annotations = @{ 'org.opencontainers.image.ref.name' = 'hostile:1' } }
        }
        # Imports in a child pwsh: a hang or a crash (a stack overflow kills the process) shows as
        # a failure of this test, not as the end of the run. The child is killed, by its id, if it
        # outlives the timeout. Returns the error id and message, or 'imported'.
        function Invoke-ImportInChild([string] $Source, [int] $TimeoutSeconds) {
            $exe = (Get-Process -Id $PID).Path
            $psi = [Diagnostics.ProcessStartInfo]::new($exe)
            if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { $psi.ArgumentList.Add([Environment]::GetCommandLineArgs()[0]) }
            $command = "Import-Module '$ModulePath'; try { `$null = Import-UnicornImage '$Source' -ErrorAction Stop; 'imported' } catch { `$_.FullyQualifiedErrorId.Split(',')[0]; `$_.Exception.Message }"
            foreach ($a in '-NoProfile', '-NonInteractive', '-Command', $command) { $psi.ArgumentList.Add($a) }
            $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true
            $child = [Diagnostics.Process]::Start($psi)
            $out = $child.StandardOutput.ReadToEndAsync(); $err = $child.StandardError.ReadToEndAsync()
            if (-not $child.WaitForExit($TimeoutSeconds * 1000)) {
                $child.Kill($true); $child.WaitForExit()
                throw "The import was still running after $TimeoutSeconds s."
            }
            $child.WaitForExit()
            [pscustomobject]@{ ExitCode = $child.ExitCode; Output = @($out.Result -split "`n" | Where-Object { $_ }); Error = $err.Result }
        }
    }
    BeforeEach {
        $script:Hostile = Join-Path $Fixtures "hostile-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        Copy-Item $Layout $Hostile -Recurse
        $script:StoreBefore = @(Get-StoreContent)
    }
    AfterEach {
        Remove-Item $Hostile -Recurse -Force
        @(Get-StoreContent) | Should -Be $StoreBefore -Because 'a refused image leaves nothing in the store'
    }

    It 'refuses a digest that is not sha256 hex (<Case>) before opening anything' -ForEach @(
        @{ Case = 'a host path in the index'; Digest = 'sha256:../../../../../../../../etc/passwd'; In = 'index' }
        @{ Case = 'a path out of the layout for the config'; Digest = 'sha256:../../../outside'; In = 'config' }
        @{ Case = 'a path out of the layout for a layer'; Digest = 'sha256:../../../outside'; In = 'layer' }
        @{ Case = 'another algorithm'; Digest = 'sha512:' + ('ab' * 64); In = 'index' }
    ) {
        $v2 = Get-V2 $Hostile
        switch ($In) {
            'index' { Set-Index $Hostile @{ mediaType = $v2.Descriptor.mediaType; digest = $Digest; size = 1 } }
            'config' { $v2.Manifest.config.digest = $Digest; Set-Index $Hostile @{ mediaType = $v2.Descriptor.mediaType; digest = (Add-JsonBlob $Hostile $v2.Manifest); size = 1 } }
            'layer' { $v2.Manifest.layers[0].digest = $Digest; Set-Index $Hostile @{ mediaType = $v2.Descriptor.mediaType; digest = (Add-JsonBlob $Hostile $v2.Manifest); size = 1 } }
        }
        { Import-UnicornImage $Hostile -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidDigest,Unicorn.Commands.ImportUnicornImageCommand'
        if ($Digest -like 'sha512:*') { $Error[0].Exception.Message | Should -Match 'only sha256' }
    }

    It 'refuses a blob that is a fifo, without hanging' {
        $v2 = Get-V2 $Hostile
        $blob = "$Hostile/blobs/sha256/$($v2.Descriptor.digest.Substring(7))"
        Remove-Item $blob
        mkfifo $blob
        $result = Invoke-ImportInChild $Hostile -TimeoutSeconds 60
        $result.Output[0] | Should -Be 'UnsafeArchive'
        $result.Output[1] | Should -Match 'fifo'
    }

    It 'refuses a blob that is a symbolic link out of the layout, though its content matches' {
        $v2 = Get-V2 $Hostile
        $blob = "$Hostile/blobs/sha256/$($v2.Descriptor.digest.Substring(7))"
        $outside = "$Hostile.outside"
        Move-Item $blob $outside
        try {
            New-Item -ItemType SymbolicLink -Path $blob -Target $outside | Out-Null
            { Import-UnicornImage $Hostile -ErrorAction Stop } | Should -Throw -ErrorId 'UnsafeArchive,Unicorn.Commands.ImportUnicornImageCommand'
        }
        finally { Remove-Item $outside }
    }

    It 'refuses a chain of 60,000 nested indexes at the depth limit, without crashing' {
        # An OCI archive (one tar, no 60,000 files): index.json -> index -> index ... -> nothing.
        $tar = "$Hostile.tar"
        $stream = [IO.File]::Create($tar)
        $writer = [Formats.Tar.TarWriter]::new($stream, [Formats.Tar.TarEntryFormat]::Ustar, $false)
        $sha = [Security.Cryptography.SHA256]
        $utf8 = [Text.Encoding]::UTF8
        $prefix = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","size":1,"digest":"'
        try {
            $e = [Formats.Tar.UstarTarEntry]::new('RegularFile', 'oci-layout'); $e.DataStream = [IO.MemoryStream]::new($utf8.GetBytes('{"imageLayoutVersion":"1.0.0"}')); $writer.WriteEntry($e)
            $digest = 'sha256:' + ('0' * 64)
            for ($i = 0; $i -lt 60000; $i++) {
                $bytes = $utf8.GetBytes($prefix + $digest + '"}]}')
                $digest = 'sha256:' + [Convert]::ToHexStringLower($sha::HashData($bytes))
                $e = [Formats.Tar.UstarTarEntry]::new('RegularFile', 'blobs/sha256/' + $digest.Substring(7)); $e.DataStream = [IO.MemoryStream]::new($bytes); $writer.WriteEntry($e)
            }
            $e = [Formats.Tar.UstarTarEntry]::new('RegularFile', 'index.json'); $e.DataStream = [IO.MemoryStream]::new($utf8.GetBytes($prefix + $digest + '"}]}')); $writer.WriteEntry($e)
        }
        finally { $writer.Dispose(); $stream.Dispose() }
        try {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $result = Invoke-ImportInChild $tar -TimeoutSeconds 120
            $result.ExitCode | Should -Be 0 -Because "the import must not kill the process ($($result.Error))"
            $result.Output[0] | Should -Be 'ImageTooComplex'
            $result.Output[1] | Should -Match 'more than 8 deep'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 60
        }
        finally { Remove-Item $tar }
    }

    It 'refuses an index of 10,000 entries at once' {
        $v2 = Get-V2 $Hostile
        Set-Index $Hostile @(0..9999 | ForEach-Object { @{ mediaType = $v2.Descriptor.mediaType; digest = $v2.Descriptor.digest; size = $v2.Descriptor.size
                    annotations = @{ 'org.opencontainers.image.ref.name' = "t$_" } } })
        $clock = [Diagnostics.Stopwatch]::StartNew()
        { Import-UnicornImage $Hostile -ErrorAction Stop } | Should -Throw -ErrorId 'ImageTooComplex,Unicorn.Commands.ImportUnicornImageCommand'
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 10
        $Error[0].Exception.Message | Should -Match '10000 manifests'
    }

    It 'stops a small layer that expands past -MaxSize with ImageTooLarge, and keeps nothing of it' {
        # 64 MiB of zeros in a tar, gzipped to some 64 KB.
        $zeros = New-Item -ItemType Directory "$Hostile.zeros"
        try {
            truncate -s 64M "$zeros/zeros"
            tar -C $zeros -czf "$Hostile.bomb.tar.gz" zeros
            (Get-Item "$Hostile.bomb.tar.gz").Length | Should -BeLessThan 1MB
            { Import-UnicornImage "$Hostile.bomb.tar.gz" -Name bomb:1 -MaxSize 8MB -ErrorAction Stop } |
                Should -Throw -ErrorId 'ImageTooLarge,Unicorn.Commands.ImportUnicornImageCommand'
            $Error[0].CategoryInfo.Category | Should -Be 'LimitsExceeded'
            $Error[0].Exception.Message | Should -Match '-MaxSize'
            Get-UnicornImage bomb:1 -ErrorAction Ignore | Should -BeNullOrEmpty
            @(Get-ChildItem (Join-Path $env:UNICORN_DATA_ROOT 'images/tmp') -ErrorAction Ignore) | Should -BeNullOrEmpty
        }
        finally { Remove-Item $zeros, "$Hostile.bomb.tar.gz" -Recurse -Force -ErrorAction Ignore }
    }

    It 'refuses malformed JSON in a blob with CorruptArchive naming the blob' {
        $v2 = Get-V2 $Hostile
        $bad = Add-Blob $Hostile ([Text.Encoding]::UTF8.GetBytes('{"schemaVersion": 2, "config": {"digest": '))
        Set-Index $Hostile @{ mediaType = $v2.Descriptor.mediaType; digest = $bad; size = 1 }
        { Import-UnicornImage $Hostile -ErrorAction Stop } | Should -Throw -ErrorId 'CorruptArchive,Unicorn.Commands.ImportUnicornImageCommand'
        $Error[0].Exception.Message | Should -Match $bad.Substring(7)
        $Error[0].Exception.Message | Should -Match 'not valid JSON'
    }

    It 'refuses a config with <Case>, naming <Named>, before extracting anything' -ForEach @(
        @{ Case = 'a NUL in Env'; Named = 'Env[1]'; Edit = { param($c) $c.config.Env = @('PATH=/bin', "X=1`0LD_PRELOAD=/evil.so") } }
        @{ Case = 'a NUL in WorkingDir'; Named = 'WorkingDir'; Edit = { param($c) $c.config.WorkingDir = "/etc`0/x" } }
        @{ Case = 'a NUL in Cmd'; Named = 'Cmd[2]'; Edit = { param($c) $c.config.Cmd = @('/bin/sh', '-c', "echo`0") } }
        @{ Case = 'an Env entry without a name'; Named = 'Env[0]'; Edit = { param($c) $c.config.Env = @('=oops') } }
        @{ Case = 'a relative WorkingDir'; Named = 'WorkingDir'; Edit = { param($c) $c.config.WorkingDir = 'etc' } }
    ) {
        Get-UnicornImage | Remove-UnicornImage -Force # so that its layers would have to be extracted
        $script:StoreBefore = @(Get-StoreContent)
        Set-Config $Hostile $Edit
        { Import-UnicornImage $Hostile -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidImageConfig,Unicorn.Commands.ImportUnicornImageCommand'
        $Error[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $Error[0].Exception.Message | Should -Match ([regex]::Escape($Named))
        Get-UnicornImage hostile:1 -ErrorAction Ignore | Should -BeNullOrEmpty
    }

    It 'still imports the layout when its config is only rewritten' {
        Get-UnicornImage | Remove-UnicornImage -Force
        $script:StoreBefore = @(Get-StoreContent)
        Set-Config $Hostile { param($c) $c.config.Env = @('PATH=/bin', 'FOO=bar') }
        $image = Import-UnicornImage $Hostile
        $image.Names | Should -Contain 'hostile:1'
        $image.Config.Env | Should -Be 'PATH=/bin', 'FOO=bar'
        $image | Remove-UnicornImage
    }
}

Describe 'Remove-UnicornImage and Export-UnicornRootfs' {
    It 'refuses an image a rootfs uses without -Force, and frees shared layers only when unused' {
        $null = Import-UnicornImage $Layout
        $base = Get-UnicornImage layout:base
        $v2 = Get-UnicornImage layout:v2
        $rootfs = New-UnicornRootfs -Image layout:v2
        { Remove-UnicornImage layout:v2 -ErrorAction Stop } | Should -Throw -ErrorId 'ImageInUse,Unicorn.Commands.RemoveUnicornImageCommand'
        $rootfs | Remove-UnicornRootfs
        Remove-UnicornImage layout:v2
        Test-Path (Join-Path $env:UNICORN_DATA_ROOT "images/layers/$($v2.Layers[1].Substring(7))") | Should -BeFalse
        Test-Path (Join-Path $env:UNICORN_DATA_ROOT "images/layers/$($base.Layers[0].Substring(7))") | Should -BeTrue -Because 'layout:base still has it'
        $base | Remove-UnicornImage
        Test-Path (Join-Path $env:UNICORN_DATA_ROOT "images/layers/$($base.Layers[0].Substring(7))") | Should -BeFalse
    }

    It 'exports a container''s changes as a layer with whiteouts, which imports back' {
        $null = Import-UnicornImage $Layout
        $c = New-UnicornRootfs -Image layout:base | Start-UnicornContainer -Name changer -Wait -Command /bin/sh, -c, 'rm /etc/deleteme; echo added > /added'
        $diff = Join-Path $Fixtures 'diff.tar'
        $c | Export-UnicornRootfs -Path $diff -Diff | Should -Not -BeNullOrEmpty
        $names = tar -tf $diff
        $names | Should -Contain 'etc/.wh.deleteme'
        $names | Should -Contain 'added'
        $full = Join-Path $Fixtures 'full.tar.gz'
        $c | Export-UnicornRootfs -Path $full
        $back = Import-UnicornImage $full -Name exported:1
        $d = $back | New-UnicornRootfs | Start-UnicornContainer -Wait -Command /bin/sh, -c, 'cat /added; test -e /etc/deleteme || echo no-deleteme'
        (Get-UnicornContainerLog $d).Text | Should -Be 'added', 'no-deleteme'
    }
}
