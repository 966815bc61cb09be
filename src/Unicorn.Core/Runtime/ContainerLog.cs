using System.Globalization;
using System.Text;
using Unicorn.Native;

namespace Unicorn.Runtime;

/// <summary>Reads a container's log: "&lt;time&gt; &lt;stdout|stderr&gt; &lt;F|P&gt; &lt;text&gt;" per
/// record (src/launcher/relay.c), P records joined with the rest of their line. The supervisor
/// rotates it (container.log, then container.log.1, .2, ...: the higher, the older), and marks
/// lines it could not write with a record of the stream "unicorn". Records are in time order, so
/// -Tail reads backwards from the end, and -Since finds its place by binary search.</summary>
public sealed class ContainerLog(string containerId, string path)
{
    internal const int Block = 64 * 1024;
    /// <summary>The supervisor's own records (lines lost) are shown whatever the stream asked for.</summary>
    public const string UnicornStream = "unicorn";

    /// <summary>The entries there are now: of one stream or both, since a time, the last tail of them.</summary>
    public IEnumerable<LogEntry> Read(int? tail = null, DateTime? since = null, string? stream = null)
    {
        var files = OpenAll();
        try
        {
            if (files.Count == 0)
                return [];
            return Initial(files, tail, since, stream, new Joiner(containerId), out _).ToList();
        }
        finally
        {
            foreach (var f in files)
                f.Dispose();
        }
    }

    /// <summary>The entries from now on (after the last tail, since a time), as they are written,
    /// until isDone says the writer has finished and all is read, or cancel. A rotation
    /// (container.log renamed to container.log.1 and a new one made) is followed: what was
    /// left of the old file is read, then the new one.</summary>
    public IEnumerable<LogEntry> Follow(Func<bool> isDone, int? tail, DateTime? since, string? stream, CancellationToken cancel)
    {
        List<FileStream> files;
        while ((files = OpenAll()).Count == 0 || !IsCurrent(files[^1]))
        {
            foreach (var f in files)
                f.Dispose();
            if (isDone() || cancel.IsCancellationRequested)
                yield break;
            Thread.Sleep(50);
        }
        var current = files[^1];
        try
        {
            var joiner = new Joiner(containerId);
            var initial = Initial(files, tail, since, stream, joiner, out long start);
            long position = start;
            foreach (var e in initial)
                yield return e;
            foreach (var f in files.Take(files.Count - 1))
                f.Dispose();
            var reader = new ForwardReader(current, position);
            while (!cancel.IsCancellationRequested)
            {
                bool done = isDone(); // asked before reading, so nothing written before the end is missed
                bool any = false;
                foreach (var e in Entries(reader.ReadAvailable(), joiner, since, stream))
                {
                    any = true;
                    yield return e;
                }
                if (!any && Replaced(current))
                {
                    // Rotated: the old file gets nothing more (the supervisor wrote its buffer first).
                    var (newer, next) = Newer(current);
                    if (next is null)
                    {
                        cancel.WaitHandle.WaitOne(20);
                        continue;
                    }
                    foreach (var e in Entries(reader.ReadAvailable(), joiner, since, stream))
                        yield return e;
                    foreach (var f in newer)
                        using (f)
                            foreach (var e in Entries(new ForwardReader(f, 0).ReadAvailable(), joiner, since, stream))
                                yield return e;
                    current.Dispose();
                    current = next;
                    reader = new ForwardReader(current, 0);
                    continue;
                }
                if (done)
                    yield break;
                if (!any)
                    cancel.WaitHandle.WaitOne(100);
            }
        }
        finally
        {
            current.Dispose();
        }
    }

    // What is there now, and the offset in the newest file where it ends (to follow on from).
    IEnumerable<LogEntry> Initial(List<FileStream> files, int? tail, DateTime? since, string? stream, Joiner joiner, out long position)
    {
        var current = files[^1];
        if (tail is int n)
        {
            long whole = position = WholeLength(current);
            var newestFirst = files.AsEnumerable().Reverse().Select((f, i) => ReadBackward(f, i == 0 ? whole : f.Length)).SelectMany(r => r);
            var records = TakeTail(newestFirst, n, since, s => Wanted(s, stream));
            return Entries(records, joiner, since, stream).ToList();
        }
        var entries = new List<LogEntry>();
        int first = 0;
        long from = 0;
        if (since is DateTime t)
        {
            // The oldest file whose last record is at or after since; in it, the place by time.
            while (first < files.Count - 1 && ReadBackward(files[first], files[first].Length).Select(r => (LogRecord?)r).FirstOrDefault() is { } last && last.Time < t)
                first++;
            from = FindOffset(files[first], files[first].Length, t);
        }
        position = 0;
        for (int i = first; i < files.Count; i++)
        {
            var reader = new ForwardReader(files[i], i == first ? from : 0);
            entries.AddRange(Entries(reader.ReadAvailable(), joiner, since, stream));
            position = reader.Position;
        }
        return entries;
    }

