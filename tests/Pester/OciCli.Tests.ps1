#Requires -Version 7.6
# `unicorn`, the OCI runtime command line, end to end (issue 15): runc's commands on bundles made
# here (a busybox rootfs, `unicorn spec`'s config), with what podman and containerd expect of them
# (/work/oci-fixtures/README.md: exact strings, pid files, the --log file, nothing on stderr on
# success). Every container lives under this run's --root and cgroup parent; processes are marked
# (OCI_TEST_MARK in their environment) so that the run can tell that none of its own is left.
# Orphaned inits (after create, exec --detach) are reaped by pid 1, as with any runtime whose
# caller is not a subreaper.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    Initialize-UnicornTest
    $script:Unicorn = Join-Path $script:ModulePath 'bin/unicorn'
    $script:OciRoot = Join-Path $script:TestRoot 'oci'
    $script:Mark = "OCI_TEST_MARK=$($script:TestRoot)"
    $script:Parent = $env:UNICORN_CGROUP_PARENT
    $script:Busybox = (Get-Command busybox -CommandType Application)[0].Source
    $script:Applets = & $script:Busybox --list

    # Runs unicorn with this run's --root (unless -NoRoot); stdout and stderr go to files (a
    # container made by create keeps them open), stdin from -InputText or /dev/null.
    function Invoke-Oci {
        param([Parameter(Mandatory, Position = 0)] [string[]] $Arguments, [string] $InputText, [switch] $NoRoot)
        $base = Join-Path $script:TestRoot "call-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        [IO.File]::WriteAllText("$base.in", $(if ($InputText) { $InputText } else { '' }))
        $all = @(if (-not $NoRoot) { '--root', $script:OciRoot }) + $Arguments
        & /bin/sh -c 'b=$1; shift; exec env "$MARK" "$@" <"$b.in" >"$b.out" 2>"$b.err"' sh $base $script:Unicorn @all
        $code = $LASTEXITCODE
        $result = [pscustomobject]@{
            Out = [IO.File]::ReadAllText("$base.out"); Err = [IO.File]::ReadAllText("$base.err"); Code = $code
        }
        Remove-Item "$base.in", "$base.out", "$base.err"
        $result
    }
    $env:MARK = $script:Mark

    # A bundle: its own busybox rootfs (writable), `unicorn spec`'s config with the command, no
    # terminal, the cgroup under this run's parent; $Edit changes the config further.
    function New-OciBundle {
        param([Parameter(Mandatory)] [string] $Id, [Parameter(Mandatory)] [string[]] $Command, [scriptblock] $Edit)
        $bundle = Join-Path $script:TestRoot "bundles/$Id"
        $rootfs = Join-Path $bundle 'rootfs'
        foreach ($d in 'bin', 'etc', 'proc', 'sys', 'dev', 'tmp') { New-Item -ItemType Directory -Path (Join-Path $rootfs $d) -Force | Out-Null }
        Copy-Item $script:Busybox (Join-Path $rootfs 'bin/busybox')
        foreach ($a in $script:Applets) { if ($a -ne 'busybox') { New-Item -ItemType SymbolicLink -Path (Join-Path $rootfs "bin/$a") -Value busybox | Out-Null } }
        Set-Content (Join-Path $rootfs 'etc/hostname') "box-$Id"
        (Invoke-Oci -NoRoot spec, --bundle, $bundle).Code | Should -Be 0
        $config = Get-Content (Join-Path $bundle 'config.json') -Raw | ConvertFrom-Json
        $config.process.terminal = $false
        $config.process.args = $Command
        $config.process.env += $script:Mark
        $config.root.readonly = $false
        $config.linux | Add-Member cgroupsPath "/$($script:Parent)/$Id"
        if ($Edit) { & $Edit $config }
        $config | ConvertTo-Json -Depth 20 | Set-Content (Join-Path $bundle 'config.json')
        $bundle
    }

    function Get-OciState([string] $Id) {
        $r = Invoke-Oci state, $Id
        $r.Code | Should -Be 0 -Because $r.Err
        $r.Err | Should -BeNullOrEmpty -Because 'go-runc parses stdout and stderr together'
        $r.Out | ConvertFrom-Json
    }

    function Wait-OciStatus([string] $Id, [string] $Status) {
        Wait-Until { (Get-OciState $Id).status -eq $Status }
    }

    # The container's cgroup directories, in every hierarchy.
    function Get-OciCgroup([string] $Id) {
        @(Get-Item "/sys/fs/cgroup/*/$($script:Parent)/$Id", "/sys/fs/cgroup/$($script:Parent)/$Id" -ErrorAction Ignore)
    }

    # A cgroup file of the container: the v1 hierarchy's, else the v2 one's.
    function Get-OciCgroupValue([string] $Id, [string] $V1, [string] $V2) {
        $v1Path = "/sys/fs/cgroup/$V1" -replace '^(/sys/fs/cgroup/[^/]+)/', "`$1/$($script:Parent)/$Id/"
        $path = if (Test-Path $v1Path) { $v1Path } else { "/sys/fs/cgroup/$($script:Parent)/$Id/$V2" }
        (Get-Content $path -Raw).Trim()
    }

    # Live processes of this run (the mark in their environment), other than this one.
    function Get-OciTestProcess {
        foreach ($dir in Get-ChildItem /proc -Directory -ErrorAction Ignore | Where-Object Name -Match '^\d+$') {
            $id = [int]$dir.Name
            if ($id -eq $PID) { continue }
            try { $environ = [IO.File]::ReadAllText("/proc/$id/environ") } catch { continue }
            if ($environ.Split([char]0) -contains $script:Mark -and (Test-ProcessAlive $id)) { $id }
        }
    }

    # Nothing of container id left: no state directory, no cgroup.
    function Assert-OciGone([string] $Id) {
        Test-Path (Join-Path $script:OciRoot $Id) | Should -BeFalse -Because 'its state directory goes'
        Get-OciCgroup $Id | Should -BeNullOrEmpty -Because 'its cgroup goes'
    }

    $script:Daemon = @('sh', '-c', 'echo ran > /ran; trap "exit 0" TERM; sleep 1000 & wait')
}

