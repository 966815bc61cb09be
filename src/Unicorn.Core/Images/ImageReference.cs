using System.Text.RegularExpressions;

namespace Unicorn.Images;

/// <summary>An image name as Docker reads it: [registry/]repository[:tag][@digest].
/// Registry is the host (and port) to connect to; Docker Hub's is registry-1.docker.io.</summary>
public sealed partial record ImageReference(string Registry, string Repository, string? Tag, string? Digest)
{
    public const string DockerHubRegistry = "registry-1.docker.io";
    const string DockerHubDisplayName = "docker.io";
    const int MaxNameLength = 255;

    /// <summary>What a request for the manifest names: the digest when there is one (it pins the content), else the tag.</summary>
    internal string ManifestReference => Digest ?? Tag ?? "latest";

    /// <summary>The registry as people write it: docker.io rather than the API host behind it.</summary>
    public string RegistryDisplayName => Registry == DockerHubRegistry ? DockerHubDisplayName : Registry;

    public static ImageReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
            throw Invalid(text, "it is empty");

        string? digest = null;
        var name = text;
        var at = name.IndexOf('@');
        if (at >= 0)
        {
            digest = name[(at + 1)..];
            name = name[..at];
            if (!IsSupportedDigest(digest))
                throw Invalid(text, $"'{digest}' is not a sha256 or sha512 digest (algorithm:lowercase-hex)");
        }

        string? tag = null;
        var colon = name.LastIndexOf(':');
        if (colon > name.LastIndexOf('/'))
        {
            tag = name[(colon + 1)..];
            name = name[..colon];
            if (!TagPattern().IsMatch(tag))
                throw Invalid(text, $"'{tag}' is not a valid tag (letters, digits, '_', '.', '-'; at most 128, not starting with '.' or '-')");
        }

        if (name.Length == 0)
            throw Invalid(text, "the repository name is missing");
        if (name.Length > MaxNameLength)
            throw Invalid(text, $"the name is longer than {MaxNameLength} characters");
        if (ImageIdPattern().IsMatch(name))
            throw Invalid(text, "a 64-character hexadecimal string looks like an image ID, not a repository name");

        var (registry, repository) = SplitRegistry(name);
        if (!RegistryPattern().IsMatch(registry))
            throw Invalid(text, $"'{registry}' is not a valid registry host[:port]");
        if (repository.Length == 0)
            throw Invalid(text, "the repository name is missing");
        foreach (var component in repository.Split('/'))
        {
            if (component.Length > 0 && component.ToLowerInvariant() != component)
                throw Invalid(text, "the repository name must be lowercase");
            if (!PathComponentPattern().IsMatch(component))
                throw Invalid(text, $"'{component}' is not a valid repository path component (lowercase letters and digits, separated by '.', '_', '__' or dashes)");
        }

        if (registry is DockerHubDisplayName or "index.docker.io" or DockerHubRegistry)
        {
            registry = DockerHubRegistry;
            // Docker Hub keeps official images under library/.
            if (!repository.Contains('/'))
                repository = "library/" + repository;
        }

        return new ImageReference(registry, repository, tag ?? (digest is null ? "latest" : null), digest);
    }

    public override string ToString() =>
        $"{RegistryDisplayName}/{Repository}{(Tag is null ? "" : ":" + Tag)}{(Digest is null ? "" : "@" + Digest)}";

    /// <summary>Docker's rule: the first component names a registry if it has a '.' or ':', is "localhost",
    /// or has uppercase letters (repositories cannot); otherwise the name is on Docker Hub.</summary>
    static (string Registry, string Repository) SplitRegistry(string name)
    {
        var slash = name.IndexOf('/');
        if (slash < 0)
            return (DockerHubDisplayName, name);
        var first = name[..slash];
        var isRegistry = first.Contains('.') || first.Contains(':') || first == "localhost" || first.ToLowerInvariant() != first;
        return isRegistry ? (first, name[(slash + 1)..]) : (DockerHubDisplayName, name);
    }

    internal static bool IsSupportedDigest(string digest) => DigestPattern().IsMatch(digest);

    static UnicornException Invalid(string text, string why) =>
        new("InvalidImageReference", ErrorKind.InvalidArgument,
            $"'{text}' is not a valid image reference: {why}. Write [registry/]repository[:tag][@sha256:digest], for example alpine:3.20 or ghcr.io/owner/image:tag.",
            text);

    // The grammar of github.com/distribution/reference.
    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\z")]
    private static partial Regex PathComponentPattern();

    [GeneratedRegex(@"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]{1,5})?\z")]
    private static partial Regex RegistryPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\z")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})\z")]
    private static partial Regex DigestPattern();

    [GeneratedRegex(@"^[a-f0-9]{64}\z")]
    private static partial Regex ImageIdPattern();
}
