namespace Unicorn.Images;

/// <summary>Where an image archive's files come from: a directory (an OCI layout) or a tar
/// (docker save, or an OCI layout archived), read in one pass for its small JSON files and in
/// one more for the layers the store lacks. Every name in it is the image author's: a source
/// reads only regular files inside itself, and at most ImageLimits.MaxJsonBytes of each JSON
/// document (MaxJsonTotal in all).</summary>
abstract class ArchiveSource : IDisposable
{
    long _jsonBytes;

    public abstract bool Has(string path);

    /// <summary>A small file (JSON), whole; a missing one is a corrupt archive, a larger one
    /// than a JSON document may be too.</summary>
    public byte[] Read(string path)
    {
        var bytes = ReadSmall(path);
        if ((_jsonBytes += bytes.Length) > ImageLimits.MaxJsonTotal)
            throw ImageLimits.TooComplex($"'{this}' has more than {ImageLimits.Bytes(ImageLimits.MaxJsonTotal)} of manifests, indexes and configs to read.", ToString());
        return bytes;
    }

    /// <summary>The file at path, at most ImageLimits.MaxJsonBytes of it (Archive.ReadCapped).</summary>
    protected abstract byte[] ReadSmall(string path);

    /// <summary>Calls use with each of the files named, as a stream, in the source's order.</summary>
    public abstract void ForEachBlob(ISet<string> paths, Action<string, Stream> use);

    public virtual void Dispose() { }
}