AfterAll {
    foreach ($dir in Get-ChildItem $script:OciRoot -Directory -ErrorAction Ignore) { $null = Invoke-Oci delete, --force, $dir.Name }
    Start-Sleep -Milliseconds 200
    $left = @(Get-OciTestProcess)
    $left | ForEach-Object { Stop-Process -Id $_ -Force -ErrorAction Ignore }
    $states = @(Get-ChildItem $script:OciRoot -ErrorAction Ignore)
    Remove-Item Env:MARK
    Complete-UnicornTest
    $left | Should -BeNullOrEmpty -Because 'no container process may outlive the run'
    $states | Should -BeNullOrEmpty -Because 'every container is deleted'
}

Describe 'unicorn run' {
    It 'passes the output and the exit code through' {
        $bundle = New-OciBundle -Id run-exit -Command sh, -c, 'echo hello from $(hostname); exit 3'
        $r = Invoke-Oci run, --bundle, $bundle, run-exit
        $r.Out | Should -Be "hello from unicorn`n"
        $r.Err | Should -BeNullOrEmpty
        $r.Code | Should -Be 3
        Assert-OciGone run-exit
    }

    It 'exits 128+n when the command is killed by signal n' {
        # Without a pid namespace the shell is no init, so its own SIGTERM kills it.
        $bundle = New-OciBundle -Id run-signal -Command sh, -c, 'kill -TERM $$; sleep 5' -Edit {
            param($c) $c.linux.namespaces = @($c.linux.namespaces | Where-Object type -ne pid)
        }
        (Invoke-Oci run, --bundle, $bundle, run-signal).Code | Should -Be 143
        Assert-OciGone run-signal
    }

    It 'runs detached: running, killed, stopped, deleted' {
        $bundle = New-OciBundle -Id run-detach -Command $script:Daemon
        $r = Invoke-Oci run, --detach, --bundle, $bundle, run-detach
        $r.Code | Should -Be 0 -Because $r.Err
        (Get-OciState run-detach).status | Should -Be running
        (Invoke-Oci kill, run-detach, KILL).Code | Should -Be 0
        Wait-OciStatus run-detach stopped
        (Get-OciState run-detach).pid | Should -Be 0
        (Invoke-Oci delete, run-detach).Code | Should -Be 0
        Assert-OciGone run-detach
    }
}

