# An sshd of the caller's own, for PowerShell remoting over SSH to localhost (issue 16's fleet use):
# its configuration, host key, client key, known_hosts, log and pid file under one directory; it
# listens on 127.0.0.1 only, on a free port, lets in only root with the key made for it, and runs
# this pwsh as its powershell subsystem. Nothing of the host's /etc/ssh, root's ~/.ssh or a system
# sshd is used or changed. Dot-sourced, after TestSetup.ps1 (Get-PwshCommand), by Sessions.Tests.ps1
# and bench/Measure-Session.ps1.

<#
.SYNOPSIS
Starts /usr/sbin/sshd -D with a configuration in Directory and waits until it listens. Returns what a
client needs: Port, KeyFilePath and Options for New-PSSession/Invoke-Command -HostName ... -UserName
root, and the Process and Directory for Stop-TestSshd.
#>
function Start-TestSshd {
    param([Parameter(Mandatory)] [string] $Directory)
    $sshd = '/usr/sbin/sshd'
    if (-not (Test-Path $sshd)) {
        throw "No sshd at ${sshd}: the fleet test and benchmark run one of their own. build.ps1's Test task installs it (Install-TestTool: apt-get install openssh-server openssh-client); or install openssh-server yourself."
    }
    New-Item -ItemType Directory -Path $Directory -Force | Out-Null
    foreach ($key in 'host_key', 'client_key') { ssh-keygen -q -t ed25519 -N '' -C "unicorn-test-$key" -f "$Directory/$key" }
    Copy-Item "$Directory/client_key.pub" "$Directory/authorized_keys"

    # sshd runs the subsystem through root's shell: a script that starts this very pwsh.
    $pwsh = (Get-PwshCommand | ForEach-Object { "'$_'" }) -join ' '
    Set-Content "$Directory/pwsh-sshs" "#!/bin/sh`nexec $pwsh -sshs -NoLogo -NoProfile"
    chmod 755 "$Directory/pwsh-sshs"

    # sshd's privilege separation directory, which its service makes at start (none has run here):
    # made if missing, and removed by Stop-TestSshd if it made it and it is empty.
    $madeRunSshd = -not (Test-Path /run/sshd)
    if ($madeRunSshd) { New-Item -ItemType Directory -Path /run/sshd -Force | Out-Null; chmod 755 /run/sshd }

    # A free port: the kernel picks one for a listener that closes at once.
    $probe = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $probe.Start(); $port = $probe.LocalEndpoint.Port; $probe.Stop()
    # StrictModes no: the directory is under the world-writable /tmp, which sshd's checks of the
    # authorized keys' path refuse.
    @"
ListenAddress 127.0.0.1:$port
HostKey $Directory/host_key
PidFile $Directory/sshd.pid
AuthorizedKeysFile $Directory/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
Subsystem powershell $Directory/pwsh-sshs
"@ | Set-Content "$Directory/sshd_config"
    # Both names of the client's (the fan-out's two "nodes") know this host key, and only it.
    "[127.0.0.1]:$port,[localhost]:$port $((Get-Content "$Directory/host_key.pub") -replace ' \S+$')" | Set-Content "$Directory/known_hosts"

    $log = "$Directory/sshd.log"
    $process = Start-Process $sshd -ArgumentList '-D', '-e', '-f', "$Directory/sshd_config" -RedirectStandardError $log -PassThru
    $deadline = [datetime]::UtcNow.AddSeconds(15)
    while (-not (Select-String -Path $log -Pattern "Server listening on 127\.0\.0\.1 port $port" -Quiet)) {
        if ($process.HasExited -or [datetime]::UtcNow -gt $deadline) {
            if (-not $process.HasExited) { $process.Kill(); $process.WaitForExit() }
            throw "The test's sshd did not start listening on 127.0.0.1:$port. Its log:`n$(Get-Content $log -Raw)"
        }
        Start-Sleep -Milliseconds 20
    }
    [pscustomobject]@{
        Process = $process; Directory = $Directory; MadeRunSshd = $madeRunSshd; Port = $port; KeyFilePath = "$Directory/client_key"; Log = $log
        # Only this key and this host key: no agent, no prompt, nothing read from or written to ~/.ssh/known_hosts.
        Options = @{ UserKnownHostsFile = "$Directory/known_hosts"; GlobalKnownHostsFile = '/dev/null'; StrictHostKeyChecking = 'yes'
            IdentitiesOnly = 'yes'; IdentityAgent = 'none'; BatchMode = 'yes' }
    }
}

# Ends the sshd that Start-TestSshd started (the pid it got, which sshd also wrote) and the
# connections it forked, which outlive it, then removes its directory.
function Stop-TestSshd($Sshd) {
    if (-not $Sshd) { return }
    $process = $Sshd.Process
    if (-not $process.HasExited) {
        $connections = @(Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$' | Where-Object {
                $stat = Get-Content "$($_.FullName)/stat" -Raw -ErrorAction Ignore
                $stat -and [int]($stat.Substring($stat.LastIndexOf(')') + 2) -split ' ')[1] -eq $process.Id
            } | ForEach-Object { [int]$_.Name })
        foreach ($id in @($process.Id) + $connections) { kill -TERM $id 2>$null }
        if (-not $process.WaitForExit(10000)) { $process.Kill(); $process.WaitForExit() }
        foreach ($id in $connections) {
            $deadline = [datetime]::UtcNow.AddSeconds(10)
            while ((Test-ProcessAlive $id) -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
        }
    }
    Remove-Item $Sshd.Directory -Recurse -Force -ErrorAction Ignore
    if ($Sshd.MadeRunSshd -and -not (Get-ChildItem /run/sshd -Force -ErrorAction Ignore)) { Remove-Item /run/sshd -ErrorAction Ignore }
}
