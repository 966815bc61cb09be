using Unicorn.Images;
using Unicorn.Native;
using Unicorn.Runtime;
using L = Tmds.Linux.LibC;

namespace Unicorn.Tests;

/// <summary>The engine part of Copy-UnicornItem: what a copy keeps of its files, how its
/// extraction differs from a layer's, and a container root that swaps a directory for a
/// symbolic link to the host while copies run into it.</summary>
[Trait("Category", "Root")] // mounts, owners, device nodes, cgroups or containers: needs root
public class CopyTests
{
    static Container ContainerOn(string root) => new()
    {
        Id = new string('c', 64), Name = "copytest", State = ContainerState.Exited, Command = ["sh"], Hostname = "copytest",
        Rootfs = root, WorkingDirectory = "/", Volumes = [], Environment = [],
    };

    static IReadOnlyList<object> Copy(string root, string source, string destination, bool toContainer, bool force = false, bool archive = false, List<string>? warnings = null)
    {
        using var copy = new ContainerCopy(ContainerOn(root), Libc.Open(root, L.O_PATH | L.O_DIRECTORY), source, destination, toContainer, force);
        return copy.Run(new CopyOptions { Archive = archive, Warning = warnings is null ? null : warnings.Add });
    }

    [Fact]
    public void ChmodAtChangesNotWhatASymbolicLinkPointsTo()
    {
        using var box = new LayerSandbox();
        File.WriteAllText(box.In("target"), "x");
        File.SetUnixFileMode(box.In("target"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.CreateSymbolicLink(box.In("link"), box.In("target"));
        int dir = Libc.Open(box.Dir, L.O_PATH | L.O_DIRECTORY);
        try { Assert.Throws<NativeException>(() => Libc.ChmodAt(dir, "link", 0b111_111_111)); }
        finally { Libc.Close(dir); }
        Assert.Equal(0b110_000_000u, Tars.Stat(box.In("target")).Mode & 0xFFF);
    }

    [Fact]
    public void ACopysExtractionTakesNamesAsTheyAreAndNeverRemovesADirectory()
    {
        using var box = new LayerSandbox();
        Directory.CreateDirectory(box.In("d"));
        File.WriteAllText(box.In("d/kept"), "kept");
        int root = Libc.Open(box.Dir, L.O_PATH | L.O_DIRECTORY);
        try
        {
            LayerExtractor.ExtractCopy(Tars.Build(Tars.File(".wh.x", "a file"), Tars.File(".wh..wh..opq", "another")), root, "test", ExtractionBudget.Unlimited);
            var e = Assert.Throws<UnicornException>(() => LayerExtractor.ExtractCopy(Tars.Build(Tars.File("d", "over a directory")), root, "test", ExtractionBudget.Unlimited));
            Assert.Equal("DestinationExists", e.ErrorId);
        }
        finally { Libc.Close(root); }
        Assert.Equal("a file", File.ReadAllText(box.In(".wh.x")));
        Assert.Equal("another", File.ReadAllText(box.In(".wh..wh..opq")));
        Assert.Equal("kept", File.ReadAllText(box.In("d/kept")));
    }

    [Fact]
    public void ACopyIsTheCopiersWithoutSetIdBitsOrAttributesAndSkipsFifosUnlessArchive()
    {
        using var box = new LayerSandbox("root");
        var src = Path.Combine(box.Sentinel, "src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "tool"), "#!/bin/sh");
        Libc.ChownAt(L.AT_FDCWD, Path.Combine(src, "tool"), 1234, 4321);
        Libc.ChmodAt(L.AT_FDCWD, Path.Combine(src, "tool"), 0b110_111_101_101); // 6755
        Assert.Equal(0, Libc.TryMknodAt(L.AT_FDCWD, Path.Combine(src, "fifo"), Tars.Mode(L.S_IFIFO, "600"), 0, 0));
        var warnings = new List<string>();

        var made = Copy(box.Dir, src, "/plain", toContainer: true, warnings: warnings);
        var item = Assert.IsType<ContainerItem>(Assert.Single(made));
        Assert.Equal(("/plain", "Directory"), (item.Path, item.ItemType));
        var plain = Tars.Stat(box.In("plain/tool"));
        Assert.Equal((Libc.EffectiveUid, Libc.EffectiveGid, 0b111_101_101u), (plain.Uid, plain.Gid, plain.Mode & 0xFFF));
        Assert.False(File.Exists(box.In("plain/fifo")));
        Assert.Contains("is a FIFO: not copied", Assert.Single(warnings));

        Copy(box.Dir, src, "/kept", toContainer: true, archive: true);
        var kept = Tars.Stat(box.In("kept/tool"));
        Assert.Equal((1234u, 4321u, 0b110_111_101_101u), (kept.Uid, kept.Gid, kept.Mode & 0xFFF));
    }

    [Fact]
    public async Task CopiesIntoADirectorySwappedForALinkToTheHostNeverWriteThere()
    {
        using var box = new LayerSandbox("root");
        var host = Path.Combine(box.Sentinel, "host");
        Directory.CreateDirectory(host);
        var src = Path.Combine(box.Sentinel, "src");
        Directory.CreateDirectory(Path.Combine(src, "deep/er"));
        File.WriteAllText(Path.Combine(src, "deep/er/file"), "copied");
        Directory.CreateDirectory(box.In("dir"));
        File.CreateSymbolicLink(box.In("dirlink"), host); // inside the root, this names root/<host's path>: not there

        using var stop = new CancellationTokenSource();
        var swap = HostileFileTests.Swap(stop.Token, (box.In("dir"), box.In("dirlink")));
        int copied = 0;
        for (int i = 0; i < 300; i++)
        {
            try
            {
                Copy(box.Dir, src, "/dir/", toContainer: true, force: true);
                copied++;
            }
            catch (UnicornException) { } // the link's turn: its target is not in the root
        }
        stop.Cancel();
        Assert.True(await swap > 0, "the directory and the link were never swapped");
        Assert.Empty(Directory.EnumerateFileSystemEntries(host));
        Assert.True(copied > 0, "no copy found the directory");
        box.AssertNothingOutside("host", "src");
    }
}