Describe 'create, start, state, kill, delete' {
    It 'parks the init at create and runs the command at start' {
        $bundle = New-OciBundle -Id life -Command $script:Daemon
        $pidFile = Join-Path $bundle 'init.pid'
        $r = Invoke-Oci create, --bundle, $bundle, --pid-file, $pidFile, life
        $r.Code | Should -Be 0 -Because $r.Err
        $r.Out + $r.Err | Should -BeNullOrEmpty

        $pidText = [IO.File]::ReadAllText($pidFile)
        $pidText | Should -Match '^\d+$' -Because 'go-runc reads it with strconv.Atoi: decimal, no newline'
        $state = Get-OciState life
        $state.status | Should -Be created
        $state.pid | Should -Be ([int]$pidText)
        Test-ProcessAlive $state.pid | Should -BeTrue
        Start-Sleep -Milliseconds 200
        Test-Path (Join-Path $bundle 'rootfs/ran') | Should -BeFalse -Because 'the command runs at start, not before'

        (Invoke-Oci start, life).Code | Should -Be 0
        Wait-Until { Test-Path (Join-Path $bundle 'rootfs/ran') }
        $state = Get-OciState life
        $state.ociVersion | Should -Not -BeNullOrEmpty
        $state.id | Should -Be life
        $state.status | Should -Be running
        $state.pid | Should -Be ([int]$pidText)
        $state.bundle | Should -Be $bundle
        $state.rootfs | Should -Be (Join-Path $bundle rootfs)
        [datetime]::Parse($state.created).ToUniversalTime() | Should -BeLessOrEqual ([datetime]::UtcNow)
        $state.PSObject.Properties.Name | Should -Contain owner

        (Invoke-Oci kill, life, TERM).Code | Should -Be 0
        Wait-OciStatus life stopped
        (Get-OciState life).pid | Should -Be 0
        (Invoke-Oci delete, life).Code | Should -Be 0
        Assert-OciGone life

        $r = Invoke-Oci state, life
        $r.Code | Should -Be 1
        $r.Out | Should -BeNullOrEmpty
        $r.Err | Should -BeLike '*container "life" does not exist*'
    }

    It 'refuses what runc refuses, with its words' {
        $bundle = New-OciBundle -Id refuse -Command $script:Daemon
        (Invoke-Oci create, --bundle, $bundle, refuse).Code | Should -Be 0
        $again = Invoke-Oci create, --bundle, $bundle, refuse
        $again.Code | Should -Be 1
        $again.Err | Should -BeLike '*exists*'
        (Invoke-Oci start, refuse).Code | Should -Be 0
        $twice = Invoke-Oci start, refuse
        $twice.Code | Should -Be 1
        $twice.Err | Should -Not -BeNullOrEmpty

        $r = Invoke-Oci delete, refuse
        $r.Code | Should -Be 1
        $r.Err | Should -BeLike '*cannot delete container refuse that is not stopped: running*'
        (Get-OciState refuse).status | Should -Be running

        (Invoke-Oci kill, refuse, 9).Code | Should -Be 0 -Because 'a signal may come as a number (podman)'
        Wait-OciStatus refuse stopped
        $r = Invoke-Oci start, refuse
        $r.Code | Should -Be 1
        $r.Err | Should -BeLike '*stopped*'
        $r = Invoke-Oci kill, refuse, TERM
        $r.Code | Should -Be 1
        $r.Err | Should -BeLike '*container not running*' -Because "containerd's checkKillError looks for it"
        (Invoke-Oci delete, refuse).Code | Should -Be 0
        Assert-OciGone refuse

        $r = Invoke-Oci kill, nosuch, TERM
        $r.Code | Should -Be 1
        $r.Err | Should -BeLike '*does not exist*'
        $r = Invoke-Oci delete, --force, nosuch
        $r.Code | Should -Be 0 -Because "the containerd shim's delete --force counts on it"
        $r.Out + $r.Err | Should -BeNullOrEmpty
        (Invoke-Oci delete, nosuch).Err | Should -BeLike '*does not exist*'
    }

    It 'deletes a running container with --force, its processes killed' {
        $bundle = New-OciBundle -Id forced -Command $script:Daemon
        (Invoke-Oci run, -d, --bundle, $bundle, forced).Code | Should -Be 0
        $init = (Get-OciState forced).pid
        $pids = (Invoke-Oci ps, --format, json, forced).Out | ConvertFrom-Json
        $pids.Count | Should -Be 2 -Because 'the shell and its sleep'
        (Invoke-Oci delete, --force, forced).Code | Should -Be 0
        foreach ($p in $pids) { Test-ProcessAlive $p | Should -BeFalse }
        Test-ProcessAlive $init | Should -BeFalse
        Assert-OciGone forced
    }

    It 'deletes a created container (its parked init killed)' {
        $bundle = New-OciBundle -Id parked -Command $script:Daemon
        (Invoke-Oci create, --bundle, $bundle, parked).Code | Should -Be 0
        $init = (Get-OciState parked).pid
        (Invoke-Oci delete, parked).Code | Should -Be 0
        Wait-Until { -not (Test-ProcessAlive $init) }
        Assert-OciGone parked
        Test-Path (Join-Path $bundle 'rootfs/ran') | Should -BeFalse
    }

    It 'fails a missing command (<Command>) at create with the words podman maps to 127, leaving nothing' -ForEach @(
        @{ Command = '/no/such'; Words = '*no such file or directory*' }
        @{ Command = 'nosuchcommand'; Words = '*executable file not found*' }
    ) {
        $id = "missing-$($Command -replace '\W', '')"
        $bundle = New-OciBundle -Id $id -Command $Command
        $log = Join-Path $bundle 'oci-log'
        $r = Invoke-Oci --log-format=json, --log, $log, create, --bundle, $bundle, --pid-file, (Join-Path $bundle pid), $id
        $r.Code | Should -Be 1
        $r.Err | Should -BeLike $Words
        $lines = @(Get-Content $log)
        $lines.Count | Should -Be 1 -Because 'podman unmarshals the whole file as one object'
        ($lines[0] | ConvertFrom-Json).msg | Should -BeLike $Words
        Assert-OciGone $id
        Test-Path (Join-Path $bundle pid) | Should -BeFalse
        Get-OciTestProcess | Should -BeNullOrEmpty
        (Invoke-Oci delete, --force, $id).Code | Should -Be 0 -Because 'podman and containerd delete --force after a failed create'
    }
}

