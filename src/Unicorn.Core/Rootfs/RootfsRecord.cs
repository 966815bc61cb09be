namespace Unicorn;

/// <summary>What is stored of a rootfs in its directory; the rest is derived.</summary>
public sealed record RootfsRecord(string Id, string Image, string LowerDir, DateTime Created, string? ContainerId, string? ImageId = null);
