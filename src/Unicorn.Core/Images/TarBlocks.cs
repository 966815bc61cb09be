using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Unicorn.Images;

/// <summary>The parts of the tar format that System.Formats.Tar leaves out: PAX extended headers
/// whose values are bytes (SCHILY.xattr values are raw, which TarReader and TarWriter take as
/// UTF-8 text without newlines), and the numbers and checksums of header blocks.</summary>
static class TarBlocks
{
    public const int BlockSize = 512;
    public const long UstarMaxSize = (1L << 33) - 1; // 11 octal digits
    public const uint UstarMaxId = (1u << 21) - 1;   // 7 octal digits
    const int NameLength = 100, SizeOffset = 124, SizeLength = 12, ChecksumOffset = 148, ChecksumLength = 8, TypeOffset = 156;

    public static long Padded(long size) => (size + BlockSize - 1) / BlockSize * BlockSize;

    /// <summary>Can a ustar name field hold name as it is (PAX then needs no path record)?</summary>
    public static bool FitsUstar(string name) => name.Length <= NameLength && Ascii.IsValid(name);

    /// <summary>What a ustar field shows of a name that a PAX record carries: its ASCII, cut short.</summary>
    public static string UstarPlaceholder(string name)
    {
        var ascii = string.Create(name.Length, name, (span, n) => { for (int i = 0; i < n.Length; i++) span[i] = n[i] < 128 ? n[i] : '_'; });
        return ascii.Length <= NameLength ? ascii : ascii[..NameLength];
    }

    /// <summary>A PAX time: seconds, and the fraction without trailing zeros.</summary>
    public static string FormatTime(long seconds, long nanoseconds)
    {
        if (nanoseconds == 0)
            return seconds.ToString(CultureInfo.InvariantCulture);
        // A negative time counts the fraction away from zero too: -1.5 is sec -2, nsec 500000000.
        bool negative = seconds < 0;
        if (negative)
            (seconds, nanoseconds) = (-(seconds + 1), 1_000_000_000 - nanoseconds);
        return $"{(negative ? "-" : "")}{seconds.ToString(CultureInfo.InvariantCulture)}.{nanoseconds.ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0')}";
    }

    /// <summary>Appends the record "length key=value\n", the length counting its own digits.</summary>
    public static void AppendRecord(Stream to, string key, ReadOnlySpan<byte> value)
    {
        int body = 1 + Encoding.UTF8.GetByteCount(key) + 1 + value.Length + 1;
        int length = body + 1;
        while (Digits(length) + body != length)
            length = Digits(length) + body;
        to.Write(Encoding.ASCII.GetBytes(length.ToString(CultureInfo.InvariantCulture) + " "));
        to.Write(Encoding.UTF8.GetBytes(key));
        to.WriteByte((byte)'=');
        to.Write(value);
        to.WriteByte((byte)'\n');

        static int Digits(int n) => n.ToString(CultureInfo.InvariantCulture).Length;
    }

    /// <summary>The records of a PAX header's data, values as bytes; null if they are malformed.</summary>
    public static List<(string Key, byte[] Value)>? ParseRecords(ReadOnlySpan<byte> data)
    {
        var records = new List<(string, byte[])>();
        while (TryNextRecord(ref data, out var key, out var value))
            records.Add((Encoding.UTF8.GetString(key), value.ToArray()));
        return data.IsEmpty ? records : null;
    }

