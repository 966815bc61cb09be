#Requires -Version 7.6
# The OCI runtime command line, driven by its real clients: podman 4.3 (through conmon) and
# containerd 1.6 (ctr, through its runc shim). The runtime under test is $env:UNICORN_OCI_RUNTIME
# (runc or crun to prove the harness), else the module's bin/unicorn. What the clients call and
# parse is recorded in /work/oci-fixtures/README.md.
#
# Everything is the test's own: podman's storage, run and tmp dirs and its config (no
# /var/lib/containers, no network: --network none, a CNI config dir of its own, file locks), a
# containerd of its own (its own root, state and socket, in a mount namespace of its own whose
# /run is a private tmpfs, so that its shims' sockets and overlays never reach the host; ctr makes
# no network), and the test's cgroup parent for every container.
#
# crun 1.8 refuses a hybrid cgroup host whose cgroup2 mount has controllers (see bench/README.md);
# to run this file against crun there, run it in a private mount namespace with /dev/null bound
# over /sys/fs/cgroup/unified/cgroup.controllers (podman's conmon runs the runtime in its own).

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    . (Join-Path $PSScriptRoot 'Podman.ps1')
    Initialize-UnicornTest

    $script:Runtime = if ($env:UNICORN_OCI_RUNTIME) { $env:UNICORN_OCI_RUNTIME } else { Join-Path $script:ModulePath 'bin/unicorn' }
    $script:CgroupParent = "/$env:UNICORN_CGROUP_PARENT"
    $script:Rootfs = Copy-DefaultRootfs 'rootfs'
    # podman calls `state` without --root: the runtime's default root (unicorn's /run/unicorn-oci)
    # is used, and removed again if this run made it.
    $script:DefaultRootMade = -not (Test-Path /run/unicorn-oci)

    # A rootfs directory of its own for each podman container (podman writes into --rootfs).
    function New-RootfsCopy([string] $Name) {
        $dir = Join-Path $script:TestRoot "rootfs-$Name"
        cp -a $script:Rootfs $dir
        $dir
    }

    # A command line in a fresh terminal (TestSetup.ps1: Start-TestTerminal), its exit code shown after.
    function Start-Terminal([string] $Command) { Start-TestTerminal "$Command; echo client-exit=`$?; sleep 60" }

    # Every container id the runtime was given, to check that it keeps none of them.
    $script:RuntimeIds = [Collections.Generic.List[string]]::new()
}

AfterAll {
    Stop-TestTerminal
    if ($script:DefaultRootMade -and (Test-Path /run/unicorn-oci) -and -not (Get-ChildItem /run/unicorn-oci -Force)) {
        Remove-Item /run/unicorn-oci
    }
    Complete-UnicornTest
}

Describe 'The clients and the runtime are installed' -Tag 'Root', 'OciClients' {
    It 'has podman 4.3, conmon 2.1, containerd and ctr 1.6, and the runtime under test' {
        # Not a skip: without the clients this file cannot judge the runtime, so it fails.
        (podman --version) | Should -Match 'podman version 4\.3\.'
        (conmon --version | Select-Object -First 1) | Should -Match 'conmon version 2\.1\.'
        (containerd --version) | Should -Match ' 1\.6\.'
        (ctr --version) | Should -Match ' 1\.6\.'
        $script:Runtime | Should -Exist
        & $script:Runtime --version | Out-Null
        $LASTEXITCODE | Should -Be 0
    }
}

