# The host's pwsh in a container: what a PowerShell session into a container runs when the image
# has no pwsh of its own (the engine's StartPowerShell binds it in for the session alone). Here the
# test rootfs that sessions' tests use is checked to run it, bound in by plain volumes.

BeforeAll {
    . $PSScriptRoot/TestSetup.ps1
    Initialize-UnicornTest
}

AfterAll { Complete-UnicornTest }

Describe 'New-GlibcTestRootfs' -Tag 'Root', 'Container' {
    It 'makes a root filesystem that runs the host''s pwsh, its server mode included' {
        $root = New-GlibcTestRootfs
        Get-ChildItem $root -Recurse -Filter 'ld-linux*' | Should -Not -BeNullOrEmpty -Because 'the loader is what makes it a glibc root'
        $dotnet = Join-Path ([Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory()) ../../.. | Resolve-Path | ForEach-Object Path
        # Its version, then the server mode's answer to the remoting protocol's smallest message.
        $close = "<Close PSGuid='00000000-0000-0000-0000-000000000000' />"
        $script = "exec > /tmp/out 2>&1; /dotnet/dotnet /pwsh/pwsh.dll -NoProfile -c '`$PSVersionTable.PSVersion.ToString()'; echo `"$close`" | /dotnet/dotnet /pwsh/pwsh.dll -s -NoLogo -NoProfile"
        $c = Start-UnicornContainer -RootfsPath $root -Volume "${dotnet}:/dotnet:ro", "${PSHOME}:/pwsh:ro" `
            -Environment @{ DOTNET_SYSTEM_GLOBALIZATION_INVARIANT = '1' } -Command /bin/sh, -c, $script -Wait
        $output = @(Get-Content (Join-Path $root tmp/out))
        $output[0] | Should -Be $PSVersionTable.PSVersion.ToString()
        $output[1] | Should -Be $close.Replace('Close', 'CloseAck')
        $c | Remove-UnicornContainer
    }
}
