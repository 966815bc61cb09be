using System.Text.Json.Serialization;

namespace Unicorn.Oci;

/// <summary>The runtime's own files, source-generated (the CLI is NativeAOT).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(OciRecord))]
[JsonSerializable(typeof(OciState))]
[JsonSerializable(typeof(int[]))]
[JsonSerializable(typeof(string))]
internal partial class OciStateJson : JsonSerializerContext;
