using Unicorn.Cgroups;

namespace Unicorn.Tests;

public class CgroupLayoutTests
{
    static readonly string[] Hybrid =
    [
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
        "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct",
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
        "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio",
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids",
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
    ];

    [Fact]
    public void UsesV1ForEveryControllerBoundThereAndV2ForTheRest()
    {
        var layout = CgroupLayout.Parse(Hybrid, _ => "cpuset memory hugetlb");
        Assert.Equal(new CgroupLayout.Controller("memory", 1, "/sys/fs/cgroup/memory"), layout["memory"]);
        Assert.Equal(new CgroupLayout.Controller("io", 1, "/sys/fs/cgroup/blkio"), layout["io"]);
        Assert.Equal(new CgroupLayout.Controller("cpuset", 2, "/sys/fs/cgroup/unified"), layout["cpuset"]);
        Assert.Equal("v1+v2", layout.Versions);
    }

    [Fact]
    public void ReadsAUnifiedHost()
    {
        var layout = CgroupLayout.Parse(["25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate"], _ => "cpuset cpu io memory pids\n");
        Assert.All(CgroupLayout.Wanted.Where(n => n is not ("devices" or "freezer")), name => Assert.Equal(2, layout[name]!.Version));
        Assert.Null(layout["devices"]); // v2 has no devices controller: an eBPF program's job
        Assert.False(new CgroupManager(layout, "unicorn").CanRestrictDevices);
        Assert.Equal("v2", layout.Versions);
    }

    [Fact]
    public void KnowsNothingWithoutCgroupMounts() => Assert.Empty(CgroupLayout.Parse(["27 1 254:0 / / rw - ext4 /dev/vda rw"], _ => null).Controllers);
}

public class CgroupLimitsTests
{
    [Theory]
    [InlineData(1024L * 1024, null, null, null, null, "-Memory")]
    [InlineData(null, 64L * 1024 * 1024, null, null, null, "-MemorySwap")]
    [InlineData(null, null, 0.0, null, null, "-Cpus")]
    [InlineData(null, null, null, 1L, null, "-CpuShares")]
    [InlineData(null, null, null, null, 0L, "-PidsLimit")]
    public void NamesTheLimitItRefuses(long? memory, long? swap, double? cpus, long? shares, long? pids, string name)
    {
        var e = Assert.Throws<UnicornException>(new CgroupLimits { Memory = memory, MemorySwap = swap, Cpus = cpus, CpuShares = shares, PidsLimit = pids }.Validate);
        Assert.Equal("InvalidCgroupLimit", e.ErrorId);
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void ConvertsWeightsBetweenScales()
    {
        Assert.Equal(39, CgroupLimits.SharesToWeight(1024)); // runc's figure for the v1 default
        Assert.Equal(1, CgroupLimits.SharesToWeight(2));
        Assert.Equal(10000, CgroupLimits.SharesToWeight(262144));
        Assert.Equal(2, CgroupLimits.WeightToShares(1));
        Assert.Equal(262144, CgroupLimits.WeightToShares(10000));
    }

    [Theory]
    [InlineData("0-1", new[] { 0, 1 })]
    [InlineData("0,2-3", new[] { 0, 2, 3 })]
    [InlineData("x", null)]
    [InlineData("3-1", null)]
    public void ParsesCpuLists(string list, int[]? cpus) => Assert.Equal(cpus, CgroupLimits.ParseCpuList(list)?.ToArray());
}

/// <summary>The v2 driver against a tree laid out like the kernel's, in a temp directory: the
/// file names, value formats and the delegation write. (This host's v2 hierarchy has no
/// controllers; the v1 driver is tested live, in Pester.)</summary>
[Trait("Category", "Root")] // mounts, owners, device nodes, cgroups or containers: needs root
public sealed class CgroupV2Tests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("unicorn-cgv2-").FullName;
    readonly CgroupManager _cgroups;
    const string Id = "c0ffee";

