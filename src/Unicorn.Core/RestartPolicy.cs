using System.Globalization;

namespace Unicorn;

[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))]
public enum RestartMode { No, OnFailure, Always, UnlessStopped }

/// <summary>Docker's restart policies, carried out by the container's supervisor: No; OnFailure
/// (a non-zero exit), at most MaximumRetryCount times (0: no limit); Always; UnlessStopped.
/// A container stopped with Stop-UnicornContainer is not restarted by any of them. Without a
/// daemon that starts at boot, Always and UnlessStopped act alike.</summary>
public sealed record RestartPolicy(RestartMode Mode, int MaximumRetryCount = 0)
{
    public static readonly RestartPolicy No = new(RestartMode.No);

    /// <summary>No, OnFailure[:N], Always, UnlessStopped; Docker's spellings (on-failure:3,
    /// unless-stopped) too, in any case.</summary>
    public static RestartPolicy Parse(string text)
    {
        var parts = text.Split(':', 2);
        var mode = parts[0].Replace("-", "").ToLowerInvariant() switch
        {
            "no" => RestartMode.No,
            "onfailure" => RestartMode.OnFailure,
            "always" => RestartMode.Always,
            "unlessstopped" => RestartMode.UnlessStopped,
            _ => throw Invalid(text),
        };
        int max = 0;
        if (parts.Length == 2 && (mode != RestartMode.OnFailure || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out max)))
            throw Invalid(text);
        return new RestartPolicy(mode, max);
    }

    static UnicornException Invalid(string text) => new("InvalidRestartPolicy", ErrorKind.InvalidArgument,
        $"'{text}' is not a restart policy: give No, OnFailure, OnFailure:N (at most N restarts), Always or UnlessStopped.", text);

    /// <summary>The launcher's spec value (src/launcher/README.md), or null for No.</summary>
    public string? SpecValue => Mode switch
    {
        RestartMode.No => null,
        RestartMode.OnFailure => $"on-failure:{MaximumRetryCount.ToString(CultureInfo.InvariantCulture)}",
        _ => "always",
    };

    public override string ToString() => Mode == RestartMode.OnFailure && MaximumRetryCount > 0 ? $"OnFailure:{MaximumRetryCount}" : Mode.ToString();
}
