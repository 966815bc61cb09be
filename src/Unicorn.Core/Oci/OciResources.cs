using Unicorn.Cgroups;

namespace Unicorn.Oci;

/// <summary>linux.resources as the cgroup's limits and device rules. What the engine cannot
/// apply is refused (OciUnsupported), never dropped: a limit silently missing is a container
/// less confined than its config says.</summary>
public static class OciResources
{
    /// <summary>A resources file (runc update --resources / -r): linux.resources on its own,
    /// checked as a config's are (Limits, DeviceRules).</summary>
    public static LinuxResources Load(string path) => Checked(OciConfig.Read(path, LinuxResources.From, "resources file"));

    /// <summary>The same, from bytes already read (containerd gives them on stdin: --resources -).</summary>
    public static LinuxResources Parse(byte[] json) => Checked(OciConfig.Parse(json, LinuxResources.From, "resources", "-"));

    static LinuxResources Checked(LinuxResources r)
    {
        Limits(r);
        DeviceRules(r);
        return r;
    }

    /// <summary>memory.limit and swap (memory plus swap, -1 unlimited), cpu.shares, cpu.quota
    /// over cpu.period (as a number of cpus), cpu.cpus, pids.limit (0 or less: none),
    /// blockIO.weight (v1's 10-1000 scale).</summary>
    public static CgroupLimits Limits(LinuxResources? r)
    {
        if (r is null)
            return new CgroupLimits();
        if (r.HugepageLimits is { Count: > 0 })
            throw Unsupported("linux.resources.hugepageLimits", "hugetlb limits are not supported yet; remove them");
        if (r.Network is { ClassId: not null } or { Priorities.Count: > 0 })
            throw Unsupported("linux.resources.network", "net_cls and net_prio are not supported; remove classID and priorities");
        if (r.Rdma is { Count: > 0 })
            throw Unsupported("linux.resources.rdma", "rdma limits are not supported; remove them");
        if (r.Unified is { Count: > 0 } unified)
            throw Unsupported("linux.resources.unified", $"cgroup v2 files given by name ({string.Join(", ", unified.Keys)}) are not supported; give the limits in memory, cpu, pids and blockIO");

        var m = r.Memory;
        if (m is { Reservation: > 0 })
            throw Unsupported("linux.resources.memory.reservation", "a soft memory limit is not supported yet; remove it");
        if (m is { Kernel: > 0 } or { KernelTcp: > 0 })
            throw Unsupported("linux.resources.memory.kernel", "kernel memory limits are not supported (newer kernels dropped them); remove kernel and kernelTCP");
        if (m is { Swappiness: not null and <= 100 })
            throw Unsupported("linux.resources.memory.swappiness", "swappiness is not supported yet; remove it");
        if (m is { DisableOomKiller: true })
            throw Unsupported("linux.resources.memory.disableOOMKiller", "the OOM killer cannot be turned off; remove it");

        var c = r.Cpu;
        if (c is { RealtimeRuntime: not null and not 0 } or { RealtimePeriod: not null and not 0 })
            throw Unsupported("linux.resources.cpu.realtimeRuntime", "realtime cpu time is not supported; remove realtimeRuntime and realtimePeriod");
        if (c is { Burst: > 0 })
            throw Unsupported("linux.resources.cpu.burst", "cpu burst is not supported yet; remove it");
        if (c is { Idle: not null and not 0 })
            throw Unsupported("linux.resources.cpu.idle", "SCHED_IDLE cgroups are not supported; remove it");
        if (!string.IsNullOrEmpty(c?.Mems))
            throw Unsupported("linux.resources.cpu.mems", "memory nodes are not supported yet; remove mems");
        double? cpus = null;
        if (c is { Quota: > 0 and var quota })
            cpus = (double)quota / (c.Period is > 0 and var period ? period : 100_000UL);

        var io = r.BlockIo;
        if (io is { LeafWeight: > 0 } or { WeightDevice.Count: > 0 } or { ThrottleReadBpsDevice.Count: > 0 } or { ThrottleWriteBpsDevice.Count: > 0 }
            or { ThrottleReadIopsDevice.Count: > 0 } or { ThrottleWriteIopsDevice.Count: > 0 })
            throw Unsupported("linux.resources.blockIO", "only weight is supported; remove leafWeight, weightDevice and the throttle devices");
        if (io is { Weight: > 0 and (< 10 or > 1000) })
            throw Invalid("linux.resources.blockIO.weight", $"{io.Weight} is not a weight: give 10 to 1000");

        var limits = new CgroupLimits
        {
            Memory = m?.Limit is > 0 and var limit ? limit : null,
            MemorySwap = m?.Swap is { } swap and (> 0 or -1) ? swap : null,
            Cpus = cpus,
            CpuShares = c?.Shares is > 0 and var shares ? (long)shares : null,
            CpusetCpus = string.IsNullOrEmpty(c?.Cpus) ? null : c.Cpus,
            PidsLimit = r.Pids?.Limit is > 0 and var pids ? pids : null,
            IoWeight = io?.Weight is > 0 and var weight ? weight * 10 : null,
        };
        try { limits.Validate(); }
        catch (UnicornException e) when (e.ErrorId == "InvalidCgroupLimit")
        {
            throw Invalid("linux.resources", e.Message.Replace("-Memory", "memory.limit").Replace("-MemorySwap", "memory.swap")
                .Replace("-Cpus", "cpu.quota/cpu.period").Replace("-CpuShares", "cpu.shares").Replace("-CpusetCpus", "cpu.cpus")
                .Replace("-PidsLimit", "pids.limit").Replace("-IoWeight", "blockIO.weight"));
        }
        return limits;
    }

    /// <summary>The device rules the container's devices cgroup gets, in order, as runc makes
    /// them: every device denied, the config's rules, then the default devices allowed.</summary>
    public static IReadOnlyList<DeviceRule> DeviceRules(LinuxResources? r)
    {
        var rules = new List<DeviceRule> { DeviceRule.DenyAll };
        foreach (var (d, i) in (r?.Devices ?? []).Select((d, i) => (d, i)))
        {
            var field = $"linux.resources.devices[{i}]";
            char type = d.Type is null or "" ? 'a' : d.Type is "a" or "b" or "c" ? d.Type[0]
                : throw Invalid(field + ".type", $"'{d.Type}' is not a device type: give a (all), b or c");
            var access = string.IsNullOrEmpty(d.Access) ? "rwm" : d.Access;
            if (access.Any(ch => ch is not ('r' or 'w' or 'm')) || access.Distinct().Count() != access.Length)
                throw Invalid(field + ".access", $"'{d.Access}' is not an access: give some of r, w and m");
            if (d.Major is < -1 || d.Minor is < -1)
                throw Invalid(field, "major and minor are numbers (-1 or none: any)");
            if (type == 'a' && (access.Length != 3 || d.Major is >= 0 || d.Minor is >= 0))
                throw Unsupported(field, "a rule for every device takes all of rwm and no numbers (the kernel's devices cgroup has no partial rule for all)");
            rules.Add(new DeviceRule(d.Allow, type, d.Major is >= 0 ? d.Major : null, d.Minor is >= 0 ? d.Minor : null, access));
        }
        rules.AddRange(DeviceRule.Defaults);
        return rules;
    }

    internal static UnicornException Unsupported(string field, string what) =>
        new("OciUnsupported", ErrorKind.NotImplemented, $"{field}: {what}.", field);

    internal static UnicornException Invalid(string field, string what) =>
        new("OciConfigInvalid", ErrorKind.InvalidArgument, $"{field}: {what}.", field);
}
