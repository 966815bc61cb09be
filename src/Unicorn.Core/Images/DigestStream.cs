using System.Security.Cryptography;

namespace Unicorn.Images;

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
