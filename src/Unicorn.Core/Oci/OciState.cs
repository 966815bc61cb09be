using System.Text.Json.Serialization;

namespace Unicorn.Oci;

/// <summary>The OCI state of a container (runtime-spec's state.md), as `unicorn state` prints it.</summary>
public sealed record OciState(
    [property: JsonPropertyName("ociVersion")] string OciVersion,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("pid")] int Pid,
    [property: JsonPropertyName("bundle")] string Bundle,
    [property: JsonPropertyName("rootfs")] string Rootfs,
    [property: JsonPropertyName("created")] DateTime Created,
    [property: JsonPropertyName("owner")] string Owner,
    [property: JsonPropertyName("annotations")] Dictionary<string, string>? Annotations);
