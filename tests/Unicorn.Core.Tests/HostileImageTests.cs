using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Unicorn.Images;

namespace Unicorn.Tests;

/// <summary>An OCI layout written by the test, byte by byte, as an attacker would; beside it a
/// directory "outside" that the layout must never reach, and a store of its own. All of it
/// under one temporary root, removed after. With archive, the layout is held in memory and
/// imported as a tar of it (tens of thousands of blobs cost nothing that way).</summary>
sealed class HostileLayout : IDisposable
{
    readonly Dictionary<string, byte[]>? _memory;
    string _index = "";

    public const string ManifestType = "application/vnd.oci.image.manifest.v1+json", IndexType = "application/vnd.oci.image.index.v1+json",
        ConfigType = "application/vnd.oci.image.config.v1+json", LayerType = "application/vnd.oci.image.layer.v1.tar";

    public string Root { get; } = Directory.CreateTempSubdirectory("unicorn-hostile-").FullName;
    public string Layout => Path.Combine(Root, "layout");
    public string Outside => Path.Combine(Root, "outside");
    public string Images => Path.Combine(Root, "data", "images");
    public ImageStore Store { get; }
    const string LayoutFile = """{"imageLayoutVersion":"1.0.0"}""";

    public HostileLayout(bool archive = false)
    {
        _memory = archive ? [] : null;
        Directory.CreateDirectory(Path.Combine(Layout, "blobs", "sha256"));
        Directory.CreateDirectory(Outside);
        File.WriteAllText(Path.Combine(Layout, "oci-layout"), LayoutFile);
        Store = new ImageStore(new UnicornPaths(Path.Combine(Root, "state"), Path.Combine(Root, "data")));
    }

    public static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
    public string BlobFile(string digest) => Path.Combine(Layout, "blobs", "sha256", digest[7..]);

    public string Blob(byte[] bytes)
    {
        var digest = Sha256(bytes);
        if (_memory is not null)
            _memory[digest] = bytes;
        else
            File.WriteAllBytes(BlobFile(digest), bytes);
        return digest;
    }

    public string Blob(JsonNode json) => Blob(Encoding.UTF8.GetBytes(json.ToJsonString()));

    /// <summary>A plain tar layer: its digest is its diff id.</summary>
    public string Layer(params TarEntry[] entries) => Blob(Tars.Build(entries).ToArray());

