using System.IO.Compression;

namespace Unicorn.Images;

/// <summary>Compression told by its magic bytes, not by a file name or media type.</summary>
public static class Compression
{
    /// <summary>A stream of s decompressed (gzip, zstd) or as it is.</summary>
    public static Stream Open(Stream s) => Open(s, out _);

    public static Stream Open(Stream s, out bool compressed)
    {
        var head = new byte[4];
        int n = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        compressed = n >= 2 && head[0] == 0x1f && head[1] == 0x8b || n == 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd;
        if (!compressed && s.CanSeek)
        {
            // Seekable and plain: the stream itself, so that a tar reader skips what it does not read.
            s.Seek(-n, SeekOrigin.Current);
            return s;
        }
        var whole = new PrefixedStream(head.AsMemory(0, n), s);
        if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
            return new GZipStream(whole, CompressionMode.Decompress);
        if (n == 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
            return new ZstdSharp.DecompressionStream(whole);
        return whole;
    }

    /// <summary>The bytes already read, then the rest of the stream.</summary>
    sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest) : ReadOnlyStream
    {
        ReadOnlyMemory<byte> _prefix = prefix;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_prefix.IsEmpty)
                return rest.Read(buffer);
            int n = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..n].CopyTo(buffer);
            _prefix = _prefix[n..];
            return n;
        }


        protected override void Dispose(bool disposing)
        {
            if (disposing)
                rest.Dispose();
            base.Dispose(disposing);
        }
    }
}
