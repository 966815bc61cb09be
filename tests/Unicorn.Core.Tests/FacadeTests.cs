using System.Formats.Tar;
using Unicorn.Images;
using Unicorn.Runtime;

namespace Unicorn.Tests;

/// <summary>CPU% from two readings of a cgroup (Get-UnicornCgroup): plain arithmetic on what the
/// cgroup files said, so no cgroup is needed.</summary>
public class CpuPercentTests
{
    static readonly DateTime T0 = new(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    static CgroupStats Reading(long? cpuNs, DateTime time) =>
        new() { ContainerId = "c", Name = "c", Path = "/sys/fs/cgroup/c", Version = "v2", CpuUsage = cpuNs, Time = time };

    [Theory]
    [InlineData(0L, 250_000_000L, 250, 100.0)]        // one whole cpu for the interval
    [InlineData(0L, 50_000_000L, 250, 20.0)]          // a fifth of one
    [InlineData(1_000_000_000L, 1_750_000_000L, 500, 150.0)] // one and a half cpus
    [InlineData(0L, 33_333_333L, 1000, 3.3)]          // to a tenth
    [InlineData(5L, 5L, 250, 0.0)]                    // idle
    public void IsThePercentOfOneCpuUsedBetweenTheReadings(long before, long after, int ms, double percent) =>
        Assert.Equal(percent, CgroupStats.CpuPercentBetween(Reading(before, T0), Reading(after, T0.AddMilliseconds(ms))));

    [Fact]
    public void IsUnknownWithoutUsageOrElapsedTime()
    {
        Assert.Null(CgroupStats.CpuPercentBetween(Reading(null, T0), Reading(10, T0.AddSeconds(1))));
        Assert.Null(CgroupStats.CpuPercentBetween(Reading(10, T0), Reading(null, T0.AddSeconds(1))));
        Assert.Null(CgroupStats.CpuPercentBetween(Reading(10, T0), Reading(20, T0)));
        Assert.Null(CgroupStats.CpuPercentBetween(Reading(10, T0.AddSeconds(1)), Reading(20, T0)));
    }
}

/// <summary>A store (images and rootfs records) under a temporary root of its own; nothing is
/// mounted: the policies read records, not mounts.</summary>
public sealed class StoreSandbox : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("unicorn-facade-").FullName;
    public ContainerEngine Engine { get; }

    public StoreSandbox() => Engine = new ContainerEngine(new UnicornPaths(Path.Combine(Root, "state"), Path.Combine(Root, "data")));

