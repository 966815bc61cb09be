using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Unicorn.Cgroups;
using Unicorn.Oci;
using Unicorn.Runtime;
using static Unicorn.Runtime.Seccomp.Bpf;

namespace Unicorn.Tests;

/// <summary>A bundle of the test's own: a rootfs with /etc/passwd and /etc/group, and a
/// config.json; plus a state directory.</summary>
sealed class OciBundle : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("unicorn-oci-").FullName;
    public string State => Directory.CreateDirectory(Path.Combine(Dir, "state")).FullName;

    public OciBundle()
    {
        var etc = Directory.CreateDirectory(Path.Combine(Dir, "rootfs", "etc")).FullName;
        File.WriteAllText(Path.Combine(etc, "passwd"), "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/home/web:/bin/sh\n");
        File.WriteAllText(Path.Combine(etc, "group"), "root:x:0:\nweb:x:1000:\n");
    }

    public OciConfig Write(string json)
    {
        File.WriteAllText(Path.Combine(Dir, "config.json"), json);
        return OciConfig.Load(Dir);
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>A spec file read back: its records, each key with its values (the arities of
/// src/launcher/README.md).</summary>
sealed class SpecRecords
{
    static readonly Dictionary<string, int> Arity = new()
    {
        ["bind"] = 3, ["caps"] = 5, ["mount"] = 5, ["device"] = 7, ["namespace"] = 2, ["sysctl"] = 2, ["consolesize"] = 2,
    };

    public List<(string Key, string[] Values)> Records { get; } = [];

    public SpecRecords(byte[] bytes)
    {
        var words = Encoding.UTF8.GetString(bytes).Split('\0');
        Assert.Equal("", words[^1]); // every string NUL-terminated
        for (int i = 0; i < words.Length - 1;)
        {
            var key = words[i];
            Assert.Contains(key, SpecFile.Keys);
            int n = Arity.GetValueOrDefault(key, 1);
            Records.Add((key, words[(i + 1)..(i + 1 + n)]));
            i += 1 + n;
        }
    }

    public IEnumerable<string[]> All(string key) => Records.Where(r => r.Key == key).Select(r => r.Values);
    public string[] One(string key) => Assert.Single(All(key));
    public IEnumerable<string> Values(string key) => All(key).Select(v => v[0]);
    public bool Has(string key) => Records.Any(r => r.Key == key);
}

[Trait("Category", "Unit")]
public class OciConfigTests
{
    static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Oci", name));

    /// <summary>A CgroupManager over a v1 tree in a temp directory (the container's directories made).</summary>
    static CgroupManager FakeV1(string root, string name, params string[] controllers)
    {
        var lines = controllers.Select((c, i) => $"{30 + i} 1 0:{30 + i} / {root}/{c} rw - cgroup cgroup rw,{c}").ToArray();
        var cgroups = new CgroupManager(CgroupLayout.Parse(lines, _ => null), "unicorn");
        foreach (var c in cgroups.Layout.Controllers)
            Directory.CreateDirectory(cgroups.Dir(c, name));
        return cgroups;
    }

    static JsonNode DefaultNode() => JsonNode.Parse(OciConfig.Default().ToJson())!;

    [Fact]
    public void TranslatesRuncsDefaultSpec()
    {
        using var b = new OciBundle();
        var c = b.Write(Fixture("runc-spec.json"));
        var cgroupRoot = Directory.CreateDirectory(Path.Combine(b.Dir, "cg")).FullName;
        var cgroups = FakeV1(cgroupRoot, "c1", "memory", "pids");
        var s = new SpecRecords(OciSpec.ForInit(c, b.Dir, b.State, cgroups, "c1").ToArray());

        Assert.Equal(["sh"], s.Values("arg"));
        Assert.Equal(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"], s.Values("env"));
        Assert.Equal("/", s.One("cwd")[0]);
        Assert.Equal(Path.Combine(b.Dir, "rootfs"), s.One("rootfs")[0]);
        Assert.Equal("1", s.One("tty")[0]);
        Assert.Equal("22", s.One("umask")[0]); // OCI's default 0022
        Assert.False(s.Has("user")); // root
        ulong three = Capabilities.Bit("AUDIT_WRITE") | Capabilities.Bit("KILL") | Capabilities.Bit("NET_BIND_SERVICE");
        // bounding, effective, permitted, inheritable, ambient
        Assert.Equal([three.ToString("x"), three.ToString("x"), three.ToString("x"), "0", three.ToString("x")], s.One("caps"));
        Assert.Equal("7:1024:1024", s.One("rlimit")[0]); // RLIMIT_NOFILE
        Assert.True(s.Has("nonewprivs"));
        Assert.False(s.Has("seccomp")); // none asked
        Assert.Equal(["runc"], s.One("hostname"));
        Assert.False(s.Has("sysctl"));
        Assert.Equal(["rslave"], s.One("rootpropagation")); // runc's default
        Assert.Equal(["pid", "net", "ipc", "uts", "mnt"], s.All("namespace").Select(v => v[0]));
        Assert.All(s.All("namespace"), v => Assert.Equal("", v[1]));
        // The mounts in order; the cgroup mount a writable tmpfs with each hierarchy's directory bound read-only.
        var mounts = s.All("mount").ToList();
        Assert.Equal(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"],
            mounts.Select(m => m[2]));
        Assert.Equal(["tmpfs", "tmpfs", "/dev", "nosuid,strictatime", "mode=755,size=65536k"], mounts[1]);
        Assert.Equal(["devpts", "devpts", "/dev/pts", "nosuid,noexec", "newinstance,ptmxmode=0666,mode=0620,gid=5"], mounts[2]);
        Assert.Equal(["sysfs", "sysfs", "/sys", "nosuid,noexec,nodev,ro", ""], mounts[5]);
        Assert.Equal(["tmpfs", "tmpfs", "/sys/fs/cgroup", "nosuid,noexec,nodev,relatime", "mode=755"], mounts[6]);
        Assert.Equal(["bind", Path.Combine(cgroupRoot, "memory", "unicorn", "c1"), "/sys/fs/cgroup/memory", "rbind,nosuid,noexec,nodev,relatime,ro", ""], mounts[7]);
        Assert.Contains("/proc/asound", s.Values("mask"));
        Assert.Equal(SecurityOptions.ReadOnlyPaths, s.Values("readonly"));
        Assert.True(s.Has("rootreadonly"));
        Assert.False(s.Has("devices")); // every device denied but the defaults: the root stays nodev
    }

    /// <summary>The configs podman 4.3 and containerd 1.6 wrote (captured from their runs),
    /// each of which must load and translate: a client's default refused would make the OCI
    /// face useless. Only root.path is changed, to the test's own rootfs.</summary>
    public static TheoryData<string> ClientConfigs() => [.. new[] { "podman", "containerd" }
        .Select(d => Path.Combine(AppContext.BaseDirectory, "Oci", d)).Where(Directory.Exists)
        .SelectMany(d => Directory.GetFiles(d, "*.json")).Where(f => !f.EndsWith(".process.json"))
        .Select(f => Path.GetRelativePath(Path.Combine(AppContext.BaseDirectory, "Oci"), f))];

    [Theory]
    [MemberData(nameof(ClientConfigs))]
    public void LoadsAndTranslatesWhatTheClientsWrite(string fixture)
    {
        using var b = new OciBundle();
        var node = JsonNode.Parse(Fixture(fixture))!;
        node["root"]!["path"] = "rootfs";
        var c = b.Write(node.ToJsonString());
        var (parent, name) = c.CgroupPath("id");
        Assert.NotEqual("", parent);
        var limits = OciResources.Limits(c.Linux!.Resources);
        var rules = OciResources.DeviceRules(c.Linux.Resources);
        var cgroups = FakeV1(Path.Combine(b.Dir, "cg"), name, "cpu", "cpuacct", "memory", "devices", "freezer", "pids");
        var s = new SpecRecords(OciSpec.ForInit(c, b.Dir, b.State, cgroups, name).ToArray());
        Assert.Equal(c.Process!.Args, s.Values("arg"));
        bool cgroupMount = c.Mounts!.Any(m => m.Type == "cgroup");
        Assert.Equal(c.Mounts!.Count + (cgroupMount ? 6 : 0), s.All("mount").Count()); // a cgroup mount: a tmpfs and six hierarchies
        Assert.Equal(c.Linux.Namespaces!.Count, s.All("namespace").Count());
        Assert.True(s.Has("seccomp") == (c.Linux.Seccomp is not null));
        Assert.Equal(c.Linux.MaskedPaths ?? [], s.Values("mask"));
        Assert.False(DeviceRule.AllowsAll(rules));
        Assert.False(s.Has("devices"));
        if (c.Linux.Resources?.Pids?.Limit is > 0 and var pids)
            Assert.Equal(pids, limits.PidsLimit);
        if (c.Linux.Resources?.Memory?.Limit is > 0 and var memory)
            Assert.Equal(memory, limits.Memory);
        // Every process file the client wrote for its execs, against this config.
        foreach (var process in Directory.GetFiles(Path.GetDirectoryName(Path.Combine(AppContext.BaseDirectory, "Oci", fixture))!, "*.process.json"))
            Assert.NotEmpty(new SpecRecords(OciSpec.ForExec(OciProcess.Load(process), c, b.Dir, b.State).ToArray()).Values("arg"));
    }

    [Fact]
    public void PodmansFiltersAreItsProfile()
    {
        using var b = new OciBundle();
        var node = JsonNode.Parse(Fixture("podman/run-echo.json"))!;
        node["root"]!["path"] = "rootfs";
        var c = b.Write(node.ToJsonString());
        var filter = File.ReadAllBytes(new SpecRecords(OciSpec.ForInit(c, b.Dir, b.State, FakeV1(Path.Combine(b.Dir, "cg"), "x", "memory"), "x").ToArray()).One("seccomp")[0]);
        var (arch, table, _, _) = Host;
        Assert.Equal(RET_ALLOW, ClassicBpf.Run(filter, arch, table["getpid"]));
        Assert.Equal(RET_ERRNO | EPERM, ClassicBpf.Run(filter, arch, table["kexec_load"]));
        Assert.Equal(RET_ALLOW, ClassicBpf.Run(filter, arch, table["personality"], 8)); // PER_LINUX32
        Assert.Equal(RET_ERRNO | ENOSYS, ClassicBpf.Run(filter, arch, table["personality"], 0x400000)); // READ_IMPLIES_EXEC: the default, ENOSYS
    }

    [Fact]
    public void TheDefaultSpecRoundTripsThroughLoad()
    {
        using var b = new OciBundle();
        var json = OciConfig.Default().ToJson();
        Assert.DoesNotContain("null", json);
        var node = JsonNode.Parse(json)!;
        Assert.Equal("1.1.0", (string?)node["ociVersion"]);
        Assert.Equal("sh", (string?)node["process"]!["args"]![0]);
        Assert.Equal("CAP_CHOWN", (string?)node["process"]!["capabilities"]!["bounding"]![0]);
        Assert.Equal("rwm", (string?)node["linux"]!["resources"]!["devices"]![0]!["access"]);
        var loaded = b.Write(json);
        Assert.Equal(json, loaded.ToJson());
        var s = new SpecRecords(OciSpec.ForInit(loaded, b.Dir, b.State, FakeV1(Path.Combine(b.Dir, "cg"), "x", "memory"), "x").ToArray());
        Assert.Equal(SecurityOptions.MaskedPaths, s.Values("mask"));
    }

    // Each refusal: a change to the default config, the ErrorId, and the field the message names.
    [Theory]
    [InlineData("""{"linux":{"uidMappings":[{"containerID":0,"hostID":1000,"size":1}]}}""", "OciUnsupported", "linux.uidMappings: user namespaces are not supported yet")]
    [InlineData("""{"linux":{"namespaces":[{"type":"mount"},{"type":"user"}]}}""", "OciUnsupported", "linux.namespaces[1]: user namespaces")]
    [InlineData("""{"linux":{"namespaces":[{"type":"mount"},{"type":"time"}]}}""", "OciUnsupported", "time namespaces")]
    [InlineData("""{"linux":{"namespaces":[{"type":"mount","path":"/proc/1/ns/mnt"}]}}""", "OciUnsupported", "joining a mount namespace")]
    [InlineData("""{"linux":{"namespaces":[{"type":"pid"},{"type":"uts"}]}}""", "OciUnsupported", "without a mount namespace")]
    [InlineData("""{"linux":{"namespaces":[{"type":"mount"},{"type":"mount"}]}}""", "OciConfigInvalid", "given twice")]
    [InlineData("""{"linux":{"namespaces":[{"type":"mount"},{"type":"pidx"}]}}""", "OciConfigInvalid", "linux.namespaces[1].type")]
    [InlineData("""{"linux":{"timeOffsets":{"monotonic":{"secs":1}}}}""", "OciUnsupported", "linux.timeOffsets")]
    [InlineData("""{"process":{"apparmorProfile":"docker-default"}}""", "OciUnsupported", "process.apparmorProfile")]
    [InlineData("""{"process":{"selinuxLabel":"system_u:system_r:container_t:s0"}}""", "OciUnsupported", "process.selinuxLabel")]
    [InlineData("""{"linux":{"mountLabel":"system_u:object_r:container_file_t:s0"}}""", "OciUnsupported", "linux.mountLabel")]
    [InlineData("""{"linux":{"intelRdt":{"closID":"x"}}}""", "OciUnsupported", "linux.intelRdt")]
    [InlineData("""{"linux":{"personality":{"domain":"LINUX32"}}}""", "OciUnsupported", "linux.personality")]
    [InlineData("""{"hooks":{"prestart":[{"path":"/bin/true"}]}}""", "OciUnsupported", "hooks: hooks are not supported yet")]
    [InlineData("""{"linux":{"resources":{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}}}""", "OciUnsupported", "linux.resources.hugepageLimits")]
    [InlineData("""{"linux":{"resources":{"rdma":{"mlx5_1":{"hcaHandles":3}}}}}""", "OciUnsupported", "linux.resources.rdma")]
    [InlineData("""{"linux":{"resources":{"network":{"classID":1048577}}}}""", "OciUnsupported", "linux.resources.network")]
    [InlineData("""{"linux":{"resources":{"unified":{"io.max":"8:0 rbps=1"}}}}""", "OciUnsupported", "io.max")]
    [InlineData("""{"linux":{"resources":{"memory":{"reservation":1048576}}}}""", "OciUnsupported", "memory.reservation")]
    [InlineData("""{"linux":{"resources":{"memory":{"limit":1024}}}}""", "OciConfigInvalid", "memory.limit")]
    [InlineData("""{"linux":{"resources":{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}]}}}}""", "OciUnsupported", "linux.resources.blockIO")]
    [InlineData("""{"linux":{"resources":{"devices":[{"allow":true,"type":"x"}]}}}""", "OciConfigInvalid", "linux.resources.devices[0].type")]
    [InlineData("""{"hostname":null,"linux":{"sysctl":{"kernel.shmmax":"1"},"namespaces":[{"type":"mount"}]}}""", "OciUnsupported", "host's IPC namespace")]
    [InlineData("""{"hostname":null,"linux":{"sysctl":{"net.ipv4.ip_forward":"1"},"namespaces":[{"type":"mount"}]}}""", "OciUnsupported", "host's network namespace")]
    [InlineData("""{"hostname":null,"linux":{"sysctl":{"net.ipv4.ip_forward":"1"},"namespaces":[{"type":"mount"},{"type":"network","path":"/proc/self/ns/net"}]}}""", "OciUnsupported", "is the host's")]
    [InlineData("""{"linux":{"sysctl":{"vm.swappiness":"1"}}}""", "OciUnsupported", "linux.sysctl[vm.swappiness]")]
    [InlineData("""{"linux":{"sysctl":{"kernel.hostname":"x"}}}""", "OciConfigInvalid", "conflicts with the hostname field")]
    [InlineData("""{"root":{"path":""}}""", "OciConfigInvalid", "root.path")]
    [InlineData("""{"root":{"path":"nowhere"}}""", "OciRootfsNotFound", "root.path")]
    [InlineData("""{"process":{"args":[]}}""", "OciConfigInvalid", "process.args")]
    [InlineData("""{"process":{"cwd":"home"}}""", "OciConfigInvalid", "process.cwd")]
    [InlineData("""{"process":{"env":["NOEQUALS"]}}""", "OciConfigInvalid", "process.env")]
    [InlineData("""{"process":{"rlimits":[{"type":"RLIMIT_FOO","soft":1,"hard":1}]}}""", "OciConfigInvalid", "process.rlimits")]
    [InlineData("""{"process":{"rlimits":[{"type":"RLIMIT_NOFILE","soft":2,"hard":1}]}}""", "OciConfigInvalid", "soft limit")]
    [InlineData("""{"process":{"oomScoreAdj":1001}}""", "OciConfigInvalid", "process.oomScoreAdj")]
    [InlineData("""{"process":{"ioPriority":{"class":"IOPRIO_CLASS_IDLE"}}}""", "OciUnsupported", "process.ioPriority")]
    [InlineData("""{"process":{"capabilities":{"bounding":["CAP_NOPE"]}}}""", "UnknownCapability", "process.capabilities.bounding: 'CAP_NOPE'")]
    [InlineData("""{"process":{"user":{"uid":"root"}}}""", "OciConfigInvalid", "process.user.uid")]
    [InlineData("""{"mounts":[{"destination":"tmp","type":"tmpfs","source":"tmpfs"}]}""", "OciConfigInvalid", "mounts[0].destination")]
    [InlineData("""{"mounts":[{"destination":"/x","type":"ext4","source":"/dev/sda1"}]}""", "OciUnsupported", "mounts[0].type")]
    [InlineData("""{"mounts":[{"destination":"/x","type":"bind","source":"/tmp","options":["rbind","tmpcopyup"]}]}""", "OciUnsupported", "mounts[0].options: 'tmpcopyup' fills a new tmpfs only")]
    [InlineData("""{"mounts":[{"destination":"/x","type":"proc","source":"proc","options":["tmpcopyup"]}]}""", "OciUnsupported", "mounts[0].options: 'tmpcopyup' fills a new tmpfs only")]
    [InlineData("""{"mounts":[{"destination":"/x","type":"bind","options":["rbind"]}]}""", "OciConfigInvalid", "mounts[0].source")]
    [InlineData("""{"linux":{"devices":[{"path":"/dev/fuse","type":"c"}]}}""", "OciConfigInvalid", "linux.devices[0]")]
    [InlineData("""{"linux":{"cgroupsPath":"system.slice:unicorn:c1"}}""", "OciSystemdCgroup", "needs systemd")]
    [InlineData("""{"linux":{"cgroupsPath":"/a/../b"}}""", "OciConfigInvalid", "linux.cgroupsPath")]
    [InlineData("""{"linux":{"rootfsPropagation":"sideways"}}""", "OciConfigInvalid", "linux.rootfsPropagation")]
    [InlineData("""{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_NOTIFY"}}}""", "OciUnsupported", "linux.seccomp.defaultAction")]
    [InlineData("""{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_MAYBE"}}}""", "OciConfigInvalid", "linux.seccomp.defaultAction")]
    [InlineData("""{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG"]}}}""", "OciUnsupported", "linux.seccomp.flags")]
    [InlineData("""{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock"}}}""", "OciUnsupported", "listenerPath")]
    [InlineData("""{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}}}""", "OciConfigInvalid", "linux.seccomp.architectures")]
    [InlineData("""{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ABOUT"}]}]}}}""", "OciConfigInvalid", "linux.seccomp.syscalls[0].args")]
    [InlineData("""{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["no_such_call"],"action":"SCMP_ACT_ERRNO"}]}}}""", "UnknownSyscall", "no_such_call")]
    [InlineData("""{"ociVersion":"2.0.0"}""", "OciUnsupported", "ociVersion")]
    [InlineData("""{"hostname":"h","linux":{"namespaces":[{"type":"mount"}]}}""", "OciConfigInvalid", "hostname: a hostname needs a new UTS namespace")]
    public void RefusesWhatItCannotHonour(string change, string errorId, string message)
    {
        var node = DefaultNode();
        Merge(node, JsonNode.Parse(change)!);
        using var b = new OciBundle();
        var e = Assert.Throws<UnicornException>(() => b.Write(node.ToJsonString()));
        Assert.Equal(errorId, e.ErrorId);
        Assert.Contains(message, e.Message);
    }

    /// <summary>Objects merged property by property; anything else replaced.</summary>
    static void Merge(JsonNode target, JsonNode change)
    {
        foreach (var (key, value) in change.AsObject().ToList())
            if (value is JsonObject o && target[key] is JsonObject t)
                Merge(t, o);
            else
                target[key] = value?.DeepClone();
    }

    [Fact]
    public void IgnoresPropertiesTheSpecDoesNotDefineButNotBrokenJson()
    {
        using var b = new OciBundle();
        var node = DefaultNode();
        node["vendorThing"] = new JsonObject { ["x"] = 1 };
        node["process"]!["futureField"] = "y";
        b.Write(node.ToJsonString());
        Assert.Equal("OciConfigInvalid", Assert.Throws<UnicornException>(() => b.Write("{\"ociVersion\": \"1.0.0\",}")).ErrorId);
        var twice = Assert.Throws<UnicornException>(() => b.Write("{\"ociVersion\": \"1.0.0\", \"ociVersion\": \"1.1.0\"}"));
        Assert.Equal("OciConfigInvalid", twice.ErrorId);
        File.Delete(Path.Combine(b.Dir, "config.json"));
        Assert.Equal("OciConfigNotFound", Assert.Throws<UnicornException>(() => OciConfig.Load(b.Dir)).ErrorId);
    }

    [Fact]
    public void AcceptsTheNamespacedSysctlsAndTheDomainName()
    {
        using var b = new OciBundle();
        var node = DefaultNode();
        Merge(node, JsonNode.Parse("""{"domainname":"example.org","linux":{"sysctl":{"net.ipv4.ip_forward":"1","kernel.shmmax":"65536","fs.mqueue.msg_max":"20","kernel.domainname":"x.org"}}}""")!);
        var c = b.Write(node.ToJsonString());
        var s = new SpecRecords(OciSpec.ForInit(c, b.Dir, b.State, FakeV1(Path.Combine(b.Dir, "cg"), "x", "memory"), "x").ToArray());
        Assert.Equal(["unicorn"], s.One("hostname"));
        Assert.Equal(["kernel.domainname=example.org", "net.ipv4.ip_forward=1", "kernel.shmmax=65536", "fs.mqueue.msg_max=20", "kernel.domainname=x.org"],
            s.All("sysctl").Select(v => v[0] + "=" + v[1]));
    }

    [Fact]
    public void CapabilitiesByNameWithOrWithoutThePrefix()
    {
        using var b = new OciBundle();
        var node = DefaultNode();
        node["process"]!["capabilities"] = JsonNode.Parse("""{"bounding":["CAP_SYS_ADMIN","CAP_NET_RAW"],"effective":["CAP_SYS_ADMIN"],"permitted":["CAP_SYS_ADMIN","CAP_NET_RAW"],"inheritable":["CAP_NET_RAW"],"ambient":[]}""");
        var c = b.Write(node.ToJsonString());
        var s = new SpecRecords(OciSpec.ForExec(c.Process!, c, b.Dir, b.State).ToArray());
        string hex(params string[] names) => names.Aggregate(0UL, (m, n) => m | Capabilities.Bit(n)).ToString("x");
        Assert.Equal([hex("SYS_ADMIN", "NET_RAW"), hex("SYS_ADMIN"), hex("SYS_ADMIN", "NET_RAW"), hex("NET_RAW"), "0"], s.One("caps"));
        Assert.Equal(21, Capabilities.Number("CAP_SYS_ADMIN"));
        // No capabilities object: every capability, as runc leaves them.
        node["process"]!.AsObject().Remove("capabilities");
        c = b.Write(node.ToJsonString());
        Assert.Equal(Capabilities.All.ToString("x"), new SpecRecords(OciSpec.ForExec(c.Process!, c, b.Dir, b.State).ToArray()).One("caps")[0]);
    }

    [Fact]
    public void SplitsMountOptionsIntoFlagsAndData()
    {
        var (flags, data) = OciMounts.SplitOptions(["rw", "rbind", "nosuid", "nodev", "rprivate", "mode=1777", "size=65536k", "nosuid", "newinstance"], "m");
        Assert.Equal(["rbind", "nosuid", "nodev", "rprivate"], flags);
        Assert.Equal(["mode=1777", "size=65536k", "newinstance"], data);
        Assert.Equal("OciUnsupported", Assert.Throws<UnicornException>(() => OciMounts.SplitOptions(["rro"], "m")).ErrorId);
        Assert.Equal("OciConfigInvalid", Assert.Throws<UnicornException>(() => OciMounts.SplitOptions(["mode=1,size=2"], "m")).ErrorId);
    }

    [Fact]
    public void TmpcopyupOnATmpfsIsTheLaunchersFlag()
    {
        using var b = new OciBundle();
        var node = DefaultNode();
        node["mounts"] = JsonNode.Parse("""[{"destination":"/x","type":"tmpfs","source":"tmpfs","options":["rw","rprivate","nosuid","nodev","tmpcopyup"]}]""");
        var s = new SpecRecords(OciSpec.ForInit(b.Write(node.ToJsonString()), b.Dir, b.State).ToArray());
        Assert.Equal(["tmpfs", "tmpfs", "/x", "rprivate,nosuid,nodev,tmpcopyup", ""], Assert.Single(s.All("mount")));
        Assert.Contains("tmpcopyup", OciMounts.KnownOptions);
    }

    [Fact]
    public void BindSourcesAreTheBundlesWhenRelative()
    {
        using var b = new OciBundle();
        var node = DefaultNode();
        node["mounts"] = JsonNode.Parse("""[{"destination":"/data","type":"none","source":"data","options":["rbind","ro"]},{"destination":"/etc/hosts","type":"bind","source":"/etc/hosts"}]""");
        var s = new SpecRecords(OciSpec.ForInit(b.Write(node.ToJsonString()), b.Dir, b.State).ToArray());
        var mounts = s.All("mount").ToList();
        Assert.Equal(["bind", Path.Combine(b.Dir, "data"), "/data", "rbind,ro", ""], mounts[0]);
        Assert.Equal(["bind", "/etc/hosts", "/etc/hosts", "bind", ""], mounts[1]);
    }

    [Theory]
    [InlineData("/libpod_parent/libpod-abc", "libpod_parent", "libpod-abc")]
    [InlineData("default/c1", "default", "c1")]
    [InlineData("/kubepods/burstable/pod1/c1", "kubepods/burstable/pod1", "c1")]
    [InlineData("", null, "the-id")] // the engine's parent (UNICORN_CGROUP_PARENT, which other tests set, or unicorn)
    public void CgroupsPathForms(string path, string? parent, string name)
    {
        parent ??= CgroupManager.DefaultParent();
        var c = OciConfig.Default() with { Linux = OciConfig.Default().Linux! with { CgroupsPath = path } };
        Assert.Equal((parent, name), c.CgroupPath("the-id"));
    }

    [Fact]
    public void MapsResourcesToLimits()
    {
        var r = JsonSerializer.Deserialize("""
            {"memory":{"limit":268435456,"swap":536870912,"swappiness":18446744073709551615},"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0"},
             "pids":{"limit":2048},"blockIO":{"weight":500},"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"rw"}]}
            """, OciJsonForTests.Resources)!;
        var l = OciResources.Limits(r);
        Assert.Equal(new CgroupLimits { Memory = 256L << 20, MemorySwap = 512L << 20, CpuShares = 512, Cpus = 0.5, CpusetCpus = "0", PidsLimit = 2048, IoWeight = 5000 }, l);
        var rules = OciResources.DeviceRules(r).Select(d => (d.Allow ? "allow " : "deny ") + d.Line).ToList();
        Assert.Equal(["deny a", "deny a", "allow c 10:229 rw", "allow c *:* m"], rules.Take(4));
        Assert.Equal("allow c 10:200 rwm", rules[^1]);
        Assert.False(DeviceRule.AllowsAll(OciResources.DeviceRules(r)));
        // Unlimited and zero values are no limit.
        var none = JsonSerializer.Deserialize("""{"memory":{"limit":-1,"swap":0},"cpu":{"quota":-1,"shares":0},"pids":{"limit":0}}""", OciJsonForTests.Resources)!;
        Assert.True(OciResources.Limits(none).IsEmpty);
        // runc update's resources file.
        using var b = new OciBundle();
        var file = Path.Combine(b.Dir, "resources.json");
        File.WriteAllText(file, """{"memory":{"limit":134217728},"pids":{"limit":100}}""");
        Assert.Equal(new CgroupLimits { Memory = 128L << 20, PidsLimit = 100 }, OciResources.Limits(OciResources.Load(file)));
        Assert.Equal(1024, OciResources.Limits(OciResources.Parse("""{"cpu":{"shares":1024}}"""u8.ToArray())).CpuShares);
        File.WriteAllText(file, """{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}""");
        Assert.Equal("OciUnsupported", Assert.Throws<UnicornException>(() => OciResources.Load(file)).ErrorId);
    }

    [Fact]
    public void APrivilegedConfigAllowsEveryDeviceAndDeviceNodesOnItsRoot()
    {
        using var b = new OciBundle();
        var node = DefaultNode();
        node["linux"]!["resources"]!["devices"] = JsonNode.Parse("""[{"allow":true,"access":"rwm"}]""");
        node["linux"]!["devices"] = JsonNode.Parse("""[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438,"uid":0,"gid":0},{"path":"/dev/p","type":"p"}]""");
        var c = b.Write(node.ToJsonString());
        Assert.True(DeviceRule.AllowsAll(OciResources.DeviceRules(c.Linux!.Resources)));
        var s = new SpecRecords(OciSpec.ForInit(c, b.Dir, b.State, FakeV1(Path.Combine(b.Dir, "cg"), "x", "memory"), "x").ToArray());
        Assert.True(s.Has("devices"));
        Assert.Equal([["/dev/fuse", "c", "10", "229", "666", "0", "0"], ["/dev/p", "p", "0", "0", "666", "0", "0"]], s.All("device"));
    }

    [Fact]
    public void TheUserAndTheTerminal()
    {
        using var b = new OciBundle();
        var node = DefaultNode();
        Merge(node, JsonNode.Parse("""{"process":{"user":{"uid":1000,"gid":1000,"umask":63,"additionalGids":[10,20]},"consoleSize":{"height":40,"width":120},"oomScoreAdj":-500}}""")!);
        var c = b.Write(node.ToJsonString());
        var s = new SpecRecords(OciSpec.ForInit(c, b.Dir, b.State, FakeV1(Path.Combine(b.Dir, "cg"), "x", "memory"), "x").ToArray());
        Assert.Equal("1000:1000:10,20", s.One("user")[0]);
        Assert.Equal("77", s.One("umask")[0]);
        Assert.Equal(["40", "120"], s.One("consolesize"));
        Assert.Equal("-500", s.One("oomscoreadj")[0]);
    }

    [Fact]
    public void CompilesTheInlineSeccompFilterOnceForInitAndExec()
    {
        using var b = new OciBundle();
        var node = DefaultNode();
        node["linux"]!["seccomp"] = JsonNode.Parse("""
            {"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"flags":["SECCOMP_FILTER_FLAG_TSYNC"],
             "syscalls":[{"names":["getpid","read"],"action":"SCMP_ACT_ALLOW"},
                         {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
                         {"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}
            """);
        var c = b.Write(node.ToJsonString());
        var state = b.State;
        var s = new SpecRecords(OciSpec.ForInit(c, b.Dir, state, FakeV1(Path.Combine(b.Dir, "cg"), "x", "memory"), "x").ToArray());
        var file = s.One("seccomp")[0];
        Assert.Equal(Path.Combine(state, "seccomp.bpf"), file);
        var filter = File.ReadAllBytes(file);
        var (arch, table, _, _) = Host;
        Assert.Equal(RET_ALLOW, ClassicBpf.Run(filter, arch, table["getpid"]));
        Assert.Equal(RET_ALLOW, ClassicBpf.Run(filter, arch, table["personality"], 8));
        Assert.Equal(RET_ERRNO | 38, ClassicBpf.Run(filter, arch, table["personality"], 0));
        Assert.Equal(RET_ERRNO | 13, ClassicBpf.Run(filter, arch, table["kill"]));
        Assert.Equal(RET_ERRNO | 38, ClassicBpf.Run(filter, arch, table["mount"]));
        var exec = new SpecRecords(OciSpec.ForExec(c.Process!, c, b.Dir, state).ToArray());
        Assert.Equal(file, exec.One("seccomp")[0]);
    }

    [Fact]
    public void AnExecProcessFileIsCheckedLikeTheConfigs()
    {
        using var b = new OciBundle();
        var c = b.Write(OciConfig.Default().ToJson());
        var path = Path.Combine(b.Dir, "process.json");
        File.WriteAllText(path, """{"terminal":false,"user":{"uid":0,"gid":0},"args":["ps","-ef"],"env":["A=1"],"cwd":"/tmp","noNewPrivileges":true}""");
        var p = OciProcess.Load(path);
        var s = new SpecRecords(OciSpec.ForExec(p, c, b.Dir, b.State).ToArray());
        Assert.Equal(["ps", "-ef"], s.Values("arg"));
        Assert.Equal("/tmp", s.One("cwd")[0]);
        Assert.False(s.Has("tty"));
        Assert.False(s.Has("mount"));
        Assert.False(s.Has("mask"));
        Assert.False(s.Has("rootfs"));
        Assert.Equal(Capabilities.All.ToString("x"), s.One("caps")[1]); // no capabilities object: all, as runc leaves them
        File.WriteAllText(path, """{"args":["ps"],"cwd":"tmp"}""");
        Assert.Contains("cwd", Assert.Throws<UnicornException>(() => OciProcess.Load(path)).Message);
    }

    [Fact]
    public void TheCgroupMountOnAUnifiedHost()
    {
        using var b = new OciBundle();
        var root = Directory.CreateDirectory(Path.Combine(b.Dir, "cg2")).FullName;
        var cgroups = new CgroupManager(CgroupLayout.Parse([$"25 1 0:22 / {root} rw - cgroup2 cgroup2 rw"], _ => "cpu memory pids"), "unicorn");
        Directory.CreateDirectory(Path.Combine(root, "unicorn", "c1"));
        var c = b.Write(OciConfig.Default().ToJson());
        var bound = new SpecRecords(OciSpec.ForInit(c, b.Dir, b.State, cgroups, "c1").ToArray()).All("mount").Last();
        Assert.Equal(["bind", Path.Combine(root, "unicorn", "c1"), "/sys/fs/cgroup", "rbind,nosuid,noexec,nodev,relatime,ro", ""], bound);
        var node = DefaultNode();
        ((JsonArray)node["linux"]!["namespaces"]!).Add(new JsonObject { ["type"] = "cgroup" });
        c = b.Write(node.ToJsonString());
        var mounted = new SpecRecords(OciSpec.ForInit(c, b.Dir, b.State, cgroups, "c1").ToArray()).All("mount").Last();
        Assert.Equal(["cgroup2", "cgroup2", "/sys/fs/cgroup", "nosuid,noexec,nodev,relatime,ro", ""], mounted);
        Assert.Equal("OciCgroupMountNeedsCgroup", Assert.Throws<UnicornException>(() => OciSpec.ForInit(c, b.Dir, b.State)).ErrorId);
    }

    [Fact]
    public void TheFeaturesDocument()
    {
        var layout = CgroupLayout.Parse(["32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu"], _ => null);
        var f = JsonNode.Parse(OciFeatures.Json(layout))!;
        Assert.Equal("1.0.0", (string?)f["ociVersionMin"]);
        Assert.Equal("1.1.0", (string?)f["ociVersionMax"]);
        Assert.Empty(f["hooks"]!.AsArray());
        Assert.Contains("rbind", f["mountOptions"]!.AsArray().Select(o => (string?)o));
        Assert.Contains("CAP_SYS_ADMIN", f["linux"]!["capabilities"]!.AsArray().Select(o => (string?)o));
        Assert.DoesNotContain("user", f["linux"]!["namespaces"]!.AsArray().Select(o => (string?)o));
        Assert.True((bool)f["linux"]!["cgroup"]!["v1"]!);
        Assert.False((bool)f["linux"]!["cgroup"]!["systemd"]!);
        Assert.False((bool)f["linux"]!["apparmor"]!["enabled"]!);
        Assert.Contains("SCMP_CMP_MASKED_EQ", f["linux"]!["seccomp"]!["operators"]!.AsArray().Select(o => (string?)o));
    }
}

/// <summary>linux.resources on its own, for the mapping tests.</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(LinuxResources))]
partial class OciJsonForTests : System.Text.Json.Serialization.JsonSerializerContext
{
    public static System.Text.Json.Serialization.Metadata.JsonTypeInfo<LinuxResources> Resources => Default.LinuxResources;
}

/// <summary>The OCI face's cgroup work on this host's real v1 hierarchies, under a nested
/// parent of the test's own (as a cgroupsPath /a/b/c makes): the device rules, the freezer.</summary>
[Trait("Category", "Root")]
public sealed class OciCgroupTests : IDisposable
{
    readonly string _top = $"unicorn-test-oci-{Environment.ProcessId}";
    readonly CgroupManager _cgroups;
    const string Id = "c1";

    public OciCgroupTests() => _cgroups = new CgroupManager(CgroupLayout.Detect(), _top + "/inner");

    [Fact]
    public void AppliesTheConfigsDeviceRulesInOrder()
    {
        Assert.True(_cgroups.CanRestrictDevices, "this host has the v1 devices controller");
        var resources = new LinuxResources { Devices = [new OciDeviceCgroup { Allow = false, Access = "rwm" }, new OciDeviceCgroup { Allow = true, Type = "c", Major = 10, Minor = 229, Access = "rw" }] };
        _cgroups.Create(Id, new CgroupLimits(), everyController: true);
        _cgroups.ApplyDeviceRules(Id, OciResources.DeviceRules(resources));
        var list = File.ReadAllLines(Path.Combine(_cgroups.DevicesDir(Id), "devices.list"));
        Assert.Contains("c 10:229 rw", list);
        Assert.Contains("c 1:3 rwm", list);
        Assert.DoesNotContain("a *:* rwm", list);
        _cgroups.ApplyDeviceRules(Id, OciResources.DeviceRules(new LinuxResources { Devices = [new OciDeviceCgroup { Allow = true, Access = "rwm" }] }));
        Assert.Equal(["a *:* rwm"], File.ReadAllLines(Path.Combine(_cgroups.DevicesDir(Id), "devices.list")));
    }

    [Fact]
    public void FreezesAndThawsTheContainersProcesses()
    {
        _cgroups.Create(Id, new CgroupLimits(), everyController: true);
        // The nested parent's cpuset got its parent's cpus, level by level, so a task can join.
        var cpuset = _cgroups.Layout["cpuset"]!;
        Assert.NotEqual("", File.ReadAllText(Path.Combine(_cgroups.Dir(cpuset, Id), "cpuset.cpus")).Trim());
        using var sleep = System.Diagnostics.Process.Start("sleep", "30");
        try
        {
            _cgroups.Attach(Id, sleep.Id);
            Assert.False(_cgroups.IsFrozen(Id));
            _cgroups.Freeze(Id, frozen: true);
            Assert.True(_cgroups.IsFrozen(Id));
            Assert.Equal("FROZEN", File.ReadAllText(Path.Combine(_cgroups.Dir(_cgroups.Layout["freezer"]!, Id), "freezer.state")).Trim());
            _cgroups.Freeze(Id, frozen: false);
            Assert.False(_cgroups.IsFrozen(Id));
        }
        finally
        {
            sleep.Kill();
            sleep.WaitForExit();
        }
    }

    public void Dispose()
    {
        _cgroups.Remove(Id);
        foreach (var mount in _cgroups.Layout.Controllers.Select(c => c.Mount).Distinct())
            foreach (var dir in new[] { Path.Combine(mount, _top, "inner"), Path.Combine(mount, _top) })
                if (Directory.Exists(dir))
                    Directory.Delete(dir);
    }
}