Describe 'the --log file' {
    It 'appends one <Format> line per failed call, and nothing for a successful state or ps' -ForEach @(
        @{ Format = 'json' }
        @{ Format = 'text' }
    ) {
        $log = Join-Path $script:TestRoot "log-$Format"
        $r = Invoke-Oci --log, $log, --log-format, $Format, state, nosuch
        $r.Code | Should -Be 1
        $r.Err | Should -BeLike '*does not exist*'
        $null = Invoke-Oci --log, $log, --log-format, $Format, kill, nosuch, 9
        $lines = @(Get-Content $log)
        $lines.Count | Should -Be 2 -Because 'the file is appended to, never truncated'
        foreach ($line in $lines) {
            if ($Format -eq 'json') {
                $entry = $line | ConvertFrom-Json
                $entry.level | Should -Be error
                $entry.msg | Should -BeLike '*container "nosuch" does not exist*'
                { [datetime]::Parse($entry.time) } | Should -Not -Throw
            }
            else {
                $line | Should -Match '^time="[^"]+" level=error msg="container \\"nosuch\\" does not exist"$'
            }
        }

        $bundle = New-OciBundle -Id "log-$Format" -Command $script:Daemon
        (Invoke-Oci --log, $log, --log-format, $Format, run, -d, --bundle, $bundle, "log-$Format").Code | Should -Be 0
        foreach ($call in @('state', "log-$Format"), @('ps', '--format', 'json', "log-$Format")) {
            $r = Invoke-Oci (@('--log', $log, '--log-format', $Format) + $call)
            $r.Code | Should -Be 0
            $r.Err | Should -BeNullOrEmpty
        }
        @(Get-Content $log).Count | Should -Be 2
        (Invoke-Oci delete, --force, "log-$Format").Code | Should -Be 0
    }
}