    /// <summary>An image imported from a rootfs tarball of one file.</summary>
    public Image Image(string name, string content)
    {
        var source = Path.Combine(Root, name + "-src");
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "file"), content);
        var tar = Path.Combine(Root, name + ".tar");
        TarFile.CreateFromDirectory(source, tar, includeBaseDirectory: false);
        return Assert.Single(Engine.Images.Import(tar, name));
    }

    /// <summary>The record of a rootfs made from image (as New-UnicornRootfs writes it, unmounted).</summary>
    public Rootfs RootfsOf(Image image)
    {
        var id = Ids.New();
        var dir = Engine.Paths.RootfsDir(id);
        Directory.CreateDirectory(dir);
        Files.WriteJson(Path.Combine(dir, "rootfs.json"),
            new RootfsRecord(id, image.Name, string.Join(':', Engine.Images.LowerDirs(image)), DateTime.UtcNow, null, image.Id), Json.Default.RootfsRecord);
        return Engine.Rootfs.Get(id);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>Remove-UnicornImage's policy: an image that root filesystems use is refused unless
/// forced, and forced, the layers they use stay.</summary>
public sealed class ImageRemovalTests : IDisposable
{
    readonly StoreSandbox store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public void AnImageNoRootfsUsesGoesWithItsLayers()
    {
        var image = store.Image("lonely", "a");
        var other = store.Image("other", "b");
        var layers = store.Engine.Images.LowerDirs(image);
        store.RootfsOf(other);

        var removal = store.Engine.PlanImageRemoval(image, force: false);
        Assert.Empty(removal.UsedBy);
        removal.Run();

        Assert.Null(store.Engine.Images.Find(image.Id));
        Assert.All(layers, l => Assert.False(Directory.Exists(l)));
        Assert.NotNull(store.Engine.Images.Find(other.Id)); // another image, in use, is untouched
    }

    [Fact]
    public void AnImageInUseIsRefusedAndLeftWhole()
    {
        var image = store.Image("used", "a");
        var rootfs = store.RootfsOf(image);

        var e = Assert.Throws<UnicornException>(() => store.Engine.PlanImageRemoval(image, force: false));

        Assert.Equal("ImageInUse", e.ErrorId);
        Assert.Equal(ErrorKind.ResourceBusy, e.Kind);
        Assert.Contains(Ids.Short(rootfs.Id), e.Message);
        Assert.Contains("-Force", e.Message);
        Assert.NotNull(store.Engine.Images.Find(image.Id));
        Assert.All(store.Engine.Images.LowerDirs(image), l => Assert.True(Directory.Exists(l)));
    }

    [Fact]
    public void ForcedTheRecordGoesAndTheLayersTheRootfsUsesStay()
    {
        var image = store.Image("forced", "a");
        var layers = store.Engine.Images.LowerDirs(image);
        var rootfs = store.RootfsOf(image);

        var removal = store.Engine.PlanImageRemoval(image, force: true);
        Assert.Equal([rootfs.Id], removal.UsedBy.Select(r => r.Id));
        removal.Run();

        Assert.Null(store.Engine.Images.Find(image.Id));
        Assert.All(layers, l => Assert.True(File.Exists(Path.Combine(l, "file")), $"{l} is gone"));
    }
}

/// <summary>Export-UnicornRootfs's checks and its file: compression chosen by the name, the mount
/// it needs, a file written whole or not at all.</summary>
public sealed class RootfsExportTests : IDisposable
{
    readonly StoreSandbox store = new();

    public void Dispose() => store.Dispose();

    [Theory]
    [InlineData("out.tar.gz", true)]
    [InlineData("out.tgz", true)]
    [InlineData("OUT.TAR.GZ", true)]
    [InlineData("out.TGZ", true)]
    [InlineData("out.tar", false)]
    [InlineData("out.gz.tar", false)]
    [InlineData("out.tar.zst", false)]
    [InlineData("gz", false)]
    public void CompressesWithGzipWhenTheNameSaysSo(string name, bool gzip) => Assert.Equal(gzip, RootfsExport.IsGzipName(name));

    [Fact]
    public void TheWholeTreeOfARootfsNotMountedIsRefused_ItsChangesAreNot()
    {
        var rootfs = store.RootfsOf(store.Image("unmounted", "a"));
        Assert.False(rootfs.Mounted);
        var path = Path.Combine(store.Root, "out.tar");

        var e = Assert.Throws<UnicornException>(() => store.Engine.Rootfs.PlanExport(rootfs, path, diff: false));
        Assert.Equal("RootfsNotMounted", e.ErrorId);
        Assert.Equal(ErrorKind.InvalidOperation, e.Kind);
        Assert.Contains("-Diff", e.Message);

        Directory.CreateDirectory(rootfs.UpperDir);
        File.WriteAllText(Path.Combine(rootfs.UpperDir, "changed"), "x");
        var export = store.Engine.Rootfs.PlanExport(rootfs, path, diff: true);
        Assert.False(File.Exists(path)); // a plan writes nothing
        export.Run();
        Assert.Equal(["changed"], Entries(path));
    }

    [Theory]
    [InlineData("changes.tar", false)]
    [InlineData("changes.tgz", true)]
    public void TheFileIsATarCompressedAsNamedInPlaceOfAnOldOne(string name, bool gzip)
    {
        var rootfs = store.RootfsOf(store.Image("diff", "a"));
        Directory.CreateDirectory(rootfs.UpperDir);
        File.WriteAllText(Path.Combine(rootfs.UpperDir, "new"), "x");
        var path = Path.Combine(store.Root, name);
        File.WriteAllText(path, "an older file");

        var file = store.Engine.Rootfs.PlanExport(rootfs, path, diff: true).Run();

        Assert.Equal(path, file.FullName);
        using (var s = File.OpenRead(path))
            Assert.Equal(gzip, s.ReadByte() == 0x1f && s.ReadByte() == 0x8b);
        Assert.Equal(["new"], Entries(path));
        Assert.Equal([name], Directory.EnumerateFiles(store.Root, name + "*").Select(Path.GetFileName)); // no temporary left
    }

    static List<string> Entries(string path)
    {
        using var file = File.OpenRead(path);
        using Stream s = RootfsExport.IsGzipName(path) ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress) : file;
        using var tar = new TarReader(s);
        var names = new List<string>();
        while (tar.GetNextEntry() is { } e)
            names.Add(e.Name.TrimStart('.', '/'));
        return names.Where(n => n.Length > 0).ToList();
    }
}

/// <summary>The three questions a state answers, which differ on purpose.</summary>
public class ContainerStateTests
{
    [Theory]
    [InlineData(ContainerState.Created, true, true, true)]
    [InlineData(ContainerState.Running, true, true, true)]
    [InlineData(ContainerState.Restarting, true, false, false)] // ended its run, will run again
    [InlineData(ContainerState.Unknown, true, true, false)]     // runs, with no supervisor to write its log
    [InlineData(ContainerState.Exited, false, false, false)]
    [InlineData(ContainerState.Dead, false, false, false)]
    public void Answers(ContainerState state, bool active, bool running, bool logOpen)
    {
        Assert.Equal(active, state.IsActive());
        Assert.Equal(running, state.IsRunning());
        Assert.Equal(logOpen, state.IsLogOpen());
    }
}

public class ContainerNameTests
{
    [Theory]
    [InlineData("web", true)]
    [InlineData("web-1.a_b", true)]
    [InlineData("-web", false)]
    [InlineData("a/b", false)]
    [InlineData("web\n", false)] // $ would have taken it: the names link would hold a newline
    [InlineData("", false)]
    public void FollowsDockersRule(string name, bool valid) => Assert.Equal(valid, ContainerName.IsValid(name));
}
