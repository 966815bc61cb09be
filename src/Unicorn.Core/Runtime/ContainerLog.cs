using System.Globalization;
using System.Text;

namespace Unicorn;

/// <summary>One line a container wrote, as its supervisor logged it.</summary>
public sealed record LogEntry(string ContainerId, DateTime Time, string Stream, string Text)
{
    /// <summary>The text: a log entry used as a string (Write-Warning, Out-File) is its line.</summary>
    public override string ToString() => Text;
}

/// <summary>Reads a container's log: "&lt;time&gt; &lt;stdout|stderr&gt; &lt;F|P&gt; &lt;text&gt;" per
/// record (src/launcher/relay.c), P records joined with the rest of their line.</summary>
public sealed class ContainerLog(string containerId, string path)
{
    /// <summary>The entries there are now: of one stream or both, since a time, the last tail of them.</summary>
    public IEnumerable<LogEntry> Read(int? tail = null, DateTime? since = null, string? stream = null)
    {
        using var reader = Open();
        if (reader is null)
            return [];
        var entries = Select(ReadAvailable(reader, new Dictionary<string, StringBuilder>()), since, stream);
        return tail is int n ? entries.TakeLast(n).ToList() : entries.ToList();
    }

    static IEnumerable<LogEntry> Select(IEnumerable<LogEntry> entries, DateTime? since, string? stream) =>
        entries.Where(e => (since is null || e.Time >= since) && (stream is null || e.Stream == stream));

    /// <summary>The entries from now on (after the last tail, since a time), as they are written,
    /// until isDone says the writer has finished and all is read, or cancel.</summary>
    public IEnumerable<LogEntry> Follow(Func<bool> isDone, int? tail, DateTime? since, string? stream, CancellationToken cancel)
    {
        StreamReader? reader = null;
        try
        {
            while ((reader = Open()) is null)
            {
                if (isDone() || cancel.IsCancellationRequested)
                    yield break;
                Thread.Sleep(50);
            }
            var partial = new Dictionary<string, StringBuilder>();
            var first = Select(ReadAvailable(reader, partial), since, stream);
            foreach (var e in tail is int n ? first.TakeLast(n).ToList() : first)
                yield return e;
            while (!cancel.IsCancellationRequested)
            {
                bool done = isDone(); // asked before reading, so nothing written before the end is missed
                bool any = false;
                foreach (var e in Select(ReadAvailable(reader, partial), since, stream))
                {
                    any = true;
                    yield return e;
                }
                if (done)
                    yield break;
                if (!any)
                    cancel.WaitHandle.WaitOne(100);
            }
        }
        finally
        {
            reader?.Dispose();
        }
    }

    StreamReader? Open()
    {
        try { return new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), Encoding.UTF8); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }

    // Whole records only: a line still being written (no newline yet) is left for the next read.
    IEnumerable<LogEntry> ReadAvailable(StreamReader reader, Dictionary<string, StringBuilder> partial)
    {
        var pending = new StringBuilder();
        int ch;
        while ((ch = reader.Read()) >= 0)
        {
            if (ch != '\n')
            {
                pending.Append((char)ch);
                continue;
            }
            if (Parse(pending.ToString(), partial) is { } entry)
                yield return entry;
            pending.Clear();
        }
        if (pending.Length > 0) // put back the unfinished record
            reader.BaseStream.Seek(-Encoding.UTF8.GetByteCount(pending.ToString()), SeekOrigin.Current);
        reader.DiscardBufferedData();
    }

    LogEntry? Parse(string record, Dictionary<string, StringBuilder> partial)
    {
        var f = record.Split(' ', 4);
        if (f.Length < 3 || !DateTime.TryParse(f[0], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
            return null;
        var text = f.Length == 4 ? f[3] : "";
        if (f[2] == "P")
        {
            (partial.TryGetValue(f[1], out var sb) ? sb : partial[f[1]] = new StringBuilder()).Append(text);
            return null;
        }
        if (partial.Remove(f[1], out var head))
            text = head.Append(text).ToString();
        return new LogEntry(containerId, time, f[1], text);
    }
}

public sealed partial class ContainerEngine
{
    public ContainerLog Log(Container c) => new(c.Id, Paths.LogFile(c.Id));
}
