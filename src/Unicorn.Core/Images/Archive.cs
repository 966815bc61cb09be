using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Unicorn.Images;

static partial class Archive
{
    public static string Clean(string name) => name.StartsWith("./") ? name[2..] : name.TrimStart('/');

    public static UnicornException Missing(string path, string archive) => new("CorruptArchive", ErrorKind.InvalidArgument,
        $"'{archive}' lacks '{path}', which its manifest names: the archive is incomplete.", archive);

    public static UnicornException Corrupt(string message, object? target) => new("CorruptArchive", ErrorKind.InvalidArgument,
        message + " Get the archive again, or make it again.", target);

    public static UnicornException Unsafe(string path, string message) => new("UnsafeArchive", ErrorKind.InvalidArgument,
        message + " An image's files must be plain files inside it, named as its tools name them: do not use it.", path);

    /// <summary>Runs a read of the archive, its format errors made clear ones.</summary>
    public static void Read(string path, Action read)
    {
        try { read(); }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ZstdSharp.ZstdException)
        {
            throw new UnicornException("CorruptArchive", ErrorKind.InvalidArgument, $"'{path}' is truncated or corrupt: {e.Message}", path);
        }
    }

    /// <summary>A JSON document from a stream: at most ImageLimits.MaxJsonBytes, read before
    /// anything parses it.</summary>
    public static byte[] ReadCapped(Stream stream, string file, object? where)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        for (int n; (n = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, ImageLimits.MaxJsonBytes + 1 - buffer.Length))) > 0;)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > ImageLimits.MaxJsonBytes)
                throw Corrupt($"'{file}' in '{where}' is larger than {ImageLimits.Bytes(ImageLimits.MaxJsonBytes)}, more than any manifest, index or config.", file);
        }
        return buffer.ToArray();
    }

    /// <summary>The one JSON reader of an import: the document at path, checked against its
    /// digest when it has one (a blob), parsed; malformed JSON is CorruptArchive naming it.</summary>
    public static JsonElement Json(ArchiveSource source, string path, string? digest = null)
    {
        var bytes = source.Read(path);
        if (digest is not null && Sha256(bytes) != digest)
            throw new UnicornException("DigestMismatch", ErrorKind.InvalidArgument,
                $"'{path}' in '{source}' does not match its digest {digest}: the archive is corrupt or was changed.", path);
        return ParseJson(bytes, path, source);
    }

    public static JsonElement ParseJson(byte[] bytes, string file, object? where)
    {
        try { return JsonDocument.Parse(bytes).RootElement; }
        catch (JsonException e)
        {
            throw Corrupt($"'{file}' in '{where}' is not valid JSON: {e.Message}", file);
        }
    }

    /// <summary>The one check of a digest that an image names (an index's or manifest's entry, a
    /// config reference, a layer, a diff id, a docker-save config): "sha256:" and 64 lowercase
    /// hex digits, and nothing else, so that what it names is a plain file name.</summary>
    public static string RequireDigest(string? digest, string what, object? where)
    {
        if (digest is not null && Sha256Digest().IsMatch(digest))
            return digest;
        if (digest is null)
            throw new UnicornException("InvalidDigest", ErrorKind.InvalidArgument, $"{what} in '{where}' has no digest (or not as a string). The image is damaged; do not use it.", what);
        if (OtherDigest().Match(digest) is { Success: true } m && m.Groups[1].Value != "sha256")
            throw new UnicornException("InvalidDigest", ErrorKind.InvalidArgument,
                $"{what} in '{where}' is named by a {m.Groups[1].Value} digest; Unicorn imports only sha256 content. Convert the image with a tool that writes sha256 digests (skopeo, umoci, docker).", digest);
        throw new UnicornException("InvalidDigest", ErrorKind.InvalidArgument,
            $"{what} in '{where}' names the digest '{Shown(digest)}', which is not sha256: and 64 lowercase hex digits. The image is damaged or made to harm; do not use it.", Shown(digest));
    }

    /// <summary>A path that an image archive's manifest names (docker save's Config and
    /// Layers): relative, clean, inside the archive.</summary>
    public static string RequirePath(string? path, string what, object? where)
    {
        if (path is null)
            throw Corrupt($"{what} in '{where}' has no path.", what);
        if (path.Length > 4096 || path.Contains('\0') || path.StartsWith('/') || path.Split('/').Any(p => p is "" or "." or ".."))
            throw Unsafe(Shown(path), $"{what} in '{where}' names '{Shown(path)}', which is not a plain path inside the archive.");
        return path;
    }

    /// <summary>A value for a message: control characters escaped, at most 100 characters.</summary>
    public static string Shown(string value)
    {
        var s = string.Concat(value.Take(100).Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
        return value.Length > 100 ? s + "..." : s;
    }

    [GeneratedRegex(@"^sha256:[0-9a-f]{64}\z")]
    private static partial Regex Sha256Digest();

    // The OCI grammar of a digest's algorithm.
    [GeneratedRegex(@"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):[a-zA-Z0-9=_-]+\z")]
    private static partial Regex OtherDigest();

    /// <summary>A property of an object, or Undefined (for a missing one, or when e is not an object).</summary>
    public static JsonElement Prop(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;

    public static string? Text(this JsonElement e, string name) =>
        e.Prop(name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    public static IEnumerable<JsonElement> Items(this JsonElement e, string name) =>
        e.Prop(name) is { ValueKind: JsonValueKind.Array } v ? v.EnumerateArray() : [];

    /// <summary>The strings of an array (other items as null).</summary>
    public static string?[]? Strings(this JsonElement e, string name) =>
        e.Prop(name) is { ValueKind: JsonValueKind.Array } v ? v.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString() : null).ToArray() : null;

    public static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
}