    /// <summary>Takes the next record off data; false at its end, or (data left) at a malformed record.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryNextRecord(ref ReadOnlySpan<byte> data, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        key = value = default;
        int space = data.IndexOf((byte)' ');
        if (space <= 0 || !int.TryParse(data[..space], NumberStyles.None, CultureInfo.InvariantCulture, out int length)
            || length <= space + 1 || length > data.Length || data[length - 1] != (byte)'\n')
            return false;
        var record = data[(space + 1)..(length - 1)];
        int equals = record.IndexOf((byte)'=');
        if (equals <= 0)
            return false;
        key = record[..equals];
        value = record[(equals + 1)..];
        data = data[length..];
        return true;
    }

    /// <summary>Writes a PAX extended header ('x') with records for the entry named entryName.
    /// Its own name is fixed (as Go's archive/tar writes it), so that equal trees give equal tars.</summary>
    public static void WritePaxHeader(Stream output, string entryName, List<(string Key, byte[] Value)> records)
    {
        var data = new MemoryStream();
        foreach (var (key, value) in records)
            AppendRecord(data, key, value);
        var trimmed = entryName.TrimEnd('/');
        int slash = trimmed.LastIndexOf('/');
        var name = UstarPlaceholder(slash < 0 ? "PaxHeaders.0/" + trimmed : $"{trimmed[..slash]}/PaxHeaders.0/{trimmed[(slash + 1)..]}");

        var block = new byte[BlockSize];
        Encoding.ASCII.GetBytes(name, block);
        "0000644\0"u8.CopyTo(block.AsSpan(100));
        "0000000\0"u8.CopyTo(block.AsSpan(108));
        "0000000\0"u8.CopyTo(block.AsSpan(116));
        "00000000000\0"u8.CopyTo(block.AsSpan(136));
        block[TypeOffset] = (byte)'x';
        "ustar\0"u8.CopyTo(block.AsSpan(257));
        "00"u8.CopyTo(block.AsSpan(263));
        SetSizeAndChecksum(block, data.Length);
        output.Write(block);
        output.Write(data.GetBuffer().AsSpan(0, (int)data.Length));
        output.Write(new byte[Padded(data.Length) - data.Length]);
    }

    public static byte Type(ReadOnlySpan<byte> block) => block[TypeOffset];

    public static bool TryParseSize(ReadOnlySpan<byte> block, out long size) => TryParseNumber(block.Slice(SizeOffset, SizeLength), out size);

    /// <summary>The end of an archive, as TarReader tells it: a header without a checksum.</summary>
    public static bool IsEnd(ReadOnlySpan<byte> block) => !block.Slice(ChecksumOffset, ChecksumLength).ContainsAnyExcept((byte)0);

    /// <summary>Does the header's checksum match it? (Summed as unsigned bytes, or signed as some old tars did.)</summary>
    public static bool ChecksumMatches(ReadOnlySpan<byte> block) =>
        TryParseNumber(block.Slice(ChecksumOffset, ChecksumLength), out long stored) && (stored == Checksum(block) || stored == Checksum(block, signed: true));

    public static void SetSizeAndChecksum(Span<byte> block, long size)
    {
        Encoding.ASCII.GetBytes(Convert.ToString(size, 8).PadLeft(SizeLength - 1, '0') + "\0", block.Slice(SizeOffset, SizeLength));
        Encoding.ASCII.GetBytes(Convert.ToString(Checksum(block), 8).PadLeft(6, '0') + "\0 ", block.Slice(ChecksumOffset, ChecksumLength));
    }

    /// <summary>The sum of a header's bytes, its checksum field counted as spaces.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static long Checksum(ReadOnlySpan<byte> block, bool signed = false)
    {
        long sum = ' ' * ChecksumLength;
        foreach (var b in block[..BlockSize])
            sum += signed ? (sbyte)b : b;
        foreach (var b in block.Slice(ChecksumOffset, ChecksumLength))
            sum -= signed ? (sbyte)b : b;
        return sum;
    }

    /// <summary>A numeric header field: octal text, or base-256 when its first bit is set (GNU).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static bool TryParseNumber(ReadOnlySpan<byte> field, out long value)
    {
        value = 0;
        if ((field[0] & 0x80) != 0)
        {
            if (field[0] != 0x80 || field[1..^8].ContainsAnyExcept((byte)0))
                return false; // negative, or past a long
            foreach (var b in field[^8..])
                value = (value << 8) | b;
            return value >= 0;
        }
        var text = field.Trim((byte)' ').TrimEnd((byte)0).TrimEnd((byte)' ');
        foreach (var b in text)
        {
            if (b < '0' || b > '7' || value > long.MaxValue >> 3)
                return false;
            value = (value << 3) | (uint)(b - '0');
        }
        return true;
    }
}
