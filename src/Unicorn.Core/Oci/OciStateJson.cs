using System.Text.Json.Serialization;

namespace Unicorn.Oci;

/// <summary>The runtime's own files and answers, written by the generated fast path (the CLI is
/// NativeAOT; no serializer metadata); state.json is read back by JsonFields.</summary>
[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Serialization, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(OciRecord))]
[JsonSerializable(typeof(OciState))]
[JsonSerializable(typeof(int[]))]
internal partial class OciStateJson : JsonSerializerContext;
