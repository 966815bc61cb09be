using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Unicorn.Images;

/// <summary>Pulls from an OCI distribution (Docker registry v2) API: the image manifest for a platform,
/// and blobs. Anonymous unless the registry asks (Basic or Bearer token auth); the token is kept for
/// the client's life. HTTPS, except that loopback registries may answer in plain HTTP, as Docker allows.</summary>
public sealed class RegistryClient : IDisposable
{
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    const string DockerSchema1 = "application/vnd.docker.distribution.manifest.v1";
    static readonly string[] ManifestTypes = [OciIndex, OciManifest, DockerManifestList, DockerManifest];

    // containerd's limit: a manifest is metadata, so anything larger is a misbehaving registry.
    const int MaxManifestBytes = 4 << 20;
    const int MaxErrorBodyChars = 64 << 10;
    const int MaxRedirects = 10;
    const int MaxIndexDepth = 3;

    readonly ImageReference reference;
    readonly NetworkCredential? credential;
    readonly bool skipTlsVerify;
    readonly HttpClient http;
    readonly bool loopback;
    volatile string scheme = "https";
    volatile bool schemeSettled;
    volatile AuthenticationHeaderValue? authorization;

    public RegistryClient(ImageReference reference, NetworkCredential? credential = null, bool skipTlsVerify = false)
        : this(reference, credential, skipTlsVerify, CreateHandler(skipTlsVerify)) { }

