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
