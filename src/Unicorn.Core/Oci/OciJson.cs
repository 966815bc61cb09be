using System.Text.Json;
using System.Text.Json.Serialization;

namespace Unicorn.Oci;

/// <summary>Source-generated serializers for the runtime-spec documents: camelCase, null fields
/// left out, strict JSON (no comments, no trailing commas, no property given twice), unknown
/// properties ignored as the spec asks.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true,
    AllowDuplicateProperties = false,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(OciConfig))]
[JsonSerializable(typeof(OciProcess))]
[JsonSerializable(typeof(OciSeccomp))]
[JsonSerializable(typeof(LinuxResources))]
[JsonSerializable(typeof(OciFeatures))]
internal partial class OciJson : JsonSerializerContext;