    static bool Wanted(string recordStream, string? stream) => stream is null || recordStream == stream || recordStream == UnicornStream;

    static IEnumerable<LogEntry> Entries(IEnumerable<LogRecord> records, Joiner joiner, DateTime? since, string? stream)
    {
        foreach (var r in records)
            if (Wanted(r.Stream, stream) && joiner.Add(r) is { } e && (since is null || e.Time >= since))
                yield return e;
    }

    /// <summary>The files of the log, oldest first: container.log.N, ..., container.log.1,
    /// container.log (those there are).</summary>
    public IReadOnlyList<string> Files()
    {
        var dir = Path.GetDirectoryName(path)!;
        var name = Path.GetFileName(path);
        var rotated = new List<(int Index, string Path)>();
        try
        {
            foreach (var f in Directory.EnumerateFiles(dir, name + ".*")) // (which matches name too)
                if (Path.GetFileName(f).Length > name.Length + 1 && int.TryParse(Path.GetFileName(f).AsSpan(name.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int i) && i > 0)
                    rotated.Add((i, f));
        }
        catch (DirectoryNotFoundException) { }
        var files = rotated.OrderByDescending(r => r.Index).Select(r => r.Path).ToList();
        if (File.Exists(path))
            files.Add(path);
        return files;
    }

    // Every file opened at once (oldest first), so that a rotation meanwhile moves names, not contents.
    List<FileStream> OpenAll()
    {
        var opened = new List<FileStream>();
        foreach (var f in Files())
            if (Open(f) is { } s)
                opened.Add(s);
        return opened;
    }

    static FileStream? Open(string file)
    {
        try { return new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }

    static ulong Inode(FileStream f) => Libc.Fstat((int)f.SafeFileHandle.DangerousGetHandle(), f.Name).Inode;

    bool IsCurrent(FileStream f) => Libc.TryLStat(path, out var st) && st.Inode == Inode(f);

    // container.log is another file now (the supervisor rotated it).
    bool Replaced(FileStream f) => Libc.TryLStat(path, out var st) && st.Inode != Inode(f);

    // The files written after f (the rotated ones newer than it, oldest first), and the current one.
    (List<FileStream> Newer, FileStream? Current) Newer(FileStream f)
    {
        ulong inode = Inode(f);
        var all = OpenAll();
        int at = all.FindIndex(s => Inode(s) == inode); // gone (rotated out): every file is newer
        var newer = all.Skip(at + 1).ToList();
        if (at >= 0)
            all[at].Dispose();
        foreach (var s in all.Take(Math.Max(at, 0)))
            s.Dispose();
        if (newer.Count == 0 || !IsCurrent(newer[^1]))
        {
            foreach (var s in newer) // in the middle of a rotation: look again later
                s.Dispose();
            return ([], null);
        }
        var current = newer[^1];
        newer.RemoveAt(newer.Count - 1);
        return (newer, current);
    }

    // The length up to the end of the last whole record (a writer may be in the middle of one).
    static long WholeLength(Stream s)
    {
        long end = s.Length;
        var chunk = new byte[(int)Math.Min(Math.Max(end, 1), Block)];
        while (end > 0)
        {
            int n = (int)Math.Min(chunk.Length, end);
            s.Position = end - n;
            s.ReadExactly(chunk, 0, n);
            int i = chunk.AsSpan(0, n).LastIndexOf((byte)'\n');
            if (i >= 0)
                return end - n + i + 1;
            end -= n;
        }
        return 0;
    }

    /// <summary>The whole records of s before end, newest first, read in blocks from the end
    /// (an unfinished record at the end is left out).</summary>
    internal static IEnumerable<LogRecord> ReadBackward(Stream s, long end)
    {
        var buf = new byte[Math.Min(Block, Math.Max(end, 1))];
        long bufStart = end; // the file offset of buf[0]
        int len = 0;         // buf[0..len) holds the file's bytes [bufStart, bufStart + len)
        bool first = true;
        while (true)
        {
            int nl = buf.AsSpan(0, len).LastIndexOf((byte)'\n');
            // Every record ends with '\n': the bytes after the last one are the unfinished record (first
            // time) or a record whose start is in an earlier block.
            int hi = nl; // the '\n' that ends the record being looked for
            if (hi >= 0)
            {
                if (first && hi != len - 1)
                    len = hi + 1; // drop the unfinished tail
                first = false;
                int start = buf.AsSpan(0, hi).LastIndexOf((byte)'\n') + 1;
                if (start > 0 || bufStart == 0)
                {
                    if (Parse(buf.AsSpan(start, hi - start)) is { } r)
                        yield return r;
                    len = start;
                    if (len == 0 && bufStart == 0)
                        yield break;
                    continue;
                }
            }
            else if (bufStart == 0)
                yield break; // nothing whole before: a record without its '\n'
            // Read the block before, in front of what there is.
            int n = (int)Math.Min(Block, bufStart);
            if (len + n > buf.Length)
                Array.Resize(ref buf, Math.Max(buf.Length * 2, len + n));
            Buffer.BlockCopy(buf, 0, buf, n, len);
            s.Position = bufStart - n;
            s.ReadExactly(buf, 0, n);
            bufStart -= n;
            len += n;
        }
    }

    /// <summary>The offset to read from for the records at or after since: found by binary search
    /// over the file (records are in time order), then moved back a block, so that the parts of a
    /// long line before it are read too; always the start of a record.</summary>
    internal static long FindOffset(Stream s, long length, DateTime since)
    {
        long lo = 0, hi = length;
        while (hi - lo > Block)
        {
            long mid = lo + (hi - lo) / 2;
            var (start, time) = RecordAfter(s, mid, length);
            if (time is null || start >= hi || time >= since)
                hi = mid;
            else
                lo = start;
        }
        return lo < Block ? 0 : RecordAfter(s, lo - Block, length).Start;
    }

    // The first record that starts at or after offset, and its time (null if none is whole there).
    static (long Start, DateTime? Time) RecordAfter(Stream s, long offset, long length)
    {
        if (offset <= 0)
        {
            var head = new byte[(int)Math.Min(4 * Block, length)];
            s.Position = 0;
            int got = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            int first = head.AsSpan(0, got).IndexOf((byte)'\n');
            return (0, first >= 0 && Parse(head.AsSpan(0, first)) is { } r0 ? r0.Time : null);
        }
        var buf = new byte[Math.Min(4 * Block, length - offset + 1)];
        s.Position = offset - 1;
        int n = s.ReadAtLeast(buf, buf.Length, throwOnEndOfStream: false);
        var span = buf.AsSpan(0, n);
        int nl = span.IndexOf((byte)'\n');
        if (nl < 0)
            return (length, null);
        var rest = span[(nl + 1)..];
        int end = rest.IndexOf((byte)'\n');
        return (offset + nl, end >= 0 && Parse(rest[..end]) is { } r ? r.Time : null);
    }

    /// <summary>Of records newest first: those of the last n lines (of the streams wanted, at or
    /// after since), oldest first, with every part of each line. A line's P parts come before
    /// its F record, so a stream stays open, past n lines, until an older F record of its own.</summary>
    internal static List<LogRecord> TakeTail(IEnumerable<LogRecord> newestFirst, int n, DateTime? since, Func<string, bool> wanted)
    {
        var taken = new List<LogRecord>();
        var open = new HashSet<string>();
        int lines = 0;
        foreach (var r in newestFirst)
        {
            if (!wanted(r.Stream))
                continue;
            bool full = lines >= n || (since is not null && r.Time < since);
            if (full && open.Count == 0)
                break;
            if (!r.Partial)
            {
                if (full)
                {
                    open.Remove(r.Stream);
                    if (open.Count == 0)
                        break;
                    continue;
                }
                lines++;
            }
            else if (full && !open.Contains(r.Stream))
                continue;
            taken.Add(r);
            open.Add(r.Stream);
        }
        taken.Reverse();
        return taken;
    }

    /// <summary>One record, or null if it is not one (a line torn by a crash, say).</summary>
    internal static LogRecord? Parse(ReadOnlySpan<byte> record)
    {
        int s1 = record.IndexOf((byte)' ');
        if (s1 < 0)
            return null;
        int s2 = record[(s1 + 1)..].IndexOf((byte)' ');
        if (s2 < 0)
            return null;
        s2 += s1 + 1;
        var kindAndText = record[(s2 + 1)..];
        if (kindAndText.Length < 1 || (kindAndText.Length > 1 && kindAndText[1] != ' ') || kindAndText[0] is not ((byte)'F' or (byte)'P'))
            return null;
        if (!TryParseTime(record[..s1], out var time))
            return null;
        var stream = record[(s1 + 1)..s2] switch
        {
            var x when x.SequenceEqual("stdout"u8) => "stdout",
            var x when x.SequenceEqual("stderr"u8) => "stderr",
            var x when x.SequenceEqual("unicorn"u8) => UnicornStream,
            var x => Encoding.UTF8.GetString(x),
        };
        var text = kindAndText.Length > 2 ? Encoding.UTF8.GetString(kindAndText[2..]) : "";
        return new LogRecord(time, stream, kindAndText[0] == 'P', text);
    }

    /// <summary>2026-11-29T15:40:46.123456789Z, as the supervisor writes it; any other RFC 3339
    /// time the slow way.</summary>
    internal static bool TryParseTime(ReadOnlySpan<byte> t, out DateTime time)
    {
        if (t.Length == 30 && t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':' && t[19] == '.' && t[29] == 'Z')
        {
            static int Digits(ReadOnlySpan<byte> d)
            {
                int v = 0;
                foreach (var b in d)
                {
                    if ((uint)(b - '0') > 9)
                        return -1;
                    v = v * 10 + (b - '0');
                }
                return v;
            }
            int y = Digits(t[..4]), mo = Digits(t[5..7]), d = Digits(t[8..10]), h = Digits(t[11..13]), mi = Digits(t[14..16]), s = Digits(t[17..19]), ns = Digits(t[20..29]);
            if (y >= 1 && mo is >= 1 and <= 12 && d >= 1 && d <= DateTime.DaysInMonth(y, mo) && h is >= 0 and < 24 && mi is >= 0 and < 60 && s is >= 0 and < 60 && ns >= 0)
            {
                time = new DateTime(y, mo, d, h, mi, s, DateTimeKind.Utc).AddTicks(ns / 100);
                return true;
            }
        }
        return DateTime.TryParse(Encoding.UTF8.GetString(t), CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out time);
    }

    /// <summary>Joins the P parts of a line with its F record.</summary>
    internal sealed class Joiner(string containerId)
    {
        readonly Dictionary<string, StringBuilder> _partial = [];

        public LogEntry? Add(LogRecord r)
        {
            if (r.Partial)
            {
                (_partial.TryGetValue(r.Stream, out var sb) ? sb : _partial[r.Stream] = new StringBuilder()).Append(r.Text);
                return null;
            }
            var text = _partial.Remove(r.Stream, out var head) ? head.Append(r.Text).ToString() : r.Text;
            return new LogEntry(containerId, r.Time, r.Stream, text);
        }
    }

    /// <summary>Whole records from an offset on, in blocks; Position is the end of the last one read.</summary>
    internal sealed class ForwardReader(Stream s, long position)
    {
        byte[] _buf = new byte[Block];
        public long Position { get; private set; } = position;

        public IEnumerable<LogRecord> ReadAvailable()
        {
            int len = 0; // _buf[0..len) is the file's [Position, Position + len)
            while (true)
            {
                if (len == _buf.Length)
                    Array.Resize(ref _buf, _buf.Length * 2); // a record longer than the buffer
                s.Position = Position + len;
                int n = s.Read(_buf, len, _buf.Length - len);
                if (n <= 0)
                    yield break; // an unfinished record stays for the next read
                len += n;
                int start = 0, nl;
                while ((nl = _buf.AsSpan(start, len - start).IndexOf((byte)'\n')) >= 0)
                {
                    var r = Parse(_buf.AsSpan(start, nl));
                    start += nl + 1;
                    if (r is { } record)
                        yield return record;
                }
                Position += start;
                len -= start;
                Buffer.BlockCopy(_buf, start, _buf, 0, len);
            }
        }
    }
}