Describe 'exec' {
    BeforeAll {
        $script:ExecBundle = New-OciBundle -Id exec -Command $script:Daemon
        (Invoke-Oci run, -d, --bundle, $script:ExecBundle, exec).Code | Should -Be 0
        $script:ExecInit = (Get-OciState exec).pid
    }
    AfterAll {
        $null = Invoke-Oci delete, --force, exec
    }

    It 'runs a command given as arguments, its exit code passed through' {
        $r = Invoke-Oci exec, exec, sh, -c, 'cat /etc/hostname; echo $FOO; exit 4', --env, FOO=bar
        $r.Out | Should -Be "box-exec`n`n" -Because 'flags after the command are its own'
        $r.Code | Should -Be 4
        $r = Invoke-Oci exec, --env, FOO=bar, --cwd, /tmp, exec, sh, -c, 'echo $FOO $(pwd) $(id -u)'
        $r.Out | Should -Be "bar /tmp 0`n"
        $r.Code | Should -Be 0
        (Invoke-Oci exec, --user, 1000:1000, exec, id, -u).Out | Should -Be "1000`n"
    }

    It 'keeps a foreground exec''s waiting launcher out of the container''s cgroup' {
        $exec = Start-Process -PassThru -FilePath $script:Unicorn -ArgumentList '--root', $script:OciRoot, 'exec', 'exec', 'sleep', '1003' -RedirectStandardOutput /dev/null
        try {
            Wait-Until { (Invoke-Oci ps, --format, json, exec).Out | ConvertFrom-Json | Where-Object { (Get-Content "/proc/$_/cmdline" -Raw) -match '^sleep.1003' } }
            foreach ($p in (Invoke-Oci ps, --format, json, exec).Out | ConvertFrom-Json) {
                Get-Content "/proc/$p/cmdline" -Raw | Should -Not -BeLike '*unicorn-launcher*' -Because 'ps lists the container''s processes only, and its pids limit counts only them'
            }
        } finally {
            $exec.Kill($true) # unicorn, the launcher and the sleep: all started by this test
            $exec.WaitForExit()
        }
    }

    It 'runs a process file detached, in the container''s namespaces, with a pid file' {
        $process = @{
            terminal = $false; user = @{ uid = 0; gid = 0 }; args = @('sleep', '1001'); cwd = '/'
            env = @('PATH=/bin', $script:Mark)
        }
        $file = Join-Path $script:TestRoot 'process.json'
        $process | ConvertTo-Json -Depth 5 | Set-Content $file
        $pidFile = Join-Path $script:TestRoot 'exec.pid'
        $r = Invoke-Oci exec, --process, $file, --detach, --pid-file, $pidFile, exec
        $r.Code | Should -Be 0 -Because $r.Err
        $text = [IO.File]::ReadAllText($pidFile)
        $text | Should -Match '^\d+$'
        $execPid = [int]$text
        Test-ProcessAlive $execPid | Should -BeTrue
        (Get-Content "/proc/$execPid/cmdline" -Raw) | Should -Be "sleep`01001`0"
        foreach ($ns in 'pid', 'mnt', 'net', 'uts', 'ipc') {
            (Get-Item "/proc/$execPid/ns/$ns").LinkTarget | Should -Be (Get-Item "/proc/$($script:ExecInit)/ns/$ns").LinkTarget
        }
        $pids = (Invoke-Oci ps, --format, json, exec).Out | ConvertFrom-Json
        $pids | Should -Contain $script:ExecInit
        $pids | Should -Contain $execPid
        Stop-Process -Id $execPid -Force
    }

    It 'lists, pauses and resumes the processes; refuses an exec while paused' {
        $file = Join-Path $script:TestRoot 'sleep.json'
        @{ user = @{ uid = 0; gid = 0 }; args = @('sleep', '1002'); cwd = '/'; env = @('PATH=/bin', $script:Mark) } | ConvertTo-Json | Set-Content $file
        $pidFile = Join-Path $script:TestRoot 'sleep.pid'
        (Invoke-Oci exec, -p, $file, -d, --pid-file, $pidFile, exec).Code | Should -Be 0
        $sleep = [int][IO.File]::ReadAllText($pidFile)
        $r = Invoke-Oci ps, --format, json, exec
        $r.Err | Should -BeNullOrEmpty
        $pids = $r.Out | ConvertFrom-Json
        $pids | Should -Contain $script:ExecInit
        $pids | Should -Contain $sleep

        (Invoke-Oci pause, exec).Code | Should -Be 0
        (Get-OciState exec).status | Should -Be paused
        $freezer = if (Test-Path "/sys/fs/cgroup/freezer/$($script:Parent)/exec") {
            Get-OciCgroupValue exec freezer/freezer.state cgroup.freeze
        } else { Get-OciCgroupValue exec none cgroup.freeze }
        $freezer | Should -BeIn 'FROZEN', '1'
        $r = Invoke-Oci exec, exec, true
        $r.Code | Should -Not -Be 0
        $r.Err | Should -BeLike '*paused*'
        (Invoke-Oci resume, exec).Code | Should -Be 0
        (Get-OciState exec).status | Should -Be running
        (Invoke-Oci exec, exec, true).Code | Should -Be 0
        Stop-Process -Id $sleep -Force
    }

    It 'changes the limits with update' {
        $r = Invoke-Oci update, --resources, -, exec -InputText '{"memory":{"limit":67108864},"pids":{"limit":77}}'
        $r.Code | Should -Be 0 -Because $r.Err
        Get-OciCgroupValue exec memory/memory.limit_in_bytes memory.max | Should -Be 67108864
        Get-OciCgroupValue exec pids/pids.max pids.max | Should -Be 77
        (Invoke-Oci update, --pids-limit, 88, exec).Code | Should -Be 0
        Get-OciCgroupValue exec pids/pids.max pids.max | Should -Be 88
        Get-OciCgroupValue exec memory/memory.limit_in_bytes memory.max | Should -Be 67108864 -Because 'what is not named stays'
        $file = Join-Path $script:TestRoot 'resources.json'
        '{"pids":{"limit":99}}' | Set-Content $file
        (Invoke-Oci update, --resources, $file, exec).Code | Should -Be 0
        Get-OciCgroupValue exec pids/pids.max pids.max | Should -Be 99
    }

    It 'refuses an exec into a stopped container' {
        $bundle = New-OciBundle -Id exec-stopped -Command true
        (Invoke-Oci create, --bundle, $bundle, exec-stopped).Code | Should -Be 0
        (Invoke-Oci start, exec-stopped).Code | Should -Be 0
        Wait-OciStatus exec-stopped stopped
        $r = Invoke-Oci exec, exec-stopped, true
        $r.Code | Should -Not -Be 0
        $r.Err | Should -Not -BeNullOrEmpty
        (Invoke-Oci delete, exec-stopped).Code | Should -Be 0
    }
}

