using System.Formats.Tar;

namespace Unicorn.Images;

/// <summary>An image archive in a tar (plain, gzip or zstd). Its names are looked up in the
/// archive, never on the host. At most ImageLimits.MaxArchiveEntries entries; its small files
/// are kept in memory after the first pass up to ImageLimits.MaxArchiveCache, and any other
/// is read by a further pass.</summary>
sealed class TarArchiveSource : ArchiveSource
{
    readonly string _path;
    readonly Dictionary<string, byte[]> _small = [];
    readonly Dictionary<string, long> _sizes = []; // the regular files, by name
    readonly Dictionary<string, string> _links = []; // docker save may link <id>/layer.tar to ../<digest>.tar

    public TarArchiveSource(string path)
    {
        _path = path;
        long cached = 0;
        int entries = 0;
        Archive.Read(path, () =>
        {
            using var reader = new TarReader(Compression.Open(File.OpenRead(path)));
            while (reader.GetNextEntry() is { } e)
            {
                if (++entries > ImageLimits.MaxArchiveEntries)
                    throw ImageLimits.TooComplex($"'{path}' holds more than {ImageLimits.MaxArchiveEntries} entries, more than an image archive has.", path);
                if (e.EntryType is TarEntryType.SymbolicLink)
                    _links[Archive.Clean(e.Name)] = Archive.Clean(Path.GetRelativePath("/", Path.GetFullPath(e.LinkName, "/" + Path.GetDirectoryName(Archive.Clean(e.Name)))));
                if (e.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                    continue;
                var name = Archive.Clean(e.Name);
                _sizes[name] = e.Length;
                if (e.Length <= ImageLimits.MaxJsonBytes && cached + e.Length <= ImageLimits.MaxArchiveCache && e.DataStream is { } data
                    && (name.EndsWith(".json") || name.StartsWith("blobs/") || name == "oci-layout"))
                {
                    var bytes = new byte[e.Length];
                    data.ReadExactly(bytes);
                    _small[name] = bytes;
                    cached += bytes.Length;
                }
            }
        });
    }

    string Resolve(string path) => _links.TryGetValue(path, out var target) ? target : path;
    public override bool Has(string path) => _sizes.ContainsKey(Resolve(path));

    protected override byte[] ReadSmall(string path)
    {
        if (_small.TryGetValue(Resolve(path), out var b))
            return b;
        if (!Has(path))
            throw Archive.Missing(path, _path);
        byte[]? read = null;
        ForEachBlob(new HashSet<string> { path }, (_, s) => read = Archive.ReadCapped(s, path, _path));
        return read!;
    }

    public override void ForEachBlob(ISet<string> paths, Action<string, Stream> use)
    {
        var asked = paths.GroupBy(Resolve).ToDictionary(g => g.Key, g => g.First());
        var left = new HashSet<string>(asked.Keys);
        foreach (var p in left.Where(_small.ContainsKey).ToList())
        {
            use(asked[p], new MemoryStream(_small[p], writable: false));
            left.Remove(p);
        }
        if (left.Count == 0)
            return;
        Archive.Read(_path, () =>
        {
            using var reader = new TarReader(Compression.Open(File.OpenRead(_path)));
            while (left.Count > 0 && reader.GetNextEntry() is { } e)
                if (e.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && left.Remove(Archive.Clean(e.Name)) && e.DataStream is { } data)
                    use(asked[Archive.Clean(e.Name)], data);
        });
        if (left.Count > 0)
            throw Archive.Missing(left.First(), _path);
    }

    public override string ToString() => _path;
}