    public CgroupV2Tests()
    {
        File.WriteAllText(Path.Combine(_root, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma\n");
        File.WriteAllText(Path.Combine(_root, "cpuset.cpus.effective"), "0-3\n");
        var layout = CgroupLayout.Parse([$"25 1 0:22 / {_root} rw - cgroup2 cgroup2 rw"], p => File.Exists(p) ? File.ReadAllText(p) : null);
        _cgroups = new CgroupManager(layout, "unicorn-test");
        // What the kernel would give: the parent's and the container's interface files.
        var parent = Directory.CreateDirectory(Path.Combine(_root, "unicorn-test")).FullName;
        File.WriteAllText(Path.Combine(parent, "cgroup.subtree_control"), "");
        var dir = Directory.CreateDirectory(Path.Combine(parent, Id)).FullName;
        foreach (var file in new[] { "memory.max", "memory.swap.max", "cpu.max", "cpu.weight", "cpuset.cpus", "pids.max", "io.weight" })
            File.WriteAllText(Path.Combine(parent, file), "");
        foreach (var (file, value) in new[]
        {
            ("memory.max", "max"), ("memory.swap.max", "max"), ("cpu.max", "max 100000"), ("cpu.weight", "100"),
            ("cpuset.cpus", ""), ("pids.max", "max"), ("io.weight", "default 100"), ("cgroup.procs", ""),
            ("memory.current", "1048576"), ("memory.peak", "2097152"), ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"),
            ("cpu.stat", "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 700\n"),
            ("pids.current", "3"), ("io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2\n8:16 rbytes=1 wbytes=2 rios=1 wios=1\n"),
        })
            File.WriteAllText(Path.Combine(dir, file), value);
    }

    string Get(string file) => File.ReadAllText(Path.Combine(_root, "unicorn-test", Id, file));

    [Fact]
    public void WritesEachLimitInTheV2FileAndFormat()
    {
        _cgroups.Create(Id, new CgroupLimits
        {
            Memory = 256L << 20, MemorySwap = 384L << 20, Cpus = 0.5, CpuShares = 2048, CpusetCpus = "0-1", PidsLimit = 100, IoWeight = 500,
        });
        Assert.Equal("268435456", Get("memory.max"));
        Assert.Equal("134217728", Get("memory.swap.max")); // v2 counts swap alone
        Assert.Equal("50000 100000", Get("cpu.max"));
        Assert.Equal(CgroupLimits.SharesToWeight(2048).ToString(), Get("cpu.weight"));
        Assert.Equal("0-1", Get("cpuset.cpus"));
        Assert.Equal("100", Get("pids.max"));
        Assert.Equal("default 500", Get("io.weight"));
        // Delegated once, from Unicorn's parent, and only the controllers in use.
        var delegated = File.ReadAllText(Path.Combine(_root, "unicorn-test", "cgroup.subtree_control")).Split(' ');
        Assert.Equal(["+cpu", "+cpuset", "+io", "+memory", "+pids"], delegated.Order());
    }

    [Fact]
    public void MakesNothingForALimitWhoseFileIsMissing()
    {
        File.Delete(Path.Combine(_root, "unicorn-test", "io.weight"));
        Directory.Delete(Path.Combine(_root, "unicorn-test", Id), recursive: true);
        var e = Assert.Throws<UnicornException>(() => _cgroups.Extend(Id, new CgroupLimits { PidsLimit = 5, IoWeight = 50 }));
        Assert.Equal("CgroupControllerUnavailable", e.ErrorId);
        Assert.False(Directory.Exists(Path.Combine(_root, "unicorn-test", Id)));
    }

    [Fact]
    public void WritesAllOrNothing()
    {
        _cgroups.Apply(Id, new CgroupLimits { Memory = 64L << 20 });
        File.Delete(Path.Combine(_root, "unicorn-test", Id, "pids.max")); // a controller file that is not there
        var e = Assert.Throws<UnicornException>(() => _cgroups.Apply(Id, new CgroupLimits { Memory = 128L << 20, PidsLimit = 10 }));
        Assert.Equal("CgroupControllerUnavailable", e.ErrorId);
        Assert.Equal((64L << 20).ToString(), Get("memory.max")); // the old limit stays
    }

    [Fact]
    public void RefusesCpusTheHostLacks()
    {
        var e = Assert.Throws<UnicornException>(() => _cgroups.Apply(Id, new CgroupLimits { CpusetCpus = "6-7" }));
        Assert.Equal("InvalidCgroupLimit", e.ErrorId);
        Assert.Contains("0,1,2,3", e.Message);
    }

    [Fact]
    public void ReadsUsageFromTheV2Files()
    {
        var s = _cgroups.Stats(Id, "web")!;
        Assert.Equal("v2", s.Version);
        Assert.Equal(1048576, s.MemoryUsage);
        Assert.Equal(2097152, s.MemoryPeak);
        Assert.Null(s.MemoryLimit); // "max"
        Assert.Equal(1, s.OomKills);
        Assert.Equal(5_000_000, s.CpuUsage);
        Assert.Equal(3_000_000, s.CpuUser);
        Assert.Equal(2_000_000, s.CpuSystem);
        Assert.Equal(700_000, s.CpuThrottled);
        Assert.Null(s.CpuLimit);
        Assert.Equal(3, s.Pids);
        Assert.Null(s.PidsLimit);
        Assert.Equal(4097, s.IoReadBytes);
        Assert.Equal(8194, s.IoWriteBytes);
    }

    [Fact]
    public void AttachesByWritingTheProcessToCgroupProcs()
    {
        _cgroups.Attach(Id, 4242);
        Assert.Equal("4242", Get("cgroup.procs"));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
