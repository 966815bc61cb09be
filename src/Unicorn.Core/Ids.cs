using System.Security.Cryptography;

namespace Unicorn;

public static class Ids
{
    /// <summary>A 64-hex-digit random id, like Docker's; the first 12 digits are shown.</summary>
    public static string New() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public static string Short(string id) => id.Length > 12 ? id[..12] : id;

    /// <summary>Is text a whole id (64 lowercase hex digits)?</summary>
    public static bool IsId(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigitLower);
}