Describe 'descriptors and terminals' {
    It 'passes fd 3 on with --preserve-fds 1' {
        $secret = Join-Path $script:TestRoot 'secret'
        Set-Content $secret 'through fd 3'
        $bundle = New-OciBundle -Id fds -Command sh, -c, 'cat /proc/self/fd/3; ls /proc/$$/fd; true'
        # fd 4 is open in unicorn too, but not preserved.
        $out = & /bin/sh -c 'exec 3<"$1" 4<"$1"; shift; exec env "$MARK" "$@"' sh $secret $script:Unicorn --root $script:OciRoot run --preserve-fds 1 --bundle $bundle fds
        $LASTEXITCODE | Should -Be 0
        $out[0] | Should -Be 'through fd 3'
        $out[1..($out.Count - 1)] | Should -Be '0', '1', '2', '3' -Because 'only the preserved descriptors reach the container'
    }

    It 'sends the terminal''s master to --console-socket' {
        $socket = Join-Path $script:TestRoot 'console.sock'
        $output = Join-Path $script:TestRoot 'console.out'
        # runc's recvtty: accept one connection, take the fd (SCM_RIGHTS), read it to the end.
        $receiver = @'
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
msg, anc, _, _ = c.recvmsg(1024, socket.CMSG_LEN(4))
fds = array.array('i'); fds.frombytes(anc[0][2][:4])
data = b''
while True:
    try: chunk = os.read(fds[0], 4096)
    except OSError: break
    if not chunk: break
    data += chunk
open(sys.argv[2], 'wb').write(data)
'@
        Set-Content (Join-Path $script:TestRoot 'recvtty.py') $receiver
        $py = Start-Process python3 -ArgumentList (Join-Path $script:TestRoot 'recvtty.py'), $socket, $output -PassThru
        Wait-Until { Test-Path $socket }
        $bundle = New-OciBundle -Id console -Command sh, -c, 'test -t 0 && test -t 1 && echo on a tty $(tty)' -Edit { param($c) $c.process.terminal = $true }
        $r = Invoke-Oci run, --console-socket, $socket, --bundle, $bundle, console
        $r.Code | Should -Be 0 -Because $r.Err
        $py.WaitForExit(10000) | Should -BeTrue
        (Get-Content $output -Raw) | Should -BeLike 'on a tty /dev/*'
    }
}

