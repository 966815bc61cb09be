using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Unicorn.Runtime;

namespace Unicorn;

/// <summary>Source-generated serializers for the state files (no reflection on the start path).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true, Converters = [typeof(IPAddressConverter)])]
[JsonSerializable(typeof(RootfsRecord))]
[JsonSerializable(typeof(ContainerConfig))]
[JsonSerializable(typeof(StartRecord))]
[JsonSerializable(typeof(Network.BridgeRecord))]
[JsonSerializable(typeof(Images.Image))]
[JsonSerializable(typeof(List<Network.BridgeAttachment>))]
internal partial class Json : JsonSerializerContext;

/// <summary>An address as its text ("10.88.0.5"): a container's config holds the static address
/// it was asked for (-IPAddress).</summary>
internal sealed class IPAddressConverter : JsonConverter<IPAddress>
{
    public override IPAddress? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        IPAddress.TryParse(reader.GetString(), out var ip) ? ip : throw new JsonException($"'{reader.GetString()}' is not an IP address");

    public override void Write(Utf8JsonWriter writer, IPAddress value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