Describe 'podman --runtime <runtime>' -Tag 'Root', 'OciClients' {
    BeforeAll {
        # The runtime's name in runtime_supports_json makes podman pass --log and --log-format=json.
        $script:Podman = New-PodmanWorld -Directory (Join-Path $script:TestRoot 'podman') -Runtime $script:Runtime -RuntimeNames (Split-Path $script:Runtime -Leaf)
        $script:PodmanRun = @('run', '--network', 'none', '--cgroup-parent', $script:CgroupParent)
        $script:SystemStorage = Test-Path /var/lib/containers/storage

        function Get-PodmanId([string] $Name) {
            $id = & $script:Podman inspect --format '{{.Id}}' $Name
            $script:RuntimeIds.Add($id)
            $id
        }
    }

    AfterAll {
        & $script:Podman rm --all --force --time 0 2>&1 | Out-Null
        # conmon's cgroup (podman puts it under the container's parent): ours, and empty now.
        Get-ChildItem /sys/fs/cgroup/*/$env:UNICORN_CGROUP_PARENT/conmon -Directory -ErrorAction Ignore |
            ForEach-Object { [IO.Directory]::Delete($_.FullName) }
        # podman leaves an etc/mtab link to /proc/self/mounts in each --rootfs, which Remove-Item
        # will not remove.
        Get-ChildItem $script:TestRoot -Directory -Filter 'rootfs-*' | ForEach-Object { rm -rf $_.FullName }
    }

    It 'runs a command with --rm and prints its output' {
        $out = & $script:Podman @script:PodmanRun --rm --rootfs (New-RootfsCopy rm) /bin/sh -c 'echo ok' 2>&1
        $LASTEXITCODE | Should -Be 0 -Because "$out"
        $out | Should -Be 'ok'
    }

    It 'passes the exit code on (exit 3 → 3)' {
        & $script:Podman @script:PodmanRun --rm --rootfs (New-RootfsCopy exit3) /bin/sh -c 'exit 3' 2>&1 | Out-Null
        $LASTEXITCODE | Should -Be 3
    }

    It 'fails a missing command with 127 and the runtime''s message' {
        $out = & $script:Podman @script:PodmanRun --rm --rootfs (New-RootfsCopy missing) /no/such 2>&1
        $LASTEXITCODE | Should -Be 127
        "$out" | Should -Match '/no/such'
    }

    It 'mounts --tmpfs /x with what the image''s /x holds (tmpcopyup); writes stay in the tmpfs' {
        $rootfs = New-RootfsCopy tmpfs
        New-Item -ItemType Directory "$rootfs/x/sub" | Out-Null
        Set-Content "$rootfs/x/sub/marker" 'image'
        New-Item -ItemType SymbolicLink -Path "$rootfs/x/passwd" -Target /etc/passwd | Out-Null
        $out = & $script:Podman @script:PodmanRun --rm --tmpfs /x --rootfs $rootfs /bin/sh -c 'cat /x/sub/marker; readlink /x/passwd; echo new > /x/new; grep -c " /x .* - tmpfs " /proc/self/mountinfo' 2>&1
        $LASTEXITCODE | Should -Be 0 -Because "$out"
        $out | Should -Be 'image', '/etc/passwd', '1'
        Test-Path "$rootfs/x/new" | Should -BeFalse
    }

    Context 'a detached container' {
        BeforeAll {
            & $script:Podman @script:PodmanRun -d --name detached --rootfs (New-RootfsCopy detached) /bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' | Out-Null
            $LASTEXITCODE | Should -Be 0
            $script:DetachedId = Get-PodmanId detached
        }

        It 'runs -d and reports it running with its pid' {
            $state = & $script:Podman inspect --format '{{.State.Status}} {{.State.Pid}}' detached
            $state | Should -Match '^running \d+$'
            Test-ProcessAlive ([int]($state -split ' ')[1]) | Should -BeTrue
        }

        It 'execs into it: output and exit code' {
            $out = & $script:Podman exec detached /bin/sh -c 'echo exec-ok; exit 4' 2>&1
            $LASTEXITCODE | Should -Be 4
            $out | Should -Be 'exec-ok'
        }

        It 'execs a command found on the container''s PATH, and fails a missing one with 127' {
            & $script:Podman exec detached ls / 2>&1 | Should -Contain 'bin'
            & $script:Podman exec detached /no/such 2>&1 | Out-Null
            $LASTEXITCODE | Should -Be 127
        }

        It 'pauses and unpauses it' {
            & $script:Podman pause detached | Out-Null
            & $script:Podman inspect --format '{{.State.Status}}' detached | Should -Be 'paused'
            & $script:Podman unpause detached | Out-Null
            & $script:Podman inspect --format '{{.State.Status}}' detached | Should -Be 'running'
        }

        It 'stops it with SIGTERM, promptly' {
            $time = Measure-Command { & $script:Podman stop --time 10 detached | Out-Null }
            $LASTEXITCODE | Should -Be 0
            $time.TotalSeconds | Should -BeLessThan 5
            & $script:Podman inspect --format '{{.State.Status}} {{.State.ExitCode}}' detached | Should -Be 'exited 0'
        }

        It 'removes it' {
            & $script:Podman rm detached | Out-Null
            $LASTEXITCODE | Should -Be 0
            & $script:Podman ps --all --quiet | Should -BeNullOrEmpty
        }
    }

    It 'stops a container that ignores SIGTERM with SIGKILL after the timeout' {
        & $script:Podman @script:PodmanRun -d --name stubborn --rootfs (New-RootfsCopy stubborn) /bin/sh -c 'trap "" TERM; while :; do sleep 0.1; done' | Out-Null
        Get-PodmanId stubborn | Out-Null
        $time = Measure-Command { & $script:Podman stop --time 1 stubborn 2>&1 | Out-Null }
        $time.TotalSeconds | Should -BeGreaterThan 0.9
        $time.TotalSeconds | Should -BeLessThan 8
        & $script:Podman inspect --format '{{.State.ExitCode}}' stubborn | Should -Be 137
        & $script:Podman rm stubborn | Out-Null
    }

    It 'runs -it in a terminal: a prompt, a command, exit' {
        Start-Terminal "$script:Podman $($script:PodmanRun -join ' ') -it --rm --rootfs $(New-RootfsCopy tty) /bin/sh"
        Wait-Screen '/ #$' | Out-Null
        Send-Keys 'echo tty-$((6*7)); tty'
        $screen = Wait-Screen '(?m)^tty-42\s*\n/dev/pts/\d+'
        $screen | Should -Match '/dev/pts/0'
        Send-Keys 'exit 5'
        Wait-Screen 'client-exit=5' | Out-Null
    }

    It 'execs -it into a running container' {
        & $script:Podman @script:PodmanRun -d --name ttyexec --rootfs (New-RootfsCopy ttyexec) /bin/sleep 300 | Out-Null
        Get-PodmanId ttyexec | Out-Null
        Start-Terminal "$script:Podman exec -it ttyexec /bin/sh"
        Wait-Screen '/ #$' | Out-Null
        Send-Keys 'tty; exit 2'
        Wait-Screen '(?s)/dev/pts/\d+.*client-exit=2' | Out-Null
        & $script:Podman rm --force --time 0 ttyexec | Out-Null
    }

    It 'kills a process that goes over --memory 64m (137)' {
        # conmon writes an 'oom' file into its working directory: ours, not the caller's.
        Push-Location $script:TestRoot
        try {
            $out = & $script:Podman run --name oom --network none --cgroup-parent $script:CgroupParent --memory 64m --rootfs (New-RootfsCopy oom) `
                /bin/sh -c 'x=$(head -c 300000000 /dev/zero | tr "\0" a); echo survived' 2>&1
            $code = $LASTEXITCODE
        } finally { Pop-Location }
        $code | Should -Be 137
        $out | Should -Not -Contain 'survived'
        # podman 4.3 learns OOMKilled from conmon's oom file, which cgroup v1 does not always give;
        # when it says so, it must be true.
        $report = & $script:Podman inspect --format '{{.State.OOMKilled}} {{.State.ExitCode}}' oom
        $report | Should -BeIn 'true 137', 'false 137'
        Get-PodmanId oom | Out-Null
        & $script:Podman rm oom | Out-Null
    }

    It 'leaves no container, mount or runtime state behind' {
        & $script:Podman ps --all --quiet | Should -BeNullOrEmpty
        Get-OwnMountPoint | Should -BeNullOrEmpty
        foreach ($id in $script:RuntimeIds) {
            $state = & $script:Runtime state $id 2>&1
            $LASTEXITCODE | Should -Not -Be 0 -Because "the runtime must keep no state of $id ($state)"
        }
        Test-Path /var/lib/containers/storage | Should -Be $script:SystemStorage -Because 'podman must use only its own storage'
    }
}

Describe 'containerd (ctr run --runc-binary <runtime>)' -Tag 'Root', 'OciClients' {
    BeforeAll {
        $dir = Join-Path $script:TestRoot 'containerd'
        New-Item -ItemType Directory -Path "$dir/fifo" -Force | Out-Null
        $sock = "$dir/containerd.sock"
        @"
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$sock"
"@ | Set-Content "$dir/config.toml"
        # Its own mount namespace with a private /run: the shims' sockets, the shim's runtime root
        # (/run/containerd/runc) and the rootfs overlays live and die there. setsid: its shims must
        # not be in this pwsh's session. The pid printed is containerd's (unshare and sh exec).
        $script:ContainerdPid = [int](bash -c "setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root unshare --mount --propagation private sh -c 'mount -t tmpfs -o mode=755 unicorn-oci /run && exec containerd --config $dir/config.toml' >$dir/containerd.log 2>&1 & echo `$!")
        $script:ContainerdDir = $dir

        # The processes of this test's containerd: containerd itself and its shims, known by their
        # command lines, which name this test's own directory (the config, the shims' -address).
        # Nothing else is ever signalled.
        function Get-OwnContainerdProcess {
            foreach ($proc in Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$') {
                $comm = Get-Content "$($proc.FullName)/comm" -ErrorAction Ignore
                $cmdline = Get-Content "$($proc.FullName)/cmdline" -Raw -ErrorAction Ignore
                if ($comm -like 'containerd*' -and $cmdline -and $cmdline.Replace([char]0, ' ').Contains("$script:ContainerdDir/")) { [int]$proc.Name }
            }
        }
        Wait-Until { Test-Path $sock } -Seconds 20
        $script:ContainerdPid | Should -BeIn @(Get-OwnContainerdProcess) -Because 'the pid started must be this test''s containerd'

        $script:Ctr = "$dir/ctr.sh"
        "#!/bin/sh`nexec ctr -a $sock `"`$@`"" | Set-Content $script:Ctr
        chmod 755 $script:Ctr

        # The image: the busybox rootfs as an OCI layout (umoci), imported under a name.
        $layout = "$dir/layout"
        umoci init --layout $layout
        umoci new --image "${layout}:latest"
        umoci unpack --image "${layout}:latest" "$dir/bundle" | Out-Null
        Remove-Item "$dir/bundle/rootfs" -Recurse -Force
        cp -a $script:Rootfs "$dir/bundle/rootfs"
        umoci repack --image "${layout}:latest" "$dir/bundle"
        umoci config --image "${layout}:latest" --config.cmd /bin/sh --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin
        umoci gc --layout $layout
        tar -C $layout -cf "$dir/busybox.tar" .
        Remove-Item "$dir/bundle" -Recurse -Force
        $script:Image = 'localhost/busybox:latest'
        & $script:Ctr image import --base-name localhost/busybox "$dir/busybox.tar" | Out-Null
        $LASTEXITCODE | Should -Be 0

        function Invoke-CtrRun([string] $Id, [string[]] $Options, [string[]] $Command) {
            $script:RuntimeIds.Add($Id)
            & $script:Ctr run --runc-binary $script:Runtime --fifo-dir "$dir/fifo" --cgroup "$script:CgroupParent/$Id" @Options $script:Image $Id @Command
        }
        function Get-TaskStatus([string] $Id) {
            foreach ($line in & $script:Ctr task ls) { $f = -split $line; if ($f[0] -eq $Id) { return $f[2] } }
        }
        $script:FifoDir = "$dir/fifo"
    }

    AfterAll {
        if ($script:ContainerdPid) {
            foreach ($task in & $script:Ctr task ls --quiet 2>$null) { & $script:Ctr task delete --force $task 2>&1 | Out-Null }
            foreach ($c in & $script:Ctr container ls --quiet 2>$null) { & $script:Ctr container delete $c 2>&1 | Out-Null }
            # Shims left by a failed test, then containerd: only this test's own, by pid.
            $own = @(Get-OwnContainerdProcess)
            foreach ($p in $own | Where-Object { $_ -ne $script:ContainerdPid }) { /bin/kill -s KILL $p }
            if ($script:ContainerdPid -in $own) { /bin/kill -s TERM $script:ContainerdPid }
            Wait-Until { -not (Test-ProcessAlive $script:ContainerdPid) } -Seconds 15
        }
    }

    It 'imported the image' {
        & $script:Ctr image ls --quiet | Should -Contain $script:Image
    }

    It 'runs a command with --rm and prints its output' {
        $out = Invoke-CtrRun run1 '--rm' '/bin/sh', '-c', 'echo ok' 2>&1
        $LASTEXITCODE | Should -Be 0 -Because "$out"
        $out | Should -Be 'ok'
    }

    It 'passes the exit code on (exit 3 → 3)' {
        Invoke-CtrRun run3 '--rm' '/bin/sh', '-c', 'exit 3' 2>&1 | Out-Null
        $LASTEXITCODE | Should -Be 3
    }

    It 'fails a missing command with the runtime''s message from its log' {
        $out = Invoke-CtrRun missing '--rm' '/no/such' 2>&1
        $LASTEXITCODE | Should -Not -Be 0
        "$out" | Should -Match 'OCI runtime create failed: .*/no/such'
        & $script:Ctr container delete missing 2>&1 | Out-Null
    }

    Context 'a detached task' {
        BeforeAll {
            Invoke-CtrRun detached '-d' '/bin/sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.1; done' | Out-Null
            $LASTEXITCODE | Should -Be 0
        }

        It 'runs -d' {
            Get-TaskStatus detached | Should -Be 'RUNNING'
        }

        It 'execs into it: output and exit code' {
            $out = & $script:Ctr task exec --fifo-dir $script:FifoDir --exec-id x1 detached /bin/sh -c 'echo exec-ok; exit 4' 2>&1
            $LASTEXITCODE | Should -Be 4
            $out | Should -Be 'exec-ok'
        }

        It 'fails an exec of a missing command with the runtime''s message' {
            $out = & $script:Ctr task exec --fifo-dir $script:FifoDir --exec-id x2 detached /no/such 2>&1
            $LASTEXITCODE | Should -Not -Be 0
            "$out" | Should -Match 'OCI runtime exec failed: .*/no/such'
        }

        It 'lists its processes (ps --format json)' {
            & $script:Ctr task exec --detach --fifo-dir $script:FifoDir --exec-id x3 detached /bin/sleep 30
            $init = (-split (& $script:Ctr task ls | Select-String '^detached\s'))[1]
            Wait-Until { @(& $script:Ctr task ps detached | Select-Object -Skip 1).Count -ge 2 }
            $pids = & $script:Ctr task ps detached | Select-Object -Skip 1 | ForEach-Object { (-split $_)[0] }
            $pids | Should -Contain $init
        }

        It 'pauses and resumes it' {
            & $script:Ctr task pause detached
            Get-TaskStatus detached | Should -Be 'PAUSED'
            & $script:Ctr task resume detached
            Get-TaskStatus detached | Should -Be 'RUNNING'
        }

        It 'kills it with SIGTERM and sees it stop' {
            & $script:Ctr task kill detached
            $LASTEXITCODE | Should -Be 0
            Wait-Until { (Get-TaskStatus detached) -eq 'STOPPED' }
        }

        It 'deletes the stopped task with its exit code, then the container' {
            $out = & $script:Ctr task delete detached 2>&1
            $LASTEXITCODE | Should -Be 0
            "$out" | Should -Match 'exit code 7'
            & $script:Ctr container delete detached
            & $script:Ctr task ls --quiet | Should -BeNullOrEmpty
        }
    }

    It 'kills every process of a task (kill --all) and force-deletes a running one' {
        Invoke-CtrRun all '-d' '/bin/sleep', '300' | Out-Null
        & $script:Ctr task exec --detach --fifo-dir $script:FifoDir --exec-id x1 all /bin/sleep 300
        & $script:Ctr task kill --all --signal KILL all
        $LASTEXITCODE | Should -Be 0
        Wait-Until { (Get-TaskStatus all) -eq 'STOPPED' }
        & $script:Ctr task delete all 2>&1 | Out-Null
        & $script:Ctr container delete all

        Invoke-CtrRun forced '-d' '/bin/sleep', '300' | Out-Null
        & $script:Ctr task delete --force forced 2>&1 | Out-Null
        $LASTEXITCODE | Should -Be 0
        & $script:Ctr container delete forced
        & $script:Ctr task ls --quiet | Should -BeNullOrEmpty
    }

    It 'runs -t in a terminal: a prompt, a command, exit' {
        $script:RuntimeIds.Add('tty')
        Start-Terminal "$script:Ctr run --runc-binary $script:Runtime --fifo-dir $script:FifoDir --cgroup $script:CgroupParent/tty -t --rm $script:Image tty /bin/sh"
        Wait-Screen '/ #$' | Out-Null
        Send-Keys 'echo tty-$((6*7)); tty'
        Wait-Screen '(?m)^tty-42\s*\n/dev/pts/0' | Out-Null
        Send-Keys 'exit 5'
        Wait-Screen 'client-exit=5' | Out-Null
    }

    It 'leaves no task, container or mount behind' {
        & $script:Ctr task ls --quiet | Should -BeNullOrEmpty
        & $script:Ctr container ls --quiet | Should -BeNullOrEmpty
        Get-OwnMountPoint | Should -BeNullOrEmpty
        '/run/containerd' | Should -Not -Exist
        # Every shim ends with its task.
        Wait-Until { "$(Get-OwnContainerdProcess)" -eq "$script:ContainerdPid" } -Seconds 10
    }
}
