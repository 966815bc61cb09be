namespace Unicorn.Images;

/// <summary>A layer to import: where its blob is in the archive, what it must hash to.</summary>
sealed record LayerPlan(string Path, string? BlobDigest, string DiffId);
