using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Unicorn.Images;

/// <summary>Hands a tar stream on to TarReader with its PAX extended headers rewritten so that
/// every extended attribute arrives exactly. TarReader decodes PAX values as UTF-8 (a file
/// capability's bytes are not UTF-8) and fails on a value holding a newline byte; so the
/// SCHILY.xattr (raw) and LIBARCHIVE.xattr (base64) records become XattrKey records, name and
/// value in base64, and all else passes unchanged. It also reads ahead in large blocks.</summary>
sealed class PaxXattrStream(Stream source) : ReadOnlyStream
{
    internal const string XattrKey = "UNICORN.xattr.";
    const string SchilyKey = "SCHILY.xattr.", LibarchiveKey = "LIBARCHIVE.xattr.";
    const int Block = TarBlocks.BlockSize, MaxHeaderData = 1 << 20; // xattr values are at most 64 KiB

    readonly byte[] _ahead = GC.AllocateUninitializedArray<byte>(1 << 20);
    int _aheadPos, _aheadEnd;
    byte[] _header = new byte[Block]; // a header block (and an extended header's data) for the reader; grows
    int _headerPos, _headerEnd;
    long _dataLeft;    // the current entry's data and padding, passed on as they are
    long? _paxSize;    // the size an extended header gave the entry after it
    bool _passThrough; // after the end-of-archive blocks, or a truncation (TarReader then tells what is wrong)

