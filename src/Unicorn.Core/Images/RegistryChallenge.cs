using System.Text;
using System.Text.Json;

namespace Unicorn.Images;

/// <summary>The parts of registry authentication that are plain parsing: WWW-Authenticate parameters,
/// the token request URL, and the token server's answer.</summary>
internal static class RegistryChallenge
{
    /// <summary>The auth-params of a challenge (realm="...",service="...",scope="..."): quoted or bare values,
    /// backslash escapes in quotes, names case-insensitive.</summary>
    public static Dictionary<string, string> Parse(string? parameter)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var text = parameter ?? "";
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i])))
                i++;
            var equals = text.IndexOf('=', i);
            if (equals < 0)
                break;
            var name = text[i..equals].Trim();
            i = equals + 1;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
                i++;
            var value = new StringBuilder();
            if (i < text.Length && text[i] == '"')
            {
                for (i++; i < text.Length && text[i] != '"'; i++)
                    value.Append(text[i] == '\\' && i + 1 < text.Length ? text[++i] : text[i]);
                i++; // the closing quote
            }
            else
            {
                var end = text.IndexOf(',', i);
                if (end < 0)
                    end = text.Length;
                value.Append(text[i..end].Trim());
                i = end;
            }
            if (name.Length > 0)
                result[name] = value.ToString();
        }
        return result;
    }

    /// <summary>realm?service=..&amp;scope=.. (a scope per space-separated entry, as Docker sends them);
    /// null when the realm is not an http(s) URL.</summary>
    public static Uri? TokenUri(IReadOnlyDictionary<string, string> challenge, string defaultScope)
    {
        if (!challenge.TryGetValue("realm", out var realm) || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri)
            || (realmUri.Scheme != Uri.UriSchemeHttps && realmUri.Scheme != Uri.UriSchemeHttp))
            return null;
        var query = new List<string>();
        if (challenge.TryGetValue("service", out var service) && service.Length > 0)
            query.Add("service=" + Uri.EscapeDataString(service));
        var scopes = challenge.TryGetValue("scope", out var scope) && scope.Length > 0 ? scope : defaultScope;
        foreach (var one in scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            query.Add("scope=" + Uri.EscapeDataString(one));
        var builder = new UriBuilder(realmUri) { Fragment = "" };
        builder.Query = (builder.Query.Length > 1 ? builder.Query[1..] + "&" : "") + string.Join("&", query);
        return builder.Uri;
    }

    /// <summary>"token" (Docker) or "access_token" (OAuth2) from the token server's JSON; null if neither.</summary>
    public static string? TokenFromResponse(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                return null;
            var token = RegistryClient.StringProperty(json.RootElement, "token");
            return string.IsNullOrEmpty(token) ? RegistryClient.StringProperty(json.RootElement, "access_token") is { Length: > 0 } access ? access : null : token;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