Describe 'a terminal of its own (no --console-socket), as runc gives one' {
    BeforeAll {
        # One unicorn command in a terminal (TestSetup.ps1: Start-TestTerminal), with the
        # terminal's settings saved before it and after (stty -g), and its exit code shown.
        function Start-OciTerminal([string[]] $Arguments) {
            $script:Stty = Join-Path $script:TestRoot "stty-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
            $command = ($Arguments | ForEach-Object { "'$_'" }) -join ' '
            Start-TestTerminal ("stty -g > $($script:Stty).before; env '$($script:Mark)' '$($script:Unicorn)' --root '$($script:OciRoot)' " +
                "$command; echo code=`$?; stty -g > $($script:Stty).after; exec sleep 600")
        }
        function Assert-OciTerminalRestored {
            Wait-Until { Test-Path "$($script:Stty).after" }
            Get-Content "$($script:Stty).after" | Should -Be (Get-Content "$($script:Stty).before") -Because 'the terminal is restored'
        }
    }
    AfterAll { Stop-TestTerminal }

    It 'runs unicorn spec''s default (terminal true, sh) interactively: raw, sized, Ctrl+C its own, exit code ours' {
        $bundle = New-OciBundle -Id tty-run -Command sh -Edit { param($c) $c.process.terminal = $true }
        Start-OciTerminal run, --bundle, $bundle, tty-run
        Wait-Screen '/ #$' | Out-Null
        $pane = tmux -L $script:Terminal display-message -p -t t '#{pane_tty}'
        (stty -F $pane -a) -join ' ' | Should -Match '-icanon' -Because 'the host terminal is raw while it runs'
        Send-Keys 'echo $((6*7)); tty; stty size'
        Wait-Screen '(?m)^42\s*\n/dev/pts/\d+\s*\n30 100' | Out-Null
        tmux -L $script:Terminal resize-window -t t -x 90 -y 25
        Start-Sleep -Milliseconds 300
        Send-Keys 'stty size'
        Wait-Screen '(?m)^25 90' | Out-Null
        Send-Keys 'sleep 100'
        Start-Sleep -Milliseconds 300
        tmux -L $script:Terminal send-keys -t t C-c
        Send-Keys 'echo after-$((1+1))'
        Wait-Screen '(?m)^after-2' | Out-Null
        Send-Keys 'exit 3'
        Wait-Screen '(?m)^code=3' | Out-Null
        Assert-OciTerminalRestored
        Assert-OciGone tty-run
    }

    It 'runs with stdin a pipe: the input reaches the shell, its exit code is ours' {
        $bundle = New-OciBundle -Id tty-pipe -Command sh -Edit { param($c) $c.process.terminal = $true }
        $r = Invoke-Oci run, --bundle, $bundle, tty-pipe -InputText "echo hi; exit 3`n"
        $r.Code | Should -Be 3 -Because $r.Err
        $r.Out -split '\r?\n' | Should -Contain 'hi'
        Assert-OciGone tty-pipe
    }

    It 'runs exec -t interactively' {
        $bundle = New-OciBundle -Id tty-exec -Command $script:Daemon
        (Invoke-Oci run, -d, --bundle, $bundle, tty-exec).Code | Should -Be 0
        Start-OciTerminal exec, -t, tty-exec, sh
        Wait-Screen '/ #$' | Out-Null
        Send-Keys 'tty; cat /etc/hostname'
        Wait-Screen '(?m)^/dev/pts/\d+\s*\nbox-tty-exec' | Out-Null
        Send-Keys 'exit 4'
        Wait-Screen '(?m)^code=4' | Out-Null
        Assert-OciTerminalRestored
        (Get-OciState tty-exec).status | Should -Be running
        (Invoke-Oci delete, --force, tty-exec).Code | Should -Be 0
    }

    It 'refuses a terminal with no console socket when it would detach: <Name>' -ForEach @(
        @{ Name = 'create'; Arguments = @('create') }, @{ Name = 'run -d'; Arguments = @('run', '-d') }
    ) {
        $id = "tty-$($Arguments[-1] -replace '^-')"
        $bundle = New-OciBundle -Id $id -Command sh -Edit { param($c) $c.process.terminal = $true }
        $r = Invoke-Oci ($Arguments + '--bundle', $bundle, $id)
        $r.Code | Should -Be 1
        $r.Err | Should -BeLike 'cannot allocate tty if unicorn will detach without setting console socket*'
        Assert-OciGone $id
    }

    It 'refuses exec -t -d with no console socket' {
        $bundle = New-OciBundle -Id tty-exec-d -Command $script:Daemon
        (Invoke-Oci run, -d, --bundle, $bundle, tty-exec-d).Code | Should -Be 0
        $r = Invoke-Oci exec, -t, -d, tty-exec-d, sh
        $r.Code | Should -Be 1
        $r.Err | Should -BeLike 'cannot allocate tty*console socket*'
        (Invoke-Oci ps, --format, json, tty-exec-d).Out | ConvertFrom-Json | Should -HaveCount 2 -Because 'nothing was started: the daemon''s shell and sleep'
        (Invoke-Oci delete, --force, tty-exec-d).Code | Should -Be 0
    }
}

Describe 'crash consistency' {
    It 'cleans up with delete --force after create was killed <Delay> ms into it' -ForEach @(
        @{ Delay = 0 }, @{ Delay = 2 }, @{ Delay = 5 }, @{ Delay = 10 }, @{ Delay = 20 }, @{ Delay = 40 }
    ) {
        $id = "crash-$Delay"
        $bundle = New-OciBundle -Id $id -Command $script:Daemon
        $start = [Diagnostics.ProcessStartInfo]::new('/usr/bin/env')
        foreach ($a in $script:Mark, $script:Unicorn, '--root', $script:OciRoot, 'create', '--bundle', $bundle, '--pid-file', "$bundle/pid", $id) { $start.ArgumentList.Add($a) }
        $start.RedirectStandardOutput = $start.RedirectStandardError = $false
        $create = [Diagnostics.Process]::Start($start)
        $dir = Join-Path $script:OciRoot $id
        Wait-Until { (Test-Path $dir) -or $create.HasExited }
        if ($Delay) { Start-Sleep -Milliseconds $Delay }
        $create.Kill()
        $create.WaitForExit()

        $r = Invoke-Oci delete, --force, $id
        $r.Code | Should -Be 0 -Because $r.Err
        Start-Sleep -Milliseconds 300 # a launcher left behind would show by now
        Assert-OciGone $id
        Get-OciTestProcess | Should -BeNullOrEmpty
        Test-Path (Join-Path $bundle 'rootfs/ran') | Should -BeFalse
    }

    It 'reports a garbage state.json clearly, and delete --force still cleans up' {
        $bundle = New-OciBundle -Id garbage -Command $script:Daemon
        (Invoke-Oci run, -d, --bundle, $bundle, garbage).Code | Should -Be 0
        $init = (Get-OciState garbage).pid
        $record = Join-Path $script:OciRoot 'garbage/state.json'
        Set-Content $record 'not json {'
        $r = Invoke-Oci state, garbage
        $r.Code | Should -Be 1
        $r.Out | Should -BeNullOrEmpty
        $r.Err | Should -BeLike "*$record*"
        $r = Invoke-Oci delete, --force, garbage
        $r.Code | Should -Be 0 -Because $r.Err
        Wait-Until { -not (Test-ProcessAlive $init) }
        Assert-OciGone garbage
    }
}