    /// <summary>An XattrKey record's value: the attribute's name and value, or null if malformed.</summary>
    internal static (string Name, byte[] Value)? DecodeXattr(string record)
    {
        int space = record.IndexOf(' ');
        try
        {
            return space < 0 ? null : (Encoding.UTF8.GetString(Convert.FromBase64String(record[..space])), Convert.FromBase64String(record[(space + 1)..]));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
            return 0;
        if (_headerPos == _headerEnd && _dataLeft == 0 && !_passThrough)
            NextHeader();
        if (_headerPos < _headerEnd)
        {
            int n = Math.Min(buffer.Length, _headerEnd - _headerPos);
            _header.AsSpan(_headerPos, n).CopyTo(buffer);
            _headerPos += n;
            return n;
        }
        if (_passThrough)
            return ReadSource(buffer);
        int read = ReadSource(buffer[..(int)Math.Min(buffer.Length, _dataLeft)]);
        if (read == 0)
            _passThrough = true; // truncated inside an entry's data: TarReader reports it
        _dataLeft -= read;
        return read;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void NextHeader()
    {
        _headerPos = 0;
        _headerEnd = ReadFully(_header.AsSpan(0, Block));
        if (_headerEnd < Block || TarBlocks.IsEnd(_header))
        {
            _passThrough = true;
            return;
        }
        // TarReader (in .NET 10) does not check checksums: a damaged header would be taken at its word.
        if (!TarBlocks.ChecksumMatches(_header))
            throw new InvalidDataException("A header's checksum does not match the header.");
        if (!TarBlocks.TryParseSize(_header, out long size))
            throw new InvalidDataException("A header's size is not a number.");
        byte type = TarBlocks.Type(_header);
        if (type is (byte)'x' or (byte)'g')
        {
            ExtendedHeader(size, local: type == 'x');
            return;
        }
        // As TarReader has it: links, devices, directories and fifos have no data; an extended header's size overrides the header's.
        long data = type is >= (byte)'1' and <= (byte)'6' ? 0 : _paxSize ?? size;
        _paxSize = null;
        _dataLeft = TarBlocks.Padded(data);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void ExtendedHeader(long size, bool local)
    {
        if (size > MaxHeaderData)
            throw new InvalidDataException($"An extended header of {size} bytes is larger than any a layer needs.");
        int padded = (int)TarBlocks.Padded(size);
        if (_header.Length < Block + padded)
            Array.Resize(ref _header, Block + padded);
        int got = ReadFully(_header.AsSpan(Block, padded));
        _headerEnd = Block + got;
        if (got < padded)
        {
            _passThrough = true; // truncated: TarReader reports it
            return;
        }

        // Most extended headers hold no attributes (a long name, a precise mtime) and pass as they are.
        ReadOnlySpan<byte> records = _header.AsSpan(Block, (int)size);
        bool attributes = false;
        long? paxSize = null;
        while (TarBlocks.TryNextRecord(ref records, out var key, out var value))
        {
            attributes |= key.StartsWith("SCHILY.xattr."u8) || key.StartsWith("LIBARCHIVE.xattr."u8) || key.StartsWith("UNICORN.xattr."u8);
            if (key.SequenceEqual("size"u8) && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long s))
                paxSize = s;
        }
        // Refused here, not left to TarReader, which parses records differently and might see one we did not.
        if (!records.IsEmpty)
            throw new InvalidDataException("An extended header's records are malformed.");
        if (local)
            _paxSize = paxSize;
        if (!attributes)
            return;

        var body = new MemoryStream();
        foreach (var (key, value) in Rewrite(TarBlocks.ParseRecords(_header.AsSpan(Block, (int)size))!))
            TarBlocks.AppendRecord(body, key, value);
        int length = (int)body.Length, total = Block + (int)TarBlocks.Padded(length);
        if (_header.Length < total)
            Array.Resize(ref _header, total);
        TarBlocks.SetSizeAndChecksum(_header, length);
        body.GetBuffer().AsSpan(0, length).CopyTo(_header.AsSpan(Block));
        _header.AsSpan(Block + length, total - Block - length).Clear();
        _headerEnd = total;
    }

    /// <summary>The records as TarReader can take them: attributes re-encoded (SCHILY's raw
    /// value over LIBARCHIVE's copy), and a repeated key given once, its last value (which is
    /// what PAX means; TarReader would refuse the repetition).</summary>
    static List<(string Key, byte[] Value)> Rewrite(List<(string Key, byte[] Value)> records)
    {
        var kept = new List<(string Key, byte[] Value)>();
        var keptAt = new Dictionary<string, int>();
        var xattrs = new List<(string Name, byte[] Value, bool Raw)>();
        var xattrAt = new Dictionary<string, int>();
        foreach (var (key, value) in records)
        {
            if (key.StartsWith(SchilyKey, StringComparison.Ordinal))
                Put(key[SchilyKey.Length..], value, raw: true);
            else if (key.StartsWith(LibarchiveKey, StringComparison.Ordinal))
            {
                // libarchive's copy: the name URL-encoded, the value in base64 (possibly unpadded).
                var text = Encoding.ASCII.GetString(value);
                var padded = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
                var bytes = new byte[padded.Length];
                if (Convert.TryFromBase64String(padded, bytes, out int n))
                    Put(Uri.UnescapeDataString(key[LibarchiveKey.Length..]), bytes[..n], raw: false);
            }
            else if (!key.StartsWith(XattrKey, StringComparison.Ordinal)) // ours only: an archive cannot slip one in
            {
                if (keptAt.TryGetValue(key, out int at))
                    kept[at] = (key, value);
                else
                {
                    keptAt[key] = kept.Count;
                    kept.Add((key, value));
                }
            }
        }
        for (int i = 0; i < xattrs.Count; i++)
            kept.Add((XattrKey + i.ToString(CultureInfo.InvariantCulture),
                Encoding.ASCII.GetBytes(Convert.ToBase64String(Encoding.UTF8.GetBytes(xattrs[i].Name)) + " " + Convert.ToBase64String(xattrs[i].Value))));
        return kept;

        void Put(string name, byte[] value, bool raw)
        {
            if (!xattrAt.TryGetValue(name, out int at))
            {
                xattrAt[name] = xattrs.Count;
                xattrs.Add((name, value, raw));
            }
            else if (raw || !xattrs[at].Raw)
                xattrs[at] = (name, value, raw);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    int ReadFully(Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = ReadSource(buffer[total..]);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    /// <summary>From the read-ahead, or straight from the source for a large read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    int ReadSource(Span<byte> buffer)
    {
        if (_aheadPos == _aheadEnd)
        {
            if (buffer.Length >= _ahead.Length / 4)
                return source.Read(buffer);
            _aheadPos = 0;
            _aheadEnd = source.Read(_ahead);
        }
        int n = Math.Min(buffer.Length, _aheadEnd - _aheadPos);
        _ahead.AsSpan(_aheadPos, n).CopyTo(buffer);
        _aheadPos += n;
        return n;
    }

}
