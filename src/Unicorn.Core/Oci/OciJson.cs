using System.Text.Json;
using System.Text.Json.Serialization;

namespace Unicorn.Oci;

/// <summary>The runtime-spec documents Unicorn writes (`unicorn spec`, `unicorn features`):
/// camelCase, null fields left out. Writing only, the generated fast path without the
/// serializer's metadata (which costs milliseconds at first use); they are read by JsonFields.</summary>
[JsonSourceGenerationOptions(
    GenerationMode = JsonSourceGenerationMode.Serialization,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(OciConfig))]
[JsonSerializable(typeof(OciFeatures))]
internal partial class OciJson : JsonSerializerContext;
