using System.Text.Json;

namespace Unicorn.Oci;

/// <summary>A JSON object's fields, read by name with a check of each one's type: how the OCI
/// documents are read. System.Text.Json's serializer would build its metadata for the whole
/// runtime-spec model first (2+ ms per call) and makes the NativeAOT binary a megabyte larger
/// (slower to start); a JsonDocument is parsed in microseconds. A field that is missing or null
/// reads as null (false, empty); one of the wrong type is a JsonException naming its path.</summary>
public readonly struct JsonFields
{
    readonly JsonElement _object;

    /// <summary>Where this object is in its document ("linux.resources"; "" for the root).</summary>
    public string Path { get; }

    JsonFields(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw Error(path, "an object");
        (_object, Path) = (element, path);
    }

    static readonly JsonDocumentOptions Strict = new()
    {
        AllowDuplicateProperties = false,
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
    };

    /// <summary>The document in bytes, which must be an object, read by read.</summary>
    public static T Parse<T>(byte[] bytes, Func<JsonFields, T> read)
    {
        using var document = JsonDocument.Parse(bytes, Strict);
        return read(new JsonFields(document.RootElement, ""));
    }

    string At(string name) => Path.Length == 0 ? name : $"{Path}.{name}";

    static JsonException Error(string path, string expected) =>
        new($"it must be {expected}.", "$." + path, null, null);

    JsonElement? Get(string name) =>
        _object.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public string? String(string name) => Get(name) is { } v ? AsString(v, At(name)) : null;

    static string AsString(JsonElement v, string path) =>
        v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Error(path, "a string");

    public bool Bool(string name) => BoolOrNull(name) ?? false;

    public bool? BoolOrNull(string name) => Get(name) is { } v
        ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw Error(At(name), "true or false") }
        : null;

    /// <summary>A whole number from 0 to max.</summary>
    public ulong? Unsigned(string name, ulong max = ulong.MaxValue) => Get(name) is { } v ? AsUnsigned(v, At(name), max) : null;

    static ulong AsUnsigned(JsonElement v, string path, ulong max) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetUInt64(out var n) && n <= max ? n : throw Error(path, $"a whole number from 0 to {max}");

    /// <summary>A whole number from min to max.</summary>
    public long? Signed(string name, long min = long.MinValue, long max = long.MaxValue) => Get(name) is { } v
        ? v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n >= min && n <= max ? n
            : throw Error(At(name), $"a whole number from {min} to {max}")
        : null;

    public uint? UInt32(string name) => (uint?)Unsigned(name, uint.MaxValue);

    public DateTime? Time(string name) => Get(name) is { } v
        ? v.ValueKind == JsonValueKind.String && v.TryGetDateTime(out var t) ? t : throw Error(At(name), "a time (ISO 8601)")
        : null;

    public JsonFields? Object(string name) => Get(name) is { } v ? new JsonFields(v, At(name)) : null;

    public T? Object<T>(string name, Func<JsonFields, T> read) where T : class => Object(name) is { } o ? read(o) : null;

    /// <summary>An array, each item read by read (with its index in the path).</summary>
    public IReadOnlyList<T>? Array<T>(string name, Func<JsonElement, string, T> read)
    {
        if (Get(name) is not { } v)
            return null;
        var path = At(name);
        if (v.ValueKind != JsonValueKind.Array)
            throw Error(path, "an array");
        var items = new List<T>(v.GetArrayLength());
        foreach (var item in v.EnumerateArray())
            items.Add(read(item, $"{path}[{items.Count}]"));
        return items;
    }

    public IReadOnlyList<T>? Objects<T>(string name, Func<JsonFields, T> read) => Array(name, (v, path) => read(new JsonFields(v, path)));

    public IReadOnlyList<string>? Strings(string name) => Array(name, AsString);

    public IReadOnlyList<uint>? UInt32s(string name) => Array(name, (v, path) => (uint)AsUnsigned(v, path, uint.MaxValue));

    /// <summary>The whole object as JSON.</summary>
    public JsonElement Json() => _object.Clone();

    /// <summary>Kept as JSON (what is only checked, or refused when given).</summary>
    public JsonElement? Raw(string name) => Get(name)?.Clone();

    public IReadOnlyList<JsonElement>? Raws(string name) => Array(name, (v, _) => v.Clone());

    /// <summary>An object of strings (annotations, sysctl, unified).</summary>
    public Dictionary<string, string>? StringMap(string name) => Map(name, AsString);

    public Dictionary<string, JsonElement>? RawMap(string name) => Map(name, (v, _) => v.Clone());

    Dictionary<string, T>? Map<T>(string name, Func<JsonElement, string, T> read)
    {
        if (Object(name) is not { } o)
            return null;
        var map = new Dictionary<string, T>();
        foreach (var p in o._object.EnumerateObject())
            map[p.Name] = read(p.Value, o.At(p.Name));
        return map;
    }
}
