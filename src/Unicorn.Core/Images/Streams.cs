using System.IO.Compression;
using System.Security.Cryptography;

namespace Unicorn.Images;

/// <summary>A stream that is read from start to end, and nothing else: what the wrappers of
/// this folder share.</summary>
public abstract class ReadOnlyStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A read-through stream that hashes what passes (sha256), so that a blob is verified
/// while it is extracted, in one pass. The hashing runs on a thread of its own, beside the
/// extraction: on a layer it costs about as much as writing the files.</summary>
public sealed class DigestStream : ReadOnlyStream
{
    const int Chunk = 1 << 16;
    readonly Stream inner;
    readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    readonly System.Threading.Channels.Channel<(byte[] Buffer, int Length)> _pending =
        System.Threading.Channels.Channel.CreateBounded<(byte[], int)>(64);
    readonly Task _hasher;

    public DigestStream(Stream inner)
    {
        this.inner = inner;
        _hasher = Task.Run(async () =>
        {
            await foreach (var (buffer, length) in _pending.Reader.ReadAllAsync())
            {
                _hash.AppendData(buffer, 0, length);
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        });
    }

    public long BytesRead { get; private set; }

    /// <summary>Told the bytes read so far, each time another MiB has passed (the reader's own
    /// thread): progress during a layer, not only after it.</summary>
    public Action<long>? Progress { get; init; }

    /// <summary>"sha256:hex" of everything read so far (call once, at the end).</summary>
    public string Digest()
    {
        _pending.Writer.TryComplete();
        _hasher.GetAwaiter().GetResult();
        return "sha256:" + Convert.ToHexStringLower(_hash.GetHashAndReset());
    }

    /// <summary>Reads what is left, so that the digest covers the whole blob.</summary>
    public void Drain()
    {
        var buf = new byte[Chunk];
        while (Read(buf, 0, buf.Length) > 0) { }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        for (int at = 0; at < n; at += Chunk)
        {
            int length = Math.Min(Chunk, n - at);
            var copy = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
            buffer.Slice(at, length).CopyTo(copy);
            while (!_pending.Writer.TryWrite((copy, length)))
                _pending.Writer.WaitToWriteAsync().AsTask().GetAwaiter().GetResult();
        }
        if (Progress is not null && (BytesRead + n) >> 20 != BytesRead >> 20)
            Progress(BytesRead + n);
        BytesRead += n;
        return n;
    }

    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _pending.Writer.TryComplete();
            try { _hasher.GetAwaiter().GetResult(); } catch (ObjectDisposedException) { }
            _hash.Dispose();
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}

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