    public static JsonObject ConfigJson(IEnumerable<string> diffIds, JsonObject? config = null) => new()
    {
        ["architecture"] = Platform.Architecture,
        ["os"] = "linux",
        ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(diffIds.Select(d => (JsonNode)d).ToArray()) },
        ["config"] = config ?? new JsonObject { ["Cmd"] = new JsonArray("/bin/sh") },
    };

    public static JsonObject Descriptor(string mediaType, string digest, long size = 0, string? name = null)
    {
        var d = new JsonObject { ["mediaType"] = mediaType, ["digest"] = digest, ["size"] = size };
        if (name is not null)
            d["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = name };
        return d;
    }

    public static JsonObject ManifestJson(string configDigest, IEnumerable<string> layers) => new()
    {
        ["schemaVersion"] = 2,
        ["mediaType"] = ManifestType,
        ["config"] = Descriptor(ConfigType, configDigest),
        ["layers"] = new JsonArray(layers.Select(l => (JsonNode)Descriptor(LayerType, l)).ToArray()),
    };

    public static JsonObject IndexJson(IEnumerable<JsonObject> descriptors) => new()
    {
        ["schemaVersion"] = 2,
        ["mediaType"] = IndexType,
        ["manifests"] = new JsonArray(descriptors.Cast<JsonNode>().ToArray()),
    };

    public void Index(params JsonObject[] descriptors) => WriteIndex(IndexJson(descriptors));
    public void WriteIndex(JsonNode index)
    {
        _index = index.ToJsonString();
        if (_memory is null)
            File.WriteAllText(Path.Combine(Layout, "index.json"), _index);
    }

    /// <summary>A whole image: one layer with one file, a config, a manifest; returns the manifest's digest.</summary>
    public string Image(JsonObject? config = null)
    {
        var layer = Layer(Tars.File("hello", "hello"));
        return Blob(ManifestJson(Blob(ConfigJson([layer], config)), [layer]));
    }

    public List<Image> Import(long maxSize = ImageLimits.DefaultMaxSize)
    {
        if (_memory is null)
            return Store.Import(Layout, null, maxSize: maxSize);
        // The layout as one tar (an OCI archive), written in one go.
        var tar = Path.Combine(Root, "layout.tar");
        using (var file = File.Create(tar))
        using (var writer = new TarWriter(file, TarEntryFormat.Ustar))
        {
            void Add(string name, byte[] bytes) => writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });
            Add("oci-layout", Encoding.UTF8.GetBytes(LayoutFile));
            Add("index.json", Encoding.UTF8.GetBytes(_index));
            foreach (var (digest, bytes) in _memory)
                Add("blobs/sha256/" + digest[7..], bytes);
        }
        return Store.Import(tar, null, maxSize: maxSize);
    }

    /// <summary>What the store holds: layers, records and leftovers of imports.</summary>
    public List<string> StoreContent() => new[] { "layers", "records", "tmp" }
        .Select(d => Path.Combine(Images, d)).Where(Directory.Exists).SelectMany(Directory.EnumerateFileSystemEntries).ToList();

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>Hostile images, each made here and imported whole: what an attacker controls (every
/// byte of an index, a manifest, a config, a layer, and the layout's file types) must never reach
/// the host, hang or crash the import, or leave anything in the store.</summary>
[Trait("Category", "Root")] // mounts, owners, device nodes, cgroups or containers: needs root
public class HostileImageTests
{
    static UnicornException Refused(Action import) => Assert.Throws<UnicornException>(import);

    /// <summary>The import fails with a UnicornException within limit (not hangs, not crawls).</summary>
    static UnicornException RefusedWithin(TimeSpan limit, Action import)
    {
        var task = Task.Run(import);
        try
        {
            Assert.True(task.Wait(limit), $"The import was still running after {limit.TotalSeconds} s.");
        }
        catch (AggregateException e) when (e.InnerException is UnicornException u)
        {
            return u;
        }
        Assert.Fail("The import was not refused.");
        return null!;
    }

    // ---- digests: the only names a layout may give its files -----------------------------------

    [Theory]
    [InlineData("index", "sha256:../../../outside/secret")]
    [InlineData("index", "sha256:../../../../../../../../etc/passwd")]
    [InlineData("config", "sha256:../../../outside/secret")]
    [InlineData("layer", "sha256:../../../outside/secret")]
    [InlineData("index", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n")]
    [InlineData("index", "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("index", "sha256:/etc/passwd")]
    public void ADigestThatIsNotSha256HexIsRefusedBeforeAnyFileIsOpened(string where, string digest)
    {
        using var layout = new HostileLayout();
        // What the digest points at exists, outside the layout, and hashes to nothing in particular.
        File.WriteAllText(Path.Combine(layout.Outside, "secret"), "not for the image");
        var layer = layout.Layer(Tars.File("hello", "hello"));
        var config = layout.Blob(HostileLayout.ConfigJson([layer]));
        var manifest = where switch
        {
            "config" => layout.Blob(HostileLayout.ManifestJson(digest, [layer])),
            "layer" => layout.Blob(HostileLayout.ManifestJson(config, [digest])),
            _ => digest,
        };
        layout.Index(HostileLayout.Descriptor(HostileLayout.ManifestType, manifest));
        var e = Refused(() => layout.Import());
        Assert.Equal("InvalidDigest", e.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Empty(layout.StoreContent());
    }

    [Fact]
    public void ADiffIdThatClimbsOutOfTheStoreIsRefusedNotTakenForALayerAlreadyThere()
    {
        // Before: the store saw "layers/../../../outside" exist, skipped the layer, and recorded an
        // image whose lower directory was a host directory.
        using var layout = new HostileLayout();
        var layer = layout.Layer(Tars.File("hello", "hello"));
        var config = layout.Blob(HostileLayout.ConfigJson(["sha256:../../../outside"]));
        layout.Index(HostileLayout.Descriptor(HostileLayout.ManifestType, layout.Blob(HostileLayout.ManifestJson(config, [layer]))));
        var e = Refused(() => layout.Import());
        Assert.Equal("InvalidDigest", e.ErrorId);
        Assert.Empty(layout.Store.List());
        Assert.Empty(layout.StoreContent());
    }

    [Fact]
    public void AnotherAlgorithmIsRefusedByName()
    {
        using var layout = new HostileLayout();
        layout.Index(HostileLayout.Descriptor(HostileLayout.ManifestType, "sha512:" + new string('a', 128)));
        var e = Refused(() => layout.Import());
        Assert.Equal("InvalidDigest", e.ErrorId);
        Assert.Contains("sha512", e.Message);
        Assert.Contains("only sha256", e.Message);
    }

    // ---- blobs: regular files inside the layout, never followed, never opened otherwise ---------

    [Theory]
    [InlineData("manifest")]
    [InlineData("config")]
    [InlineData("layer")]
    public void ABlobThatIsAFifoIsRefusedWithoutHanging(string which)
    {
        using var layout = new HostileLayout();
        var layer = layout.Layer(Tars.File("hello", "hello"));
        var config = layout.Blob(HostileLayout.ConfigJson([layer]));
        var manifest = layout.Blob(HostileLayout.ManifestJson(config, [layer]));
        layout.Index(HostileLayout.Descriptor(HostileLayout.ManifestType, manifest));
        var fifo = layout.BlobFile(which switch { "manifest" => manifest, "config" => config, _ => layer });
        File.Delete(fifo);
        Assert.Equal(0, Unicorn.Native.Libc.TryMknodAt(Tmds.Linux.LibC.AT_FDCWD, fifo, (uint)Tmds.Linux.LibC.S_IFIFO | 0b110_000_000, 0, 0));
        // Nothing ever writes to it: an import that opened it for reading would wait forever.
        var e = RefusedWithin(TimeSpan.FromSeconds(20), () => layout.Import());
        Assert.Equal("UnsafeArchive", e.ErrorId);
        Assert.Contains("fifo", e.Message);
        Assert.Empty(layout.StoreContent());
    }

    [Theory]
    [InlineData("absolute")]
    [InlineData("relative")]
    [InlineData("directory")]
    public void ABlobReachedThroughASymlinkIsRefusedEvenWhenItsContentMatches(string kind)
    {
        // The manifest lies outside the layout, with the right digest: following the link would import it.
        using var layout = new HostileLayout();
        var manifest = layout.Image();
        var outside = Path.Combine(layout.Outside, manifest[7..]);
        File.Move(layout.BlobFile(manifest), outside);
        if (kind == "directory")
        {
            // blobs/sha256 itself is a link to a directory outside.
            foreach (var f in Directory.GetFiles(Path.GetDirectoryName(layout.BlobFile(manifest))!))
                File.Move(f, Path.Combine(layout.Outside, Path.GetFileName(f)));
            Directory.Delete(Path.Combine(layout.Layout, "blobs", "sha256"));
            File.CreateSymbolicLink(Path.Combine(layout.Layout, "blobs", "sha256"), layout.Outside);
        }
        else
            File.CreateSymbolicLink(layout.BlobFile(manifest), kind == "absolute" ? outside : "../../../outside/" + manifest[7..]);
        layout.Index(HostileLayout.Descriptor(HostileLayout.ManifestType, manifest));
        var e = Refused(() => layout.Import());
        Assert.Equal("UnsafeArchive", e.ErrorId);
        Assert.Empty(layout.StoreContent());
    }

    [Fact]
    public void ADockerSaveManifestInALayoutCannotNamePathsOutsideIt()
    {
        // A directory with oci-layout and index.json is read as docker save when it has a
        // manifest.json; its paths are the image author's too.
        using var layout = new HostileLayout();
        var layer = Tars.Build(Tars.File("hello", "hello")).ToArray();
        File.WriteAllBytes(Path.Combine(layout.Outside, "layer.tar"), layer);
        var config = Encoding.UTF8.GetBytes(HostileLayout.ConfigJson([HostileLayout.Sha256(layer)]).ToJsonString());
        File.WriteAllBytes(Path.Combine(layout.Outside, HostileLayout.Sha256(config)[7..] + ".json"), config);
        layout.Index();
        File.WriteAllText(Path.Combine(layout.Layout, "manifest.json"), new JsonArray(new JsonObject
        {
            ["Config"] = $"../outside/{HostileLayout.Sha256(config)[7..]}.json",
            ["RepoTags"] = new JsonArray("stolen:1"),
            ["Layers"] = new JsonArray("../outside/layer.tar"),
        }).ToJsonString());
        var e = Refused(() => layout.Import());
        Assert.Equal("UnsafeArchive", e.ErrorId);
        Assert.Empty(layout.StoreContent());
    }

    [Theory]
    [InlineData("/etc/hostname")]
    [InlineData("../x.json")]
    [InlineData("a/../../x.json")]
    public void ADockerSaveArchiveCannotNamePathsOutsideIt(string configPath)
    {
        using var layout = new HostileLayout();
        var archive = Path.Combine(layout.Root, "save.tar");
        var manifest = new JsonArray(new JsonObject { ["Config"] = configPath, ["RepoTags"] = new JsonArray("x:1"), ["Layers"] = new JsonArray() });
        using (var file = File.Create(archive))
            Tars.Build(Tars.File("manifest.json", manifest.ToJsonString())).CopyTo(file);
        var e = Refused(() => layout.Store.Import(archive, null));
        Assert.Equal("UnsafeArchive", e.ErrorId);
        Assert.Empty(layout.StoreContent());
    }

    // ---- the index walk: bounded, and linear ----------------------------------------------------

    [Fact]
    public void A60000DeepIndexChainIsRefusedAtTheDepthLimitWithoutOverflowingTheStack()
    {
        using var layout = new HostileLayout(archive: true);
        var next = layout.Image();
        var type = HostileLayout.ManifestType;
        for (int i = 0; i < 60_000; i++)
        {
            next = layout.Blob(HostileLayout.IndexJson([HostileLayout.Descriptor(type, next)]));
            type = HostileLayout.IndexType;
        }
        layout.Index(HostileLayout.Descriptor(HostileLayout.IndexType, next));
        var clock = Stopwatch.StartNew();
        var e = RefusedWithin(TimeSpan.FromSeconds(30), () => layout.Import());
        Assert.Equal("ImageTooComplex", e.ErrorId);
        Assert.Equal(ErrorKind.LimitsExceeded, e.Kind);
        Assert.Contains($"more than {ImageLimits.MaxIndexDepth} deep", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Empty(layout.StoreContent());
    }

    [Fact]
    public void AnIndexOf10000ManifestsIsRefusedAtOnce()
    {
        // Each a different image (its own config): imported one by one, the store's work grew as n².
        using var layout = new HostileLayout(archive: true);
        var layer = layout.Layer(Tars.File("hello", "hello"));
        var entries = Enumerable.Range(0, 10_000).Select(i =>
        {
            var config = layout.Blob(HostileLayout.ConfigJson([layer], new JsonObject { ["Env"] = new JsonArray($"N={i}") }));
            return HostileLayout.Descriptor(HostileLayout.ManifestType, layout.Blob(HostileLayout.ManifestJson(config, [layer])), name: $"t{i}");
        }).ToArray();
        layout.Index(entries);
        var clock = Stopwatch.StartNew();
        var e = RefusedWithin(TimeSpan.FromSeconds(60), () => layout.Import());
        Assert.Equal("ImageTooComplex", e.ErrorId);
        Assert.Contains("10000 manifests", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Empty(layout.StoreContent());
    }

    [Fact]
    public void AManifestNamedByManyEntriesIsReadOnceAndGetsEveryName()
    {
        // 1000 entries (within the fan-out) of one manifest, under 10 names, through a nested index too.
        using var layout = new HostileLayout();
        var manifest = layout.Image();
        var nested = layout.Blob(HostileLayout.IndexJson([HostileLayout.Descriptor(HostileLayout.ManifestType, manifest)]));
        layout.Index(Enumerable.Range(0, 1000).Select(i => i % 2 == 0
            ? HostileLayout.Descriptor(HostileLayout.ManifestType, manifest, name: $"t{i % 10}")
            : HostileLayout.Descriptor(HostileLayout.IndexType, nested, name: $"t{i % 10}")).ToArray());
        var clock = Stopwatch.StartNew();
        var image = Assert.Single(layout.Import());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"layout:t{i}").Order(), image.Names.Order());
        Assert.Single(layout.Store.List());
    }

    // ---- size: what a layer declares is only known as it is decompressed -----------------------

    /// <summary>Zeros, as many as asked, without holding them.</summary>
    sealed class Zeros(long length) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get; set; }
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, length - Position);
            Array.Clear(buffer, offset, n);
            Position += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset, SeekOrigin.Current => Position + offset, _ => length + offset,
        };
        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A tar of one file of zeros, compressed: a few hundred KB that expand to size.</summary>
    static void WriteBomb(string path, string compression, long size)
    {
        using var file = File.Create(path);
        using Stream compressed = compression == "zstd" ? new ZstdSharp.CompressionStream(file, 3) : new GZipStream(file, CompressionLevel.Optimal);
        using var tar = new TarWriter(compressed, TarEntryFormat.Pax, leaveOpen: true);
        tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bomb") { DataStream = new Zeros(size) });
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("zstd")]
    public void ALayerThatExpandsPastMaxSizeStopsTheImportAndLeavesNothing(string compression)
    {
        using var layout = new HostileLayout();
        var bomb = Path.Combine(layout.Root, "bomb.tar." + compression);
        WriteBomb(bomb, compression, 64L << 20);
        Assert.True(new FileInfo(bomb).Length < 256 << 10, "the bomb is small");
        var e = Refused(() => layout.Store.Import(bomb, "bomb", maxSize: 8 << 20));
        Assert.Equal("ImageTooLarge", e.ErrorId);
        Assert.Equal(ErrorKind.LimitsExceeded, e.Kind);
        Assert.Contains("-MaxSize", e.Message);
        Assert.Empty(layout.StoreContent());

        // The same, with room for it, imports.
        var image = Assert.Single(layout.Store.Import(bomb, "bomb", maxSize: 64L << 20));
        Assert.Equal(64L << 20, image.Size);
    }

    [Fact]
    public void TheCapCountsAllTheLayersOfAnImportAndTakesOutTheOnesItExtracted()
    {
        using var layout = new HostileLayout();
        var first = layout.Layer(Tars.File("first", new string('a', 600 << 10)));
        var second = layout.Layer(Tars.File("second", new string('b', 600 << 10)));
        layout.Index(HostileLayout.Descriptor(HostileLayout.ManifestType,
            layout.Blob(HostileLayout.ManifestJson(layout.Blob(HostileLayout.ConfigJson([first, second])), [first, second]))));
        var e = Refused(() => layout.Import(maxSize: 1 << 20));
        Assert.Equal("ImageTooLarge", e.ErrorId);
        Assert.Empty(layout.StoreContent());
        Assert.Equal(1200 << 10, Assert.Single(layout.Import(maxSize: 2 << 20)).Size);
    }

    [Fact]
    public void ALayerPathDeeperThanTheLimitIsRefused()
    {
        using var layout = new HostileLayout();
        var deep = string.Join('/', Enumerable.Repeat("d", ImageLimits.MaxPathDepth)) + "/file";
        var tar = Path.Combine(layout.Root, "deep.tar");
        using (var file = File.Create(tar))
            Tars.Build(Tars.File("ok/file", "fine"), Tars.File(deep, "too deep")).CopyTo(file);
        var e = Refused(() => layout.Store.Import(tar, "deep"));
        Assert.Equal("ImageTooComplex", e.ErrorId);
        Assert.Empty(layout.StoreContent());
    }

    // ---- JSON: malformed, mistyped or oversized is a clear CorruptArchive -----------------------

    [Theory]
    [InlineData("index.json", "{\"manifests\": [", "CorruptArchive")]
    [InlineData("manifest", "{\"schemaVersion\": 2, \"config\": ", "CorruptArchive")]
    [InlineData("config", "[1, 2", "CorruptArchive")]
    [InlineData("manifest", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "CorruptArchive")]
    [InlineData("index.json", "{\"manifests\": [1]}", "CorruptArchive")]
    [InlineData("index.json", "{\"manifests\": [{\"digest\": 5}]}", "InvalidDigest")]
    [InlineData("manifest", "[]", "UnsupportedMediaType")]
    [InlineData("config", "[]", "CorruptArchive")]
    [InlineData("config", "{\"rootfs\": {\"diff_ids\": [5]}}", "InvalidDigest")]
    [InlineData("config", "{\"rootfs\": {\"diff_ids\": []}, \"config\": []}", "CorruptArchive")]
    public void MalformedJsonIsACorruptArchiveNamingTheFile(string which, string json, string errorId)
    {
        using var layout = new HostileLayout();
        var layer = layout.Layer(Tars.File("hello", "hello"));
        var config = which == "config" ? layout.Blob(Encoding.UTF8.GetBytes(json)) : layout.Blob(HostileLayout.ConfigJson([layer]));
        var manifest = which == "manifest" ? layout.Blob(Encoding.UTF8.GetBytes(json)) : layout.Blob(HostileLayout.ManifestJson(config, [layer]));
        layout.Index(HostileLayout.Descriptor(HostileLayout.ManifestType, manifest));
        if (which == "index.json")
            File.WriteAllText(Path.Combine(layout.Layout, "index.json"), json);
        var e = Refused(() => layout.Import());
        Assert.Equal(errorId, e.ErrorId);
        if (errorId == "CorruptArchive" && which != "config")
            Assert.Contains(which == "manifest" ? manifest[7..] : which, e.Message);
        Assert.Empty(layout.StoreContent());
    }

    [Fact]
    public void AJsonDocumentLargerThanTheCapIsRefusedBeforeItIsParsed()
    {
        using var layout = new HostileLayout();
        var manifest = layout.Image();
        var big = layout.Blob(Encoding.UTF8.GetBytes("{" + new string(' ', ImageLimits.MaxJsonBytes) + "}"));
        layout.Index(HostileLayout.Descriptor(HostileLayout.ManifestType, big), HostileLayout.Descriptor(HostileLayout.ManifestType, manifest));
        var e = Refused(() => layout.Import());
        Assert.Equal("CorruptArchive", e.ErrorId);
        Assert.Contains("larger than 4 MiB", e.Message);
        Assert.Contains(big[7..], e.Message);
    }

    // ---- the config: what a container will run with ---------------------------------------------

    public static TheoryData<string, string, string> BadConfigs => new()
    {
        { "Env", """["PATH=/bin", "X=1\u0000LD_PRELOAD=/evil.so"]""", "Env[1]" },
        { "Env", """["=value"]""", "Env[0]" },
        { "Env", """["NONAME"]""", "Env[0]" },
        { "Env", """["A=1", 7]""", "Env[1]" },
        { "WorkingDir", "\"/srv\\u0000/x\"", "WorkingDir" },
        { "WorkingDir", "\"relative/dir\"", "WorkingDir" },
        { "Cmd", """["/bin/sh", "-c", "true\u0000"]""", "Cmd[2]" },
        { "Cmd", """["/bin/sh", null]""", "Cmd[1]" },
        { "Entrypoint", """["/bin/sh\u0000-x"]""", "Entrypoint[0]" },
        { "User", "\"root\\u0000\"", "User" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void AConfigThatCannotBeRunAsItSaysIsRefusedAtImport(string field, string value, string named)
    {
        using var layout = new HostileLayout();
        var config = new JsonObject { [field] = JsonNode.Parse(value) };
        layout.Index(HostileLayout.Descriptor(HostileLayout.ManifestType, layout.Image(config)));
        var e = Refused(() => layout.Import());
        Assert.Equal("InvalidImageConfig", e.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(named, e.Message);
        Assert.Equal(named, e.Target);
        Assert.Empty(layout.StoreContent()); // refused before any layer was extracted
    }

    [Fact]
    public void ValidateTakesAUsableConfigAndRefusesWhatARecordCouldHold()
    {
        new ImageConfig { Cmd = ["/bin/sh", "-c", "echo a\nb"], Env = ["A=1", "B=", "C=x=y"], WorkingDir = "/srv", User = "app:app" }.Validate();
        new ImageConfig().Validate();
        var e = Assert.Throws<UnicornException>(() => new ImageConfig { Env = ["A=1", "B=\0"] }.Validate());
        Assert.Equal("InvalidImageConfig", e.ErrorId);
        Assert.Contains("Env[1]", e.Message);
        Assert.Contains("\\u0000", e.Message);
        Assert.False(e.Message.Contains('\0'), "the message holds the NUL itself");
    }
}