    /// <summary>For tests: any handler in place of the network.</summary>
    internal RegistryClient(ImageReference reference, NetworkCredential? credential, bool skipTlsVerify, HttpMessageHandler handler)
    {
        ArgumentNullException.ThrowIfNull(reference);
        this.reference = reference;
        this.credential = credential;
        this.skipTlsVerify = skipTlsVerify;
        loopback = IsLoopback(reference.Registry);
        http = new HttpClient(handler);
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("unicorn", typeof(RegistryClient).Assembly.GetName().Version?.ToString(3)));
    }

    /// <summary>The image manifest for linux/<paramref name="architecture"/> (an OCI name such as Platform.Architecture,
    /// optionally with a variant: "arm/v7").
    /// An index or manifest list is resolved to that platform's entry; a single manifest is returned as is
    /// (its config says which platform it is for).</summary>
    public Task<(byte[] Bytes, string MediaType, string Digest)> GetManifestAsync(string architecture, CancellationToken cancel = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(architecture);
        return TranslateNetworkErrors(() => ResolveManifestAsync(architecture, cancel), cancel);
    }

    /// <summary>The blob's content, streamed. The stream checks the length the registry announced;
    /// the caller checks the digest as it reads.</summary>
    public Task<Stream> GetBlobAsync(string digest, CancellationToken cancel = default)
    {
        if (!ImageReference.IsSupportedDigest(digest))
            throw new UnicornException("InvalidDigest", ErrorKind.InvalidArgument,
                $"'{digest}' is not a sha256 or sha512 digest (algorithm:lowercase-hex).", digest);
        return TranslateNetworkErrors(() => FetchBlobAsync(digest, cancel), cancel);
    }

    public void Dispose() => http.Dispose();

    async Task<(byte[] Bytes, string MediaType, string Digest)> ResolveManifestAsync(string architecture, CancellationToken cancel)
    {
        var target = reference.ManifestReference;
        var expected = reference.Digest;
        long? expectedSize = null;
        for (var depth = 0; depth <= MaxIndexDepth; depth++)
        {
            var (bytes, mediaType, announcedDigest) = await FetchManifestAsync(target, cancel);
            if (!ManifestTypes.Contains(mediaType))
                throw new UnicornException("UnsupportedMediaType", ErrorKind.InvalidOperation,
                    mediaType.StartsWith(DockerSchema1, StringComparison.Ordinal)
                        ? $"{reference} is a Docker schema 1 image, which registries and Docker have long stopped supporting; push it again with a current tool (schema 2 or OCI)."
                        : $"{reference} has a '{mediaType}' manifest, which is not an image Unicorn can pull (OCI or Docker schema 2).",
                    reference);

            var digest = Digest(bytes, expected ?? announcedDigest);
            if ((expected ?? announcedDigest) is { } wanted && wanted != digest)
                throw new UnicornException("DigestMismatch", ErrorKind.InvalidOperation,
                    $"The manifest {target} of {reference} has digest {digest}, not {wanted}: the registry sent other content than it announced.", reference);
            if (expectedSize is { } size && size != bytes.Length)
                throw new UnicornException("DigestMismatch", ErrorKind.InvalidOperation,
                    $"The manifest {target} of {reference} is {bytes.Length} bytes, not the {size} its index says.", reference);

            if (mediaType is OciManifest or DockerManifest)
                return (bytes, mediaType, digest);

            var chosen = SelectPlatform(bytes, architecture);
            target = expected = chosen.Digest;
            expectedSize = chosen.Size;
        }
        throw new UnicornException("UnsupportedMediaType", ErrorKind.InvalidOperation,
            $"{reference} nests image indexes more than {MaxIndexDepth} deep.", reference);
    }

    async Task<(byte[] Bytes, string MediaType, string? AnnouncedDigest)> FetchManifestAsync(string target, CancellationToken cancel)
    {
        using var response = await SendAsync($"/v2/{reference.Repository}/manifests/{target}", ManifestTypes, cancel);
        if (response.StatusCode == HttpStatusCode.NotFound)
            throw new UnicornException("ImageNotFound", ErrorKind.ObjectNotFound,
                $"The image {reference} was not found (registry said: {await ReadRegistryErrorAsync(response, cancel)}). Check the repository name and tag.",
                reference);
        if (!response.IsSuccessStatusCode)
            throw await RequestFailedAsync(response, $"manifest {target}", cancel);

        var bytes = await ReadManifestBytesAsync(response.Content, cancel);
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (mediaType is null or "application/json" or "text/plain" or "application/octet-stream")
            mediaType = MediaTypeFromBody(bytes);
        var announced = response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.FirstOrDefault() : null;
        return (bytes, mediaType, announced is not null && ImageReference.IsSupportedDigest(announced) ? announced : null);
    }

    async Task<Stream> FetchBlobAsync(string digest, CancellationToken cancel)
    {
        var response = await SendAsync($"/v2/{reference.Repository}/blobs/{digest}", [], cancel);
        try
        {
            if (!response.IsSuccessStatusCode)
                throw await RequestFailedAsync(response, $"blob {digest}", cancel);
            var stream = await response.Content.ReadAsStreamAsync(cancel);
            return new LengthCheckedStream(response, stream, response.Content.Headers.ContentLength, digest);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>GET from the registry, answering one authentication challenge; the response is not buffered.</summary>
    async Task<HttpResponseMessage> SendAsync(string path, string[] accept, CancellationToken cancel)
    {
        var answeredChallenge = false;
        while (true)
        {
            var response = await SendToRegistryAsync(path, accept, cancel);
            // A 401 from storage we were redirected to is not the registry's challenge.
            if (response.StatusCode != HttpStatusCode.Unauthorized || !IsRegistryHost(response.RequestMessage?.RequestUri))
                return response;

            var challenges = response.Headers.WwwAuthenticate.ToArray();
            var detail = await ReadRegistryErrorAsync(response, cancel);
            response.Dispose();
            if (answeredChallenge)
                throw AuthenticationFailed(detail);
            authorization = await AnswerChallengeAsync(challenges, detail, cancel);
            answeredChallenge = true;
        }
    }

    /// <summary>HTTPS; a loopback registry that fails the TLS handshake or the connection is tried once in plain HTTP,
    /// and whichever works is kept.</summary>
    async Task<HttpResponseMessage> SendToRegistryAsync(string path, string[] accept, CancellationToken cancel)
    {
        if (schemeSettled || !loopback)
            return await SendFollowingRedirectsAsync(new Uri($"{scheme}://{reference.Registry}{path}"), accept, cancel);

        HttpRequestException httpsFailure;
        try
        {
            var response = await SendFollowingRedirectsAsync(new Uri($"https://{reference.Registry}{path}"), accept, cancel);
            schemeSettled = true;
            return response;
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.SecureConnectionError or HttpRequestError.ConnectionError)
        {
            httpsFailure = e;
        }

        var tlsFailed = httpsFailure.HttpRequestError == HttpRequestError.SecureConnectionError;
        HttpResponseMessage plain;
        try
        {
            plain = await SendFollowingRedirectsAsync(new Uri($"http://{reference.Registry}{path}"), accept, cancel);
        }
        catch (HttpRequestException) when (tlsFailed)
        {
            throw httpsFailure;
        }
        // An HTTPS server answers plain HTTP with 400: the certificate was the problem, so report that.
        if (tlsFailed && plain.StatusCode == HttpStatusCode.BadRequest)
        {
            plain.Dispose();
            throw httpsFailure;
        }
        scheme = "http";
        schemeSettled = true;
        return plain;
    }

    /// <summary>Follows redirects by hand: registries send blobs to storage hosts, and the registry's
    /// Authorization must not go along to another host (SocketsHttpHandler would drop it even on the same host).</summary>
    async Task<HttpResponseMessage> SendFollowingRedirectsAsync(Uri uri, string[] accept, CancellationToken cancel)
    {
        for (var hop = 0; ; hop++)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, uri);
            foreach (var type in accept)
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
            if (authorization is { } auth && IsRegistryHost(uri))
                request.Headers.Authorization = auth;

            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
            if (response.StatusCode is not (HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther
                or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect))
                return response;

            var location = response.Headers.Location;
            response.Dispose();
            if (location is null || hop == MaxRedirects)
                throw new UnicornException("RegistryRequestFailed", ErrorKind.InvalidOperation,
                    location is null ? $"The registry {reference.RegistryDisplayName} redirected {uri} without a location."
                                     : $"The registry {reference.RegistryDisplayName} redirected {uri} more than {MaxRedirects} times.", reference);
            var next = location.IsAbsoluteUri ? location : new Uri(uri, location);
            if (uri.Scheme == Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttps)
                throw new UnicornException("RegistryRequestFailed", ErrorKind.PermissionDenied,
                    $"The registry {reference.RegistryDisplayName} redirected {uri} to {next.GetLeftPart(UriPartial.Authority)}, which is not HTTPS; Unicorn does not downgrade.", reference);
            uri = next;
        }
    }

    async Task<AuthenticationHeaderValue> AnswerChallengeAsync(AuthenticationHeaderValue[] challenges, string detail, CancellationToken cancel)
    {
        if (challenges.FirstOrDefault(c => c.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase)) is { } bearer)
            return await FetchTokenAsync(RegistryChallenge.Parse(bearer.Parameter), cancel);
        if (challenges.Any(c => c.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)) && credential is not null)
            return BasicAuthorization(credential);
        throw AuthenticationFailed(detail);
    }

    /// <summary>Docker's token protocol: GET realm?service=..&amp;scope=.. (with Basic credentials if any) answers
    /// {"token": ...} or the OAuth2 {"access_token": ...}.</summary>
    async Task<AuthenticationHeaderValue> FetchTokenAsync(IReadOnlyDictionary<string, string> challenge, CancellationToken cancel)
    {
        var tokenUri = RegistryChallenge.TokenUri(challenge, $"repository:{reference.Repository}:pull");
        if (tokenUri is null)
            throw new UnicornException("RegistryRequestFailed", ErrorKind.InvalidOperation,
                $"The registry {reference.RegistryDisplayName} asked for a token without a usable realm (an http or https URL).", reference);

        var request = new HttpRequestMessage(HttpMethod.Get, tokenUri);
        if (credential is not null)
        {
            // Credentials never cross the network in the clear: only to loopback over http.
            if (tokenUri.Scheme != Uri.UriSchemeHttps && !tokenUri.IsLoopback)
                throw new UnicornException("RegistryRequestFailed", ErrorKind.SecurityError,
                    $"The registry {reference.RegistryDisplayName} sends its token requests to {tokenUri.GetLeftPart(UriPartial.Authority)}, over plain http: Unicorn will not send -Credential there.", reference);
            request.Headers.Authorization = BasicAuthorization(credential);
        }
        using var response = await http.SendAsync(request, cancel);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            throw AuthenticationFailed(await ReadRegistryErrorAsync(response, cancel));
        if (!response.IsSuccessStatusCode)
            throw await RequestFailedAsync(response, $"a token from {tokenUri.GetLeftPart(UriPartial.Path)}", cancel);

        var token = RegistryChallenge.TokenFromResponse(await response.Content.ReadAsByteArrayAsync(cancel));
        if (token is null)
            throw new UnicornException("RegistryRequestFailed", ErrorKind.InvalidOperation,
                $"The token server {tokenUri.GetLeftPart(UriPartial.Path)} answered without a token.", reference);
        return new AuthenticationHeaderValue("Bearer", token);
    }

    (string Digest, long? Size) SelectPlatform(byte[] index, string architecture)
    {
        var slash = architecture.IndexOf('/');
        var (arch, variant) = slash < 0 ? (architecture, null) : (architecture[..slash], architecture[(slash + 1)..]);
        var candidates = new List<(string Digest, long? Size, string? Variant)>();
        var available = new List<string>();
        try
        {
            using var json = JsonDocument.Parse(index);
            if (!json.RootElement.TryGetProperty("manifests", out var manifests) || manifests.ValueKind != JsonValueKind.Array)
                throw InvalidManifest("an index without a manifests list");
            foreach (var entry in manifests.EnumerateArray())
            {
                if (!entry.TryGetProperty("platform", out var platform) || platform.ValueKind != JsonValueKind.Object)
                    continue;
                var os = StringProperty(platform, "os");
                var entryArch = StringProperty(platform, "architecture");
                var entryVariant = StringProperty(platform, "variant");
                // buildx lists attestations as unknown/unknown; they are not images.
                if (os is null || entryArch is null || os == "unknown")
                    continue;
                available.Add(entryVariant is null ? $"{os}/{entryArch}" : $"{os}/{entryArch}/{entryVariant}");
                if (os != "linux" || entryArch != arch || (variant is not null && entryVariant != variant))
                    continue;
                var digest = StringProperty(entry, "digest");
                if (digest is null || !ImageReference.IsSupportedDigest(digest))
                    throw InvalidManifest($"an index entry for {os}/{entryArch} without a valid digest");
                long? size = entry.TryGetProperty("size", out var s) && s.TryGetInt64(out var n) ? n : null;
                candidates.Add((digest, size, entryVariant));
            }
        }
        catch (JsonException e)
        {
            throw InvalidManifest("an index that is not valid JSON", e);
        }

        if (candidates.Count == 0)
            throw new UnicornException("PlatformNotFound", ErrorKind.ObjectNotFound,
                $"{reference} has no image for linux/{architecture}; it has {(available.Count == 0 ? "no platforms listed" : string.Join(", ", available.Distinct()))}.",
                reference);
        // Without a variant asked for, prefer the entry without one or with the architecture's baseline (arm64 is v8).
        var baseline = arch switch { "arm64" => "v8", "arm" => "v7", _ => null };
        var best = candidates.FirstOrDefault(c => c.Variant is null || c.Variant == baseline);
        return best.Digest is null ? (candidates[0].Digest, candidates[0].Size) : (best.Digest, best.Size);
    }

    static string MediaTypeFromBody(byte[] bytes)
    {
        try
        {
            using var json = JsonDocument.Parse(bytes);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return "application/json";
            if (StringProperty(root, "mediaType") is { } declared)
                return declared;
            if (root.TryGetProperty("schemaVersion", out var version) && version.TryGetInt32(out var v) && v == 1)
                return DockerSchema1 + "+json";
            // OCI lets the mediaType field be left out; the shape tells which it is.
            return root.TryGetProperty("manifests", out _) ? OciIndex : root.TryGetProperty("config", out _) ? OciManifest : "application/json";
        }
        catch (JsonException)
        {
            return "application/json";
        }
    }

    async Task<byte[]> ReadManifestBytesAsync(HttpContent content, CancellationToken cancel)
    {
        if (content.Headers.ContentLength > MaxManifestBytes)
            throw InvalidManifest($"a manifest of {content.Headers.ContentLength} bytes (the limit is {MaxManifestBytes})");
        await using var stream = await content.ReadAsStreamAsync(cancel);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 << 10];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancel)) > 0)
        {
            if (buffer.Length + read > MaxManifestBytes)
                throw InvalidManifest($"a manifest larger than {MaxManifestBytes} bytes");
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>The registry's own words: errors[].message from its JSON error body, else the text, else the status.</summary>
    static async Task<string> ReadRegistryErrorAsync(HttpResponseMessage response, CancellationToken cancel)
    {
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(cancel);
        }
        catch (HttpRequestException)
        {
            body = "";
        }
        if (body.Length > MaxErrorBodyChars)
            body = body[..MaxErrorBodyChars];
        var messages = ErrorMessages(body);
        if (messages.Count > 0)
            return string.Join("; ", messages);
        body = body.Trim();
        return body.Length is > 0 and <= 300 && !body.StartsWith('<') ? body : $"{(int)response.StatusCode} {response.ReasonPhrase}";
    }

    async Task<UnicornException> RequestFailedAsync(HttpResponseMessage response, string what, CancellationToken cancel)
    {
        var status = (int)response.StatusCode;
        var kind = response.StatusCode switch
        {
            HttpStatusCode.Forbidden => ErrorKind.PermissionDenied,
            HttpStatusCode.NotFound => ErrorKind.ObjectNotFound,
            HttpStatusCode.TooManyRequests => ErrorKind.LimitsExceeded,
            _ when status >= 500 => ErrorKind.ResourceUnavailable,
            _ => ErrorKind.InvalidOperation,
        };
        return new UnicornException("RegistryRequestFailed", kind,
            $"The registry {reference.RegistryDisplayName} answered {status} {response.ReasonPhrase} for {what} of {reference}: {await ReadRegistryErrorAsync(response, cancel)}",
            reference);
    }

    UnicornException AuthenticationFailed(string detail) => new("RegistryAuthenticationFailed", ErrorKind.PermissionDenied,
        credential is null
            ? $"The registry {reference.RegistryDisplayName} requires authentication to pull {reference} ({detail}), or the repository does not exist. Give -Credential with a user name and password or token."
            : $"The registry {reference.RegistryDisplayName} rejected the credentials for {credential.UserName} pulling {reference} ({detail}). Check the user name and password given with -Credential.",
        reference);

    UnicornException InvalidManifest(string what, Exception? inner = null) => new("InvalidManifest", ErrorKind.InvalidOperation,
        $"The registry {reference.RegistryDisplayName} sent {what} for {reference}.", reference, inner);

    async Task<T> TranslateNetworkErrors<T>(Func<Task<T>> action, CancellationToken cancel)
    {
        try
        {
            return await action();
        }
        catch (HttpRequestException e)
        {
            var hint = e.HttpRequestError == HttpRequestError.SecureConnectionError && !skipTlsVerify
                ? " If the registry uses a certificate this machine does not trust, give -SkipTlsVerify."
                : "";
            throw new UnicornException("RegistryUnreachable", ErrorKind.ResourceUnavailable,
                $"Cannot reach the registry {reference.RegistryDisplayName}: {e.Message}{hint}", reference, e);
        }
        catch (TaskCanceledException e) when (!cancel.IsCancellationRequested)
        {
            throw new UnicornException("RegistryUnreachable", ErrorKind.ResourceUnavailable,
                $"The registry {reference.RegistryDisplayName} did not answer in {http.Timeout.TotalSeconds:0} seconds.", reference, e);
        }
    }

    bool IsRegistryHost(Uri? uri) =>
        uri is not null && string.Equals(uri.Authority, new Uri($"{uri.Scheme}://{reference.Registry}").Authority, StringComparison.OrdinalIgnoreCase);

    static AuthenticationHeaderValue BasicAuthorization(NetworkCredential credential) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credential.UserName}:{credential.Password}")));

    static string Digest(byte[] bytes, string? like) => like?.StartsWith("sha512:", StringComparison.Ordinal) == true
        ? "sha512:" + Convert.ToHexStringLower(SHA512.HashData(bytes))
        : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    static List<string> ErrorMessages(string body)
    {
        var messages = new List<string>();
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array)
                foreach (var error in errors.EnumerateArray())
                    if (error.ValueKind == JsonValueKind.Object && (StringProperty(error, "message") ?? StringProperty(error, "code")) is { Length: > 0 } message)
                        messages.Add(message);
        }
        catch (JsonException)
        {
        }
        return messages;
    }

    internal static string? StringProperty(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    internal static bool IsLoopback(string registry)
    {
        var host = registry.StartsWith('[') ? registry[1..Math.Max(1, registry.IndexOf(']'))]
                 : registry.Contains(':') ? registry[..registry.IndexOf(':')] : registry;
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }

    static SocketsHttpHandler CreateHandler(bool skipTlsVerify)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None, // layers are gzip files, not gzip-encoded responses
            ConnectTimeout = TimeSpan.FromSeconds(15),
            UseCookies = false,
        };
        if (skipTlsVerify)
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        return handler;
    }

    /// <summary>A blob's response stream that fails if it ends short of (or runs past) its Content-Length,
    /// and releases the response when disposed.</summary>
    sealed class LengthCheckedStream(HttpResponseMessage response, Stream inner, long? expectedLength, string digest) : ReadOnlyStream
    {
        long position;

        public override long Length => expectedLength ?? throw new NotSupportedException();
        public override long Position { get => position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));
        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancel) =>
            Count(await inner.ReadAsync(buffer.AsMemory(offset, count), cancel));
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancel = default) =>
            Count(await inner.ReadAsync(buffer, cancel));

        int Count(int read)
        {
            position += read;
            if (expectedLength is { } length && (position > length || (read == 0 && position != length)))
                throw new IOException($"The blob {digest} was {position} bytes where the registry announced {length}.");
            return read;
        }


        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
