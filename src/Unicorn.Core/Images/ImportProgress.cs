namespace Unicorn.Images;

/// <summary>Progress of an import: which layer of how many, and its content bytes.</summary>
/// <summary>An import's progress: while a layer is read, DiffId is null and BlobRead says how many
/// of its (compressed) bytes, of BlobLength when known; once it is in the store, DiffId and its
/// content size (Bytes), or Skipped when the store had it.</summary>
public sealed record ImportProgress(int Layer, int Layers, long Bytes, string? DiffId, bool Skipped, long BlobRead = 0, long? BlobLength = null);