Describe 'features, spec, version' {
    It 'prints the features' {
        $r = Invoke-Oci -NoRoot features
        $r.Code | Should -Be 0
        $f = $r.Out | ConvertFrom-Json
        $f.ociVersionMax | Should -Not -BeNullOrEmpty
        $f.ociVersionMin | Should -Not -BeNullOrEmpty
    }

    It 'writes a config.json with spec, and will not overwrite one' {
        $dir = New-Item -ItemType Directory (Join-Path $script:TestRoot 'spec')
        (Invoke-Oci -NoRoot spec, --bundle, $dir).Code | Should -Be 0
        $config = Get-Content (Join-Path $dir config.json) -Raw | ConvertFrom-Json
        $config.root.path | Should -Be rootfs
        $config.process.args | Should -Not -BeNullOrEmpty
        $r = Invoke-Oci -NoRoot spec, --bundle, $dir
        $r.Code | Should -Be 1
        $r.Err | Should -BeLike '*exists*'
    }

    It 'prints its version' {
        $r = Invoke-Oci -NoRoot --version
        $r.Code | Should -Be 0
        $r.Out | Should -Match '^unicorn version \d+\.\d+'
        $r.Out | Should -Match 'spec: 1\.'
    }
}

Describe 'hostile bundles' {
    It 'refuses a mount whose destination is a symlink to <Target>, or lands it inside the root' -ForEach @(
        @{ Target = '/etc'; Id = 'mnt-abs' }
        @{ Target = '../../../../../../etc'; Id = 'mnt-rel' }
    ) {
        $bundle = New-OciBundle -Id $Id -Command sh, -c, 'ls /etc; grep -c " /etc " /proc/self/mountinfo' -Edit {
            param($c) $c.mounts += [pscustomobject]@{ destination = '/hostetc'; type = 'tmpfs'; source = 'tmpfs'; options = @('nosuid') }
        }
        New-Item -ItemType SymbolicLink -Path (Join-Path $bundle rootfs/hostetc) -Value $Target | Out-Null
        $before = Get-MountPoint | Where-Object { $_ -like '/etc*' }
        $r = Invoke-Oci run, --bundle, $bundle, $Id
        if ($r.Code -eq 0) { $r.Out | Should -Be "1`n" -Because 'the tmpfs covers the container''s /etc (empty now), not the host''s' }
        else { $r.Err | Should -BeLike '*mount tmpfs on /hostetc*symbolic link*' -Because 'the launcher fails closed, naming the mount' }
        Get-MountPoint | Where-Object { $_ -like '/etc*' } | Should -Be $before
        Test-Path /etc/passwd | Should -BeTrue
        Assert-OciGone $Id
    }

    It 'refuses a relative mount destination, or keeps it inside the root' {
        $bundle = New-OciBundle -Id mnt-relative -Command sh, -c, 'grep -c " /tmp/rel " /proc/self/mountinfo' -Edit {
            param($c) $c.mounts += [pscustomobject]@{ destination = 'tmp/rel'; type = 'tmpfs'; source = 'tmpfs' }
        }
        $r = Invoke-Oci run, --bundle, $bundle, mnt-relative
        if ($r.Code -eq 0) { $r.Out | Should -Be "1`n" }
        else { $r.Err | Should -BeLike '*destination*' }
        Assert-OciGone mnt-relative
    }

    It 'refuses a root.path that leaves the bundle through a symlink, or keeps the host safe' {
        $outside = Join-Path $script:TestRoot 'outside'
        $bundle = New-OciBundle -Id root-link -Command sh, -c, 'cat /etc/hostname'
        Move-Item (Join-Path $bundle rootfs) $outside
        New-Item -ItemType SymbolicLink -Path (Join-Path $bundle rootfs) -Value $outside | Out-Null
        $r = Invoke-Oci run, --bundle, $bundle, root-link
        if ($r.Code -eq 0) { $r.Out | Should -Be "box-root-link`n" }
        else { $r.Err | Should -BeLike '*root*' }
        Get-OwnMountPoint | Should -BeNullOrEmpty -Because 'the container''s mounts stay in its mount namespace'
        Assert-OciGone root-link
    }
}
