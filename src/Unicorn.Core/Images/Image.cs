namespace Unicorn.Images;

/// <summary>What an image's config says a container runs with, unless told otherwise.</summary>
public sealed class ImageConfig
{
    public string[]? Entrypoint { get; init; }
    public string[]? Cmd { get; init; }
    public string[] Env { get; init; } = [];
    public string? WorkingDir { get; init; }
    public string? User { get; init; }
    public string[] ExposedPorts { get; init; } = [];

    /// <summary>Refuses a config that no container can run as it says, or that would smuggle
    /// something into what is made of it: a NUL character anywhere (the launcher's spec is
    /// NUL-separated), an Env entry without a name, a WorkingDir that is not absolute, a
    /// missing (null) string in a list. Called at import, and again when a container starts.
    /// Throws InvalidImageConfig naming the field.</summary>
    public void Validate()
    {
        List(nameof(Entrypoint), Entrypoint);
        List(nameof(Cmd), Cmd);
        List(nameof(Env), Env);
        for (int i = 0; i < (Env?.Length ?? 0); i++)
            if (Env![i].IndexOf('=') <= 0)
                throw Invalid($"{nameof(Env)}[{i}]", $"'{Shown(Env[i])}' has no name: an entry is NAME=value");
        Text(nameof(WorkingDir), WorkingDir);
        if (WorkingDir is not null && !WorkingDir.StartsWith('/'))
            throw Invalid(nameof(WorkingDir), $"'{Shown(WorkingDir)}' is not an absolute path");
        Text(nameof(User), User);
        List(nameof(ExposedPorts), ExposedPorts);

        static void List(string field, string[]? values)
        {
            for (int i = 0; i < (values?.Length ?? 0); i++)
            {
                if (values![i] is null)
                    throw Invalid($"{field}[{i}]", "is not a string");
                Text($"{field}[{i}]", values[i]);
            }
        }

        static void Text(string field, string? value)
        {
            if (value is not null && value.Contains('\0'))
                throw Invalid(field, $"'{Shown(value)}' holds a NUL character");
        }
    }

    static UnicornException Invalid(string field, string why) => new("InvalidImageConfig", ErrorKind.InvalidArgument,
        $"The image's config cannot be used: its {field} {why}. The image was built wrong or was altered to do harm; do not run it, build it again.", field);

    /// <summary>A value for a message: control characters escaped, at most 80 characters.</summary>
    static string Shown(string value)
    {
        var s = string.Concat(value.Take(80).Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
        return value.Length > 80 ? s + "..." : s;
    }
}

/// <summary>An image in the store: its layers (by diff id, bottom first, each extracted once
/// under data/images/layers and shared), its config, and the names it goes by.</summary>
public sealed class Image
{
    /// <summary>"sha256:..." of its config, as Docker and Podman name images.</summary>
    public required string Id { get; init; }
    public List<string> Names { get; init; } = [];
    /// <summary>The manifest's digest, when it came with one.</summary>
    public string? Digest { get; init; }
    public required List<string> Layers { get; init; }
    public ImageConfig Config { get; init; } = new();
    public string? Architecture { get; init; }
    public string? Os { get; init; }
    /// <summary>When the image was made, per its config.</summary>
    public DateTime? Created { get; init; }
    public DateTime Imported { get; init; }
    /// <summary>The bytes of file content in each layer, as Layers.</summary>
    public List<long> LayerSizes { get; init; } = [];
    public long Size => LayerSizes.Sum();

    public string ShortId => Id.StartsWith("sha256:") ? Id[7..19] : Ids.Short(Id);
    /// <summary>The first name's repository and tag, for tables.</summary>
    public string Name => Names.FirstOrDefault() ?? "<none>";
    public override string ToString() => Names.FirstOrDefault() ?? Id;
}
