using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Unicorn.Images;

namespace Unicorn.Tests;

public class RegistryImageReferenceTests
{
    const string Sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData("busybox", "registry-1.docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest")]
    [InlineData("busybox:1.36", "registry-1.docker.io", "library/busybox", "1.36", null, "docker.io/library/busybox:1.36")]
    [InlineData("docker.io/busybox", "registry-1.docker.io", "library/busybox", "latest", null, "docker.io/library/busybox:latest")]
    [InlineData("index.docker.io/library/busybox:musl", "registry-1.docker.io", "library/busybox", "musl", null, "docker.io/library/busybox:musl")]
    [InlineData("registry-1.docker.io/alpine", "registry-1.docker.io", "library/alpine", "latest", null, "docker.io/library/alpine:latest")]
    [InlineData("user/app", "registry-1.docker.io", "user/app", "latest", null, "docker.io/user/app:latest")]
    [InlineData("localhost/app", "localhost", "app", "latest", null, "localhost/app:latest")]
    [InlineData("localhost:5000/x/y:1", "localhost:5000", "x/y", "1", null, "localhost:5000/x/y:1")]
    [InlineData("127.0.0.1:5000/y@" + Sha, "127.0.0.1:5000", "y", null, Sha, "127.0.0.1:5000/y@" + Sha)]
    [InlineData("busybox:1@" + Sha, "registry-1.docker.io", "library/busybox", "1", Sha, "docker.io/library/busybox:1@" + Sha)]
    [InlineData("ghcr.io/a/b:c", "ghcr.io", "a/b", "c", null, "ghcr.io/a/b:c")]
    [InlineData("ghcr.io:443/a/b", "ghcr.io:443", "a/b", "latest", null, "ghcr.io:443/a/b:latest")]
    [InlineData("[::1]:5000/a:b", "[::1]:5000", "a", "b", null, "[::1]:5000/a:b")]
    [InlineData("quay.io/a/b/c/d:v1.2-rc_3", "quay.io", "a/b/c/d", "v1.2-rc_3", null, "quay.io/a/b/c/d:v1.2-rc_3")]
    [InlineData("my-host.example/x__y.z-w---q:_T", "my-host.example", "x__y.z-w---q", "_T", null, "my-host.example/x__y.z-w---q:_T")]
    [InlineData("Mirror/app", "Mirror", "app", "latest", null, "Mirror/app:latest")] // uppercase: a registry, as Docker reads it
    [InlineData("localhost:5000", "registry-1.docker.io", "library/localhost", "5000", null, "docker.io/library/localhost:5000")] // Docker's reading too
    [InlineData("ghcr.io", "registry-1.docker.io", "library/ghcr.io", "latest", null, "docker.io/library/ghcr.io:latest")]
    public void ParsesAsDockerDoes(string text, string registry, string repository, string? tag, string? digest, string canonical)
    {
        var parsed = ImageReference.Parse(text);
        Assert.Equal(new ImageReference(registry, repository, tag, digest), parsed);
        Assert.Equal(canonical, parsed.ToString());
        Assert.Equal(parsed, ImageReference.Parse(parsed.ToString()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Busybox")]
    [InlineData("ghcr.io/Owner/app")]
    [InlineData("busybox:")]
    [InlineData("busybox@")]
    [InlineData(":tag")]
    [InlineData("@" + Sha)]
    [InlineData("/busybox")]
    [InlineData("busybox/")]
    [InlineData("ghcr.io/")]
    [InlineData("a//b")]
    [InlineData("a/-b")]
    [InlineData("a/b-")]
    [InlineData("a/b..c")]
    [InlineData("busybox:-tag")]
    [InlineData("busybox:.tag")]
    [InlineData("busybox:a/b")]
    [InlineData("busybox:1:2")]
    [InlineData("has space")]
    [InlineData("busybox\n")]
    [InlineData("busybox:latest\n")]
    [InlineData("bad_host.io:5000/a")]
    [InlineData("-host.io/a")]
    [InlineData("host.io:port/a")]
    [InlineData("busybox@sha256:abc")]
    [InlineData("busybox@md5:0123456789abcdef0123456789abcdef")]
    [InlineData("busybox@SHA256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("busybox@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void RejectsBadReferences(string text)
    {
        var e = Assert.Throws<UnicornException>(() => ImageReference.Parse(text));
        Assert.Equal("InvalidImageReference", e.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    [Fact]
    public void RejectsOverlongTagsAndNames()
    {
        Assert.Equal(128, ImageReference.Parse("busybox:" + new string('a', 128)).Tag!.Length);
        Assert.Throws<UnicornException>(() => ImageReference.Parse("busybox:" + new string('a', 129)));
        Assert.Throws<UnicornException>(() => ImageReference.Parse("ghcr.io/" + string.Join('/', Enumerable.Repeat(new string('a', 50), 6))));
    }

    [Theory]
    [InlineData("localhost", true)]
    [InlineData("localhost:5000", true)]
    [InlineData("127.0.0.1:5000", true)]
    [InlineData("127.3.2.1", true)]
    [InlineData("[::1]:5000", true)]
    [InlineData("ghcr.io", false)]
    [InlineData("10.0.0.1:5000", false)]
    [InlineData("localhost.example:5000", false)]
    public void KnowsLoopbackRegistries(string registry, bool loopback) =>
        Assert.Equal(loopback, RegistryClient.IsLoopback(registry));
}

public class RegistryChallengeTests
{
    [Fact]
    public void ParsesDockerHubsChallenge()
    {
        var p = RegistryChallenge.Parse("realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\"");
        Assert.Equal("https://auth.docker.io/token", p["realm"]);
        Assert.Equal("registry.docker.io", p["service"]);
        Assert.Equal("repository:library/busybox:pull", p["scope"]);
    }

    [Fact]
    public void ParsesCommasInQuotesBareValuesEscapesAndAnyCase()
    {
        var p = RegistryChallenge.Parse("Realm=\"https://r.example/t?x=1\", scope=\"repository:a/b:pull,push\" , service=bare ,error=\"say \\\"hi\\\"\"");
        Assert.Equal("https://r.example/t?x=1", p["realm"]);
        Assert.Equal("repository:a/b:pull,push", p["SCOPE"]);
        Assert.Equal("bare", p["service"]);
        Assert.Equal("say \"hi\"", p["error"]);
        Assert.Empty(RegistryChallenge.Parse(null));
        Assert.Empty(RegistryChallenge.Parse("token68value"));
    }

    [Fact]
    public void BuildsTheTokenRequest()
    {
        var uri = RegistryChallenge.TokenUri(RegistryChallenge.Parse("realm=\"https://auth.example/token\",service=\"reg.example\",scope=\"repository:a/b:pull\""), "unused");
        Assert.Equal("https://auth.example/token?service=reg.example&scope=repository%3Aa%2Fb%3Apull", uri!.AbsoluteUri);

        // No scope in the challenge: the repository's pull scope. A realm with a query keeps it.
        uri = RegistryChallenge.TokenUri(RegistryChallenge.Parse("realm=\"https://auth.example/token?v=2\""), "repository:x/y:pull");
        Assert.Equal("https://auth.example/token?v=2&scope=repository%3Ax%2Fy%3Apull", uri!.AbsoluteUri);

        // Several scopes, space-separated, become several parameters.
        uri = RegistryChallenge.TokenUri(RegistryChallenge.Parse("realm=\"https://a.example/t\",scope=\"repository:a:pull repository:b:pull\""), "unused");
        Assert.Equal("https://a.example/t?scope=repository%3Aa%3Apull&scope=repository%3Ab%3Apull", uri!.AbsoluteUri);

        Assert.Null(RegistryChallenge.TokenUri(RegistryChallenge.Parse("service=\"x\""), "s"));
        Assert.Null(RegistryChallenge.TokenUri(RegistryChallenge.Parse("realm=\"ftp://a.example/t\""), "s"));
        Assert.Null(RegistryChallenge.TokenUri(RegistryChallenge.Parse("realm=\"/relative\""), "s"));
    }

    [Theory]
    [InlineData("{\"token\":\"abc\",\"expires_in\":300}", "abc")]
    [InlineData("{\"access_token\":\"xyz\"}", "xyz")]
    [InlineData("{\"token\":\"abc\",\"access_token\":\"xyz\"}", "abc")]
    [InlineData("{\"token\":\"\",\"access_token\":\"xyz\"}", "xyz")]
    [InlineData("{\"expires_in\":300}", null)]
    [InlineData("[\"token\"]", null)]
    [InlineData("not json", null)]
    public void ReadsTheToken(string body, string? token) =>
        Assert.Equal(token, RegistryChallenge.TokenFromResponse(Encoding.UTF8.GetBytes(body)));
}

/// <summary>The client against a handler that answers as registries and token servers do.</summary>
public class RegistryClientStubTests
{
    static readonly NetworkCredential Bob = new("bob", "pw");
    static readonly string BobBasic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("bob:pw"));

    sealed class Stub(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        public ConcurrentQueue<(string Uri, string? Authorization, string Accept)> Requests { get; } = new();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancel)
        {
            Requests.Enqueue((request.RequestUri!.AbsoluteUri, request.Headers.Authorization?.ToString(), request.Headers.Accept.ToString()));
            var response = answer(request);
            response.RequestMessage = request;
            return Task.FromResult(response);
        }
    }

    static HttpResponseMessage Json(string body, string mediaType, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) { Headers = { ContentType = new(mediaType) } } };

    static HttpResponseMessage Status(HttpStatusCode status, string? body = null) =>
        new(status) { Content = new StringContent(body ?? "") };

    static HttpResponseMessage Challenge(string challenge)
    {
        var r = Status(HttpStatusCode.Unauthorized, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}");
        r.Headers.TryAddWithoutValidation("WWW-Authenticate", challenge);
        return r;
    }

    static HttpResponseMessage Redirect(string location) => new(HttpStatusCode.TemporaryRedirect) { Headers = { Location = new Uri(location, UriKind.RelativeOrAbsolute) } };

    static string Sha256(string text) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    static string Path(HttpRequestMessage r) => r.RequestUri!.GetLeftPart(UriPartial.Path);

    const string Manifest = """{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:c"},"layers":[]}""";

    [Fact]
    public async Task FetchesABearerTokenWithTheCredentialOnceAndUsesIt()
    {
        var stub = new Stub(r => (Path(r), r.Headers.Authorization?.ToString()) switch
        {
            ("https://auth.example/token", var a) => a == BobBasic ? Json("{\"access_token\":\"tok\"}", "application/json") : Status(HttpStatusCode.Unauthorized),
            (_, "Bearer tok") when Path(r).EndsWith("/manifests/1") => Json(Manifest, RegistryClient.OciManifest),
            (_, "Bearer tok") => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("blob") },
            _ => Challenge("Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:team/app:pull\""),
        });
        using var client = new RegistryClient(ImageReference.Parse("registry.example/team/app:1"), Bob, false, stub);

        var (bytes, mediaType, digest) = await client.GetManifestAsync("amd64");
        Assert.Equal(Manifest, Encoding.UTF8.GetString(bytes));
        Assert.Equal(RegistryClient.OciManifest, mediaType);
        Assert.Equal(Sha256(Manifest), digest);
        using (var blob = await client.GetBlobAsync(Sha256("blob")))
            Assert.Equal("blob", await new StreamReader(blob).ReadToEndAsync());

        var requests = stub.Requests.ToArray();
        Assert.Equal(4, requests.Length); // the challenge, the token, the manifest again, the blob with the cached token
        Assert.Equal("https://registry.example/v2/team/app/manifests/1", requests[0].Uri);
        Assert.Null(requests[0].Authorization);
        Assert.Contains(RegistryClient.OciIndex, requests[0].Accept);
        Assert.Contains(RegistryClient.DockerManifestList, requests[0].Accept);
        Assert.Contains(RegistryClient.DockerManifest, requests[0].Accept);
        Assert.Equal("https://auth.example/token?service=registry.example&scope=repository%3Ateam%2Fapp%3Apull", requests[1].Uri);
        Assert.Equal(BobBasic, requests[1].Authorization);
        Assert.Equal("Bearer tok", requests[2].Authorization);
        Assert.Equal("Bearer tok", requests[3].Authorization);
    }

    [Fact]
    public async Task AnAnonymousTokenThatIsNotEnoughAsksForACredential()
    {
        var stub = new Stub(r => Path(r) == "https://auth.example/token"
            ? Json("{\"token\":\"anonymous\"}", "application/json")
            : Challenge("Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:team/app:pull\",error=\"insufficient_scope\""));
        using var client = new RegistryClient(ImageReference.Parse("registry.example/team/app"), null, false, stub);
        var e = await Assert.ThrowsAsync<UnicornException>(() => client.GetManifestAsync("amd64"));
        Assert.Equal("RegistryAuthenticationFailed", e.ErrorId);
        Assert.Equal(ErrorKind.PermissionDenied, e.Kind);
        Assert.Contains("-Credential", e.Message);
        Assert.Equal(3, stub.Requests.Count);
    }

    [Fact]
    public async Task BasicChallengeWithoutACredentialFailsAtOnce()
    {
        var stub = new Stub(_ => Challenge("Basic realm=\"registry\""));
        using var client = new RegistryClient(ImageReference.Parse("registry.example/team/app"), null, false, stub);
        var e = await Assert.ThrowsAsync<UnicornException>(() => client.GetManifestAsync("amd64"));
        Assert.Equal("RegistryAuthenticationFailed", e.ErrorId);
        Assert.Contains("-Credential", e.Message);
        Assert.Single(stub.Requests);
    }

    [Fact]
    public async Task RedirectsKeepTheAuthorizationOnlyOnTheRegistryHost()
    {
        var stub = new Stub(r => (r.RequestUri!.Host, r.Headers.Authorization?.ToString()) switch
        {
            ("storage.example", _) => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("elsewhere") },
            ("registry.example", null) => Challenge("Basic realm=\"registry\""),
            _ when r.RequestUri.AbsolutePath.EndsWith(Sha256("elsewhere")) => Redirect("https://storage.example/b?sig=1"),
            _ when r.RequestUri.AbsolutePath.EndsWith(Sha256("same")) => Redirect("/store/same"),
            _ when r.RequestUri.AbsolutePath == "/store/same" => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("same") },
            _ => Redirect("http://storage.example/plain"),
        });
        using var client = new RegistryClient(ImageReference.Parse("registry.example/team/app"), Bob, false, stub);

        using (var blob = await client.GetBlobAsync(Sha256("elsewhere")))
            Assert.Equal("elsewhere", await new StreamReader(blob).ReadToEndAsync());
        var storage = stub.Requests.Last();
        Assert.Equal("https://storage.example/b?sig=1", storage.Uri);
        Assert.Null(storage.Authorization);

        using (var blob = await client.GetBlobAsync(Sha256("same")))
            Assert.Equal("same", await new StreamReader(blob).ReadToEndAsync());
        Assert.Equal(("https://registry.example/store/same", BobBasic), (stub.Requests.Last().Uri, stub.Requests.Last().Authorization));

        var e = await Assert.ThrowsAsync<UnicornException>(() => client.GetBlobAsync(Sha256("downgrade")));
        Assert.Equal("RegistryRequestFailed", e.ErrorId);
        Assert.Contains("not HTTPS", e.Message);
    }

    [Fact]
    public async Task ResolvesADockerManifestListToThePlatform()
    {
        string Child(string arch) => $$"""{"schemaVersion":2,"mediaType":"{{RegistryClient.DockerManifest}}","config":{"digest":"sha256:{{arch}}"},"layers":[]}""";
        string Entry(string arch, string? variant, string? os = "linux") =>
            $$$"""{"mediaType":"{{{RegistryClient.DockerManifest}}}","digest":"{{{Sha256(Child(arch + variant))}}}","size":{{{Child(arch + variant).Length}}},"platform":{"architecture":"{{{arch}}}","os":"{{{os}}}"{{{(variant is null ? "" : $",\"variant\":\"{variant}\"")}}}}}""";
        var list = $$"""{"schemaVersion":2,"mediaType":"{{RegistryClient.DockerManifestList}}","manifests":[{{Entry("amd64", null)}},{{Entry("arm", "v7")}},{{Entry("arm64", "v8")}},{{Entry("unknown", null, "unknown")}},{{Entry("amd64", null, "windows")}}]}""";
        var children = new[] { "amd64", "armv7", "arm64v8", "unknown" }.ToDictionary(a => Sha256(Child(a)), Child);
        var stub = new Stub(r => Path(r).EndsWith("/manifests/multi") ? Json(list, RegistryClient.DockerManifestList)
            : children.TryGetValue(Path(r)[(Path(r).LastIndexOf('/') + 1)..], out var child) ? Json(child, RegistryClient.DockerManifest)
            : Status(HttpStatusCode.NotFound, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}"));
        using var client = new RegistryClient(ImageReference.Parse("registry.example/team/app:multi"), null, false, stub);

        foreach (var (arch, child) in new[] { ("arm64", "arm64v8"), ("arm64/v8", "arm64v8"), ("arm/v7", "armv7"), ("amd64", "amd64") })
        {
            var (bytes, mediaType, digest) = await client.GetManifestAsync(arch);
            Assert.Equal(Child(child), Encoding.UTF8.GetString(bytes));
            Assert.Equal(RegistryClient.DockerManifest, mediaType);
            Assert.Equal(Sha256(Child(child)), digest);
        }

        var e = await Assert.ThrowsAsync<UnicornException>(() => client.GetManifestAsync("ppc64le"));
        Assert.Equal("PlatformNotFound", e.ErrorId);
        Assert.Contains("linux/amd64, linux/arm/v7, linux/arm64/v8, windows/amd64", e.Message);
        Assert.DoesNotContain("unknown", e.Message);
    }

    [Fact]
    public async Task ReportsRegistryErrors()
    {
        var schema1 = """{"schemaVersion":1,"name":"team/app","tag":"old","fsLayers":[]}""";
        var stub = new Stub(r => Path(r)[(Path(r).LastIndexOf('/') + 1)..] switch
        {
            "missing" => Status(HttpStatusCode.NotFound, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\",\"detail\":{\"Tag\":\"missing\"}}]}"),
            "broken" => Status(HttpStatusCode.InternalServerError, "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"disk on fire\"},{\"code\":\"X\",\"message\":\"and more\"}]}"),
            "busy" => Status(HttpStatusCode.TooManyRequests, "slow down"),
            "old" => Json(schema1, "application/vnd.docker.distribution.manifest.v1+prettyjws"),
            "untyped" => Json(schema1, "application/json"),
            _ when Path(r).Contains("/blobs/") => new HttpResponseMessage(HttpStatusCode.OK)
                { Content = new ByteArrayContent(new byte[10]) { Headers = { ContentLength = 100 } } },
            _ => Json(Manifest, RegistryClient.OciManifest),
        });
        async Task<UnicornException> Fails(string reference) => await Assert.ThrowsAsync<UnicornException>(() =>
            new RegistryClient(ImageReference.Parse(reference), null, false, stub).GetManifestAsync("amd64"));

        var e = await Fails("registry.example/team/app:missing");
        Assert.Equal(("ImageNotFound", ErrorKind.ObjectNotFound), (e.ErrorId, e.Kind));
        Assert.Contains("registry.example/team/app:missing", e.Message);
        Assert.Contains("manifest unknown", e.Message);

        e = await Fails("registry.example/team/app:broken");
        Assert.Equal(("RegistryRequestFailed", ErrorKind.ResourceUnavailable), (e.ErrorId, e.Kind));
        Assert.Contains("500", e.Message);
        Assert.Contains("disk on fire; and more", e.Message);

        e = await Fails("registry.example/team/app:busy");
        Assert.Equal(("RegistryRequestFailed", ErrorKind.LimitsExceeded), (e.ErrorId, e.Kind));
        Assert.Contains("slow down", e.Message);

        Assert.Equal("UnsupportedMediaType", (await Fails("registry.example/team/app:old")).ErrorId);
        Assert.Equal("UnsupportedMediaType", (await Fails("registry.example/team/app:untyped")).ErrorId);

        var wrong = "sha256:" + new string('0', 64);
        e = await Fails("registry.example/team/app@" + wrong);
        Assert.Equal("DigestMismatch", e.ErrorId);

        using var client = new RegistryClient(ImageReference.Parse("registry.example/team/app"), null, false, stub);
        Assert.Equal("InvalidDigest", (await Assert.ThrowsAsync<UnicornException>(() => client.GetBlobAsync("sha256:../../etc"))).ErrorId);
        using var shortBlob = await client.GetBlobAsync(wrong);
        Assert.Contains("announced 100", (await Assert.ThrowsAsync<IOException>(() => shortBlob.CopyToAsync(Stream.Null))).Message);
    }
}

/// <summary>Four docker-registry processes on loopback ports over one storage directory: open (plain HTTP, pushed to
/// with skopeo), htpasswd Basic auth, token auth (with a token server in this process), and TLS with a self-signed
/// certificate. Everything is under one temp directory, removed with the processes.</summary>
public sealed class LocalRegistryFixture : IDisposable
{
    public const string User = "alice", Password = "secret", Service = "unicorn-test", Issuer = "unicorn-test-issuer";
    static readonly string[] Tools = ["docker-registry", "skopeo", "htpasswd"];

    public string Root { get; } = Directory.CreateTempSubdirectory("unicorn-registry-").FullName;
    public int OpenPort { get; private set; }
    public int BasicPort { get; private set; }
    public int TokenPort { get; private set; }
    public int TlsPort { get; private set; }
    public ConcurrentQueue<(string Query, bool Granted)> TokenRequests { get; } = new();

    /// <summary>Blob content by digest, and the manifests' digests by name.</summary>
    public Dictionary<string, byte[]> Blobs { get; } = [];
    public Dictionary<string, string> Manifests { get; } = [];

    readonly List<Process> registries = [];
    readonly ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    X509Certificate2? certificate;
    HttpListener? tokenServer;

    public LocalRegistryFixture()
    {
        var missing = Tools.Where(t => !OnPath(t)).ToArray();
        Assert.True(missing.Length == 0, $"{string.Join(", ", missing)} not found: apt-get install docker-registry skopeo apache2-utils");
        try
        {
            var layout = BuildLayout();
            WriteCertificate();
            Run("htpasswd", "-Bbc", Path.Combine(Root, "htpasswd"), User, Password);
            StartTokenServer();
            OpenPort = StartRegistry("open", "");
            BasicPort = StartRegistry("basic", $"auth:\n  htpasswd:\n    realm: unicorn-test\n    path: {Root}/htpasswd\n");
            TokenPort = StartRegistry("token", $"auth:\n  token:\n    realm: {tokenServer!.Prefixes.Single()}token\n    service: {Service}\n    issuer: {Issuer}\n    rootcertbundle: {Root}/cert.pem\n");
            TlsPort = StartRegistry("tls", "", $"  tls:\n    certificate: {Root}/cert.pem\n    key: {Root}/key.pem\n");

            var destination = $"docker://127.0.0.1:{OpenPort}/test";
            Run("skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", $"oci:{layout}:single", $"{destination}/img:single");
            Run("skopeo", "--insecure-policy", "copy", "-q", "--all", "--dest-tls-verify=false", $"oci:{layout}:multi", $"{destination}/img:multi");
            // skopeo rewrites OCI as Docker schema 2, the index as a manifest list (layer media types change, blobs do not).
            Run("skopeo", "--insecure-policy", "copy", "-q", "--format", "v2s2", "--dest-tls-verify=false", $"oci:{layout}:single", $"{destination}/docker:single");
            Run("skopeo", "--insecure-policy", "copy", "-q", "--all", "--format", "v2s2", "--dest-tls-verify=false", $"oci:{layout}:multi", $"{destination}/docker:multi");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Reference(int port, string name) => $"127.0.0.1:{port}/test/{name}";

    string BuildLayout()
    {
        var layout = Path.Combine(Root, "layout");
        Directory.CreateDirectory(Path.Combine(layout, "blobs", "sha256"));
        (string Digest, long Size) Blob(byte[] bytes)
        {
            var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
            File.WriteAllBytes(Path.Combine(layout, "blobs", "sha256", digest[7..]), bytes);
            Blobs[digest] = bytes;
            return (digest, bytes.Length);
        }
        JsonObject Descriptor(string mediaType, (string Digest, long Size) blob) =>
            new() { ["mediaType"] = mediaType, ["digest"] = blob.Digest, ["size"] = blob.Size };
        byte[] Bytes(JsonNode node) => Encoding.UTF8.GetBytes(node.ToJsonString());

        var images = new Dictionary<string, (string Digest, long Size)>();
        foreach (var arch in new[] { "amd64", "arm64" })
        {
            var (layer, diffId) = Layer($"hello-{arch}.txt", $"hello from {arch}\n");
            var config = Bytes(new JsonObject
            {
                ["architecture"] = arch, ["os"] = "linux", ["config"] = new JsonObject(),
                ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(diffId) },
            });
            var manifest = Bytes(new JsonObject
            {
                ["schemaVersion"] = 2, ["mediaType"] = RegistryClient.OciManifest,
                ["config"] = Descriptor("application/vnd.oci.image.config.v1+json", Blob(config)),
                ["layers"] = new JsonArray(Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", Blob(layer))),
            });
            images[arch] = Blob(manifest);
            Manifests[arch] = images[arch].Digest;
        }
        var index = Blob(Bytes(new JsonObject
        {
            ["schemaVersion"] = 2, ["mediaType"] = RegistryClient.OciIndex,
            ["manifests"] = new JsonArray(images.Select(i =>
            {
                var d = Descriptor(RegistryClient.OciManifest, i.Value);
                d["platform"] = new JsonObject { ["architecture"] = i.Key, ["os"] = "linux" };
                return (JsonNode)d;
            }).ToArray()),
        }));
        Manifests["index"] = index.Digest;

        JsonObject Named(JsonObject descriptor, string name)
        {
            descriptor["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = name };
            return descriptor;
        }
        File.WriteAllText(Path.Combine(layout, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        File.WriteAllBytes(Path.Combine(layout, "index.json"), Bytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["manifests"] = new JsonArray(
                Named(Descriptor(RegistryClient.OciManifest, images["amd64"]), "single"),
                Named(Descriptor(RegistryClient.OciIndex, index), "multi")),
        }));
        return layout;
    }

    /// <summary>A gzipped tar with one file, and the digest of the tar (the config's diff_id).</summary>
    static (byte[] Gzip, string DiffId) Layer(string name, string content)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Ustar, leaveOpen: true))
            writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
        using var gzip = new MemoryStream();
        using (var z = new GZipStream(gzip, CompressionLevel.Optimal, leaveOpen: true))
            z.Write(tar.ToArray());
        return (gzip.ToArray(), "sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar.ToArray())));
    }

    /// <summary>One self-signed certificate for 127.0.0.1: the TLS registry's, and the token issuer's
    /// (the registry trusts tokens whose x5c chain ends in its rootcertbundle).</summary>
    void WriteCertificate()
    {
        var request = new CertificateRequest("CN=unicorn-test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(Root, "cert.pem"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(Root, "key.pem"), key.ExportPkcs8PrivateKeyPem());
    }

    void StartTokenServer()
    {
        tokenServer = new HttpListener();
        tokenServer.Prefixes.Add($"http://127.0.0.1:{FreePort()}/");
        tokenServer.Start();
        var listener = tokenServer;
        _ = Task.Run(async () =>
        {
            while (true)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                AnswerTokenRequest(context);
            }
        });
    }

    /// <summary>Like Docker Hub: a right Basic credential gets the scope asked for, none gets a token without
    /// access, a wrong one gets 401.</summary>
    void AnswerTokenRequest(HttpListenerContext context)
    {
        using var response = context.Response;
        var authorization = context.Request.Headers["Authorization"];
        var granted = authorization == "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}"));
        TokenRequests.Enqueue((context.Request.Url!.Query, granted));
        if (authorization is not null && !granted)
        {
            response.StatusCode = 401;
            return;
        }
        var access = new JsonArray();
        if (granted && context.Request.QueryString["scope"]?.Split(':') is [var type, var name, var actions])
            access.Add(new JsonObject { ["type"] = type, ["name"] = name, ["actions"] = new JsonArray(actions.Split(',').Select(a => (JsonNode)a).ToArray()) });
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new JsonObject { ["typ"] = "JWT", ["alg"] = "ES256", ["x5c"] = new JsonArray(Convert.ToBase64String(certificate!.RawData)) };
        var claims = new JsonObject
        {
            ["iss"] = Issuer, ["sub"] = granted ? User : "", ["aud"] = Service, ["exp"] = now + 300, ["nbf"] = now - 10, ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"), ["access"] = access,
        };
        var signed = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var token = signed + "." + Base64Url.EncodeToString(key.SignData(Encoding.ASCII.GetBytes(signed), HashAlgorithmName.SHA256));
        var body = Encoding.UTF8.GetBytes(new JsonObject { ["token"] = token, ["expires_in"] = 300 }.ToJsonString());
        response.ContentType = "application/json";
        response.OutputStream.Write(body);
    }

    int StartRegistry(string name, string auth, string tls = "")
    {
        var port = FreePort();
        var config = Path.Combine(Root, name + ".yml");
        File.WriteAllText(config,
            $"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {Root}/storage\n" +
            $"http:\n  addr: 127.0.0.1:{port}\n  secret: unicorn-test\n{tls}{auth}");
        var log = new StringBuilder();
        var process = new Process
        {
            StartInfo = new ProcessStartInfo("docker-registry") { ArgumentList = { "serve", config }, RedirectStandardOutput = true, RedirectStandardError = true },
        };
        process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.Start();
        registries.Add(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Loopback, port);
                return port;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(10) && !process.HasExited)
            {
                Thread.Sleep(20);
            }
            catch (SocketException)
            {
                lock (log)
                    Assert.Fail($"docker-registry ({name}) did not listen on {port}: {log}");
            }
        }
    }

    void Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            process.Kill(entireProcessTree: true);
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{tool} {string.Join(' ', arguments)} failed ({process.ExitCode}): {output.Result}{error.Result}");
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin").Append("/sbin")
            .Any(dir => File.Exists(Path.Combine(dir, tool)));

    public void Dispose()
    {
        foreach (var process in registries)
        {
            try
            {
                if (!process.HasExited)
                    process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
            process.Dispose();
        }
        registries.Clear();
        tokenServer?.Close();
        certificate?.Dispose();
        key.Dispose();
        if (Directory.Exists(Root))
            Directory.Delete(Root, recursive: true);
    }
}

