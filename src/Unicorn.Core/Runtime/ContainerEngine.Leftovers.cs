namespace Unicorn.Runtime;

public sealed partial class ContainerEngine
{
    /// <summary>The data directories of containers that have no record (state) any more.</summary>
    public IEnumerable<Leftover> Leftovers()
    {
        var root = Path.GetDirectoryName(Paths.ContainerDataDir("x"))!;
        if (!Directory.Exists(root))
            yield break;
        foreach (var dir in Directory.EnumerateDirectories(root))
        {
            var id = Path.GetFileName(dir);
            if (!File.Exists(Paths.ContainerRecord(id)))
                yield return new Leftover(id, dir, new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length));
        }
    }

    /// <summary>Deletes a leftover, unless its container has come back meanwhile (checked under the lock).</summary>
    public void Remove(Leftover leftover)
    {
        using (Files.Lock(Paths))
            if (!File.Exists(Paths.ContainerRecord(leftover.ContainerId)))
                Files.DeleteTree(Paths.ContainerDataDir(leftover.ContainerId));
    }
}
