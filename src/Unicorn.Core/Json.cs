using System.Text.Json.Serialization;

namespace Unicorn;

/// <summary>Source-generated serializers for the state files (no reflection on the start path).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(RootfsRecord))]
[JsonSerializable(typeof(ContainerConfig))]
[JsonSerializable(typeof(StartRecord))]
[JsonSerializable(typeof(Network.BridgeRecord))]
[JsonSerializable(typeof(Images.Image))]
[JsonSerializable(typeof(List<Network.BridgeAttachment>))]
internal partial class Json : JsonSerializerContext;