public class RegistryLiveTests(LocalRegistryFixture registry) : IClassFixture<LocalRegistryFixture>
{
    static readonly NetworkCredential Alice = new(LocalRegistryFixture.User, LocalRegistryFixture.Password);

    /// <summary>The manifest, then every blob it names, each checked against its digest.</summary>
    static async Task<JsonDocument> PullAsync(RegistryClient client, string architecture, string expectedMediaType)
    {
        var (bytes, mediaType, digest) = await client.GetManifestAsync(architecture);
        Assert.Equal(expectedMediaType, mediaType);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)), digest);
        var manifest = JsonDocument.Parse(bytes);
        var blobs = manifest.RootElement.GetProperty("layers").EnumerateArray().Prepend(manifest.RootElement.GetProperty("config"));
        foreach (var descriptor in blobs)
        {
            var blobDigest = descriptor.GetProperty("digest").GetString()!;
            await using var blob = await client.GetBlobAsync(blobDigest);
            using var copy = new MemoryStream();
            await blob.CopyToAsync(copy);
            Assert.Equal(blobDigest, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(copy.ToArray())));
            Assert.Equal(descriptor.GetProperty("size").GetInt64(), copy.Length);
        }
        return manifest;
    }

    [Fact]
    public async Task PullsASingleManifestAndItsBlobsOverPlainHttp()
    {
        using var client = new RegistryClient(ImageReference.Parse(registry.Reference(registry.OpenPort, "img:single")));
        var (_, _, digest) = await client.GetManifestAsync("arm64"); // a single manifest is returned whatever the platform
        Assert.Equal(registry.Manifests["amd64"], digest);
        using var manifest = await PullAsync(client, "amd64", RegistryClient.OciManifest);
        Assert.Equal(registry.Blobs[registry.Manifests["amd64"]], Encoding.UTF8.GetBytes(manifest.RootElement.GetRawText()));
    }

    [Fact]
    public async Task ResolvesAnIndexToThePlatform()
    {
        using var client = new RegistryClient(ImageReference.Parse(registry.Reference(registry.OpenPort, "img:multi")));
        foreach (var arch in new[] { "amd64", "arm64" })
        {
            Assert.Equal(registry.Manifests[arch], (await client.GetManifestAsync(arch)).Digest);
            using var _ = await PullAsync(client, arch, RegistryClient.OciManifest);
        }
        var e = await Assert.ThrowsAsync<UnicornException>(() => client.GetManifestAsync("s390x"));
        Assert.Equal(("PlatformNotFound", ErrorKind.ObjectNotFound), (e.ErrorId, e.Kind));
        Assert.Contains("linux/amd64, linux/arm64", e.Message);
    }

    [Fact]
    public async Task PullsByDigest()
    {
        foreach (var (name, arch) in new[] { ("index", "arm64"), ("arm64", "arm64"), ("amd64", "amd64") })
        {
            using var client = new RegistryClient(ImageReference.Parse(registry.Reference(registry.OpenPort, "img@" + registry.Manifests[name])));
            Assert.Equal(registry.Manifests[arch], (await client.GetManifestAsync(arch)).Digest);
        }
        // A digest that names nothing there.
        using var missing = new RegistryClient(ImageReference.Parse(registry.Reference(registry.OpenPort, "img@sha256:" + new string('1', 64))));
        Assert.Equal("ImageNotFound", (await Assert.ThrowsAsync<UnicornException>(() => missing.GetManifestAsync("amd64"))).ErrorId);
    }

    [Fact]
    public async Task PullsDockerSchema2ManifestsAndManifestLists()
    {
        using (var single = new RegistryClient(ImageReference.Parse(registry.Reference(registry.OpenPort, "docker:single"))))
        using (var manifest = await PullAsync(single, "amd64", RegistryClient.DockerManifest))
            Assert.Equal("application/vnd.docker.image.rootfs.diff.tar.gzip", manifest.RootElement.GetProperty("layers")[0].GetProperty("mediaType").GetString());

        using var list = new RegistryClient(ImageReference.Parse(registry.Reference(registry.OpenPort, "docker:multi")));
        foreach (var arch in new[] { "amd64", "arm64" })
        {
            using var manifest = await PullAsync(list, arch, RegistryClient.DockerManifest);
            var config = manifest.RootElement.GetProperty("config").GetProperty("digest").GetString()!;
            Assert.Contains($"\"architecture\":\"{arch}\"", Encoding.UTF8.GetString(registry.Blobs[config]));
        }
        Assert.Equal("PlatformNotFound", (await Assert.ThrowsAsync<UnicornException>(() => list.GetManifestAsync("riscv64"))).ErrorId);
    }

    [Fact]
    public async Task ReportsMissingImagesAndBlobs()
    {
        using var tag = new RegistryClient(ImageReference.Parse(registry.Reference(registry.OpenPort, "img:nope")));
        var e = await Assert.ThrowsAsync<UnicornException>(() => tag.GetManifestAsync("amd64"));
        Assert.Equal(("ImageNotFound", ErrorKind.ObjectNotFound), (e.ErrorId, e.Kind));
        Assert.Contains($"127.0.0.1:{registry.OpenPort}/test/img:nope", e.Message);
        Assert.Contains("manifest unknown", e.Message);

        using var repository = new RegistryClient(ImageReference.Parse(registry.Reference(registry.OpenPort, "nothing-here")));
        Assert.Equal("ImageNotFound", (await Assert.ThrowsAsync<UnicornException>(() => repository.GetManifestAsync("amd64"))).ErrorId);

        e = await Assert.ThrowsAsync<UnicornException>(() => tag.GetBlobAsync("sha256:" + new string('2', 64)));
        Assert.Equal("RegistryRequestFailed", e.ErrorId);
        Assert.Contains("404", e.Message);
        Assert.Contains("blob unknown", e.Message);
    }

    [Fact]
    public async Task BasicAuthNeedsTheRightCredential()
    {
        var reference = ImageReference.Parse(registry.Reference(registry.BasicPort, "img:multi"));
        using (var client = new RegistryClient(reference, Alice))
        using (var _ = await PullAsync(client, "arm64", RegistryClient.OciManifest)) { }

        using var anonymous = new RegistryClient(reference);
        var e = await Assert.ThrowsAsync<UnicornException>(() => anonymous.GetManifestAsync("arm64"));
        Assert.Equal(("RegistryAuthenticationFailed", ErrorKind.PermissionDenied), (e.ErrorId, e.Kind));
        Assert.Contains("-Credential", e.Message);

        using var wrong = new RegistryClient(reference, new NetworkCredential(LocalRegistryFixture.User, "wrong"));
        e = await Assert.ThrowsAsync<UnicornException>(() => wrong.GetManifestAsync("arm64"));
        Assert.Equal("RegistryAuthenticationFailed", e.ErrorId);
        Assert.Contains("rejected the credentials", e.Message);
    }

    [Fact]
    public async Task TokenAuthFetchesOneTokenAndUsesIt()
    {
        var reference = ImageReference.Parse(registry.Reference(registry.TokenPort, "img:multi"));
        var before = registry.TokenRequests.Count;
        using (var client = new RegistryClient(reference, Alice))
        using (var _ = await PullAsync(client, "amd64", RegistryClient.OciManifest)) { }
        var requests = registry.TokenRequests.Skip(before).ToArray();
        Assert.Equal([($"?service={LocalRegistryFixture.Service}&scope=repository%3Atest%2Fimg%3Apull", true)], requests);

        using var anonymous = new RegistryClient(reference);
        var e = await Assert.ThrowsAsync<UnicornException>(() => anonymous.GetManifestAsync("amd64"));
        Assert.Equal(("RegistryAuthenticationFailed", ErrorKind.PermissionDenied), (e.ErrorId, e.Kind));
        Assert.Contains("-Credential", e.Message);

        using var wrong = new RegistryClient(reference, new NetworkCredential(LocalRegistryFixture.User, "wrong"));
        e = await Assert.ThrowsAsync<UnicornException>(() => wrong.GetManifestAsync("amd64"));
        Assert.Equal("RegistryAuthenticationFailed", e.ErrorId);
        Assert.Contains("rejected the credentials", e.Message);
    }

    [Fact]
    public async Task AnUntrustedCertificateNeedsSkipTlsVerify()
    {
        var reference = ImageReference.Parse(registry.Reference(registry.TlsPort, "img:single"));
        using (var strict = new RegistryClient(reference))
        {
            var e = await Assert.ThrowsAsync<UnicornException>(() => strict.GetManifestAsync("amd64"));
            Assert.Equal(("RegistryUnreachable", ErrorKind.ResourceUnavailable), (e.ErrorId, e.Kind));
            Assert.Contains("-SkipTlsVerify", e.Message);
        }
        using var skipping = new RegistryClient(reference, skipTlsVerify: true);
        using var _ = await PullAsync(skipping, "amd64", RegistryClient.OciManifest);
    }
}
