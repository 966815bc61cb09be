using System.Text;
using Unicorn.Runtime;

namespace Unicorn.Tests;

/// <summary>The log reader's pure parts: parsing, reading backwards, the binary search by time,
/// the tail with its P parts, the forward reader that leaves an unfinished record.</summary>
public class ContainerLogTests
{
    static readonly DateTime T0 = new(2026, 11, 29, 15, 40, 46, DateTimeKind.Utc);

    static string Time(DateTime t) => t.ToString("yyyy-MM-ddTHH:mm:ss.fffffff", System.Globalization.CultureInfo.InvariantCulture) + "00Z";

    static string Record(DateTime t, string stream, char kind, string text) => $"{Time(t)} {stream} {kind} {text}\n";

    static MemoryStream Log(string text) => new(Encoding.UTF8.GetBytes(text));

    // n records, one a millisecond, alternating stdout and stderr, "line i" padded to width.
    static (MemoryStream Log, List<(DateTime Time, long Offset)> Records) Numbered(int n, int width = 60)
    {
        var sb = new StringBuilder();
        var records = new List<(DateTime, long)>();
        long offset = 0;
        for (int i = 0; i < n; i++)
        {
            var t = T0.AddMilliseconds(i);
            records.Add((t, offset));
            var record = Record(t, i % 2 == 0 ? "stdout" : "stderr", 'F', $"line {i}".PadRight(width, 'x'));
            sb.Append(record);
            offset += Encoding.UTF8.GetByteCount(record);
        }
        return (Log(sb.ToString()), records);
    }

    [Fact]
    public void ParsesRecords()
    {
        var r = ContainerLog.Parse(Encoding.UTF8.GetBytes("2026-11-29T15:40:46.123456789Z stderr P a b  c"));
        Assert.Equal(new LogRecord(T0.AddTicks(1234567), "stderr", true, "a b  c"), r);
        Assert.Equal("", ContainerLog.Parse("2026-11-29T15:40:46.000000000Z stdout F "u8)!.Value.Text);
        Assert.Equal("", ContainerLog.Parse("2026-11-29T15:40:46.000000000Z stdout F"u8)!.Value.Text);
        Assert.Equal(ContainerLog.UnicornStream, ContainerLog.Parse("2026-11-29T15:40:46.000000000Z unicorn F 3 lines lost"u8)!.Value.Stream);
        // Another RFC 3339 form (fewer digits) the slow way.
        Assert.Equal(T0.AddTicks(1230000), ContainerLog.Parse("2026-11-29T15:40:46.123Z stdout F x"u8)!.Value.Time);
        Assert.Null(ContainerLog.Parse("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"u8));
        Assert.Null(ContainerLog.Parse("2026-11-29T15:40:46.000000000Z stdout X text"u8));
        Assert.Null(ContainerLog.Parse("2026-11-29T15:40:46.0000000"u8)); // torn
        Assert.Null(ContainerLog.Parse("2026-13-29T15:40:46.000000000Z stdout F x"u8));
    }

    [Fact]
    public void ReadsBackwardsNewestFirstWithoutTheUnfinishedRecord()
    {
        var text = Record(T0, "stdout", 'F', "one") + Record(T0, "stdout", 'F', "two") + "2026-11-29T15:40:46.000000000Z stdout F thr";
        var back = ContainerLog.ReadBackward(Log(text), Encoding.UTF8.GetByteCount(text)).Select(r => r.Text).ToList();
        Assert.Equal(["two", "one"], back);
        Assert.Empty(ContainerLog.ReadBackward(Log(""), 0));
        Assert.Empty(ContainerLog.ReadBackward(Log("no newline at all"), 17));
    }

    [Fact]
    public void ReadsBackwardsAcrossBlocksAndRecordsLongerThanABlock()
    {
        var longText = new string('y', 3 * ContainerLog.Block + 17);
        var (log, records) = Numbered(5000);
        var text = Encoding.UTF8.GetString(log.ToArray()) + Record(T0.AddSeconds(10), "stdout", 'F', longText) + Record(T0.AddSeconds(11), "stderr", 'F', "end");
        var s = Log(text);
        var back = ContainerLog.ReadBackward(s, s.Length).ToList();
        Assert.Equal(5002, back.Count);
        Assert.Equal("end", back[0].Text);
        Assert.Equal(longText, back[1].Text);
        Assert.StartsWith("line 4999", back[2].Text);
        Assert.StartsWith("line 0x", back[^1].Text);
    }

    [Fact]
    public void FindsTheOffsetOfATimeByBinarySearch()
    {
        var (log, records) = Numbered(20000); // about 2 MB
        foreach (int i in new[] { 0, 1, 999, 10000, 19999 })
        {
            long offset = ContainerLog.FindOffset(log, log.Length, records[i].Time);
            Assert.Contains(records, r => r.Offset == offset); // a record's start
            Assert.True(offset <= records[i].Offset, $"{offset} is past record {i} at {records[i].Offset}");
            Assert.True(records[i].Offset - offset <= 3 * ContainerLog.Block, $"{offset} is far before record {i} at {records[i].Offset}");
        }
        Assert.True(ContainerLog.FindOffset(log, log.Length, T0.AddDays(1)) >= log.Length - 3 * ContainerLog.Block);
        Assert.Equal(0, ContainerLog.FindOffset(log, log.Length, T0.AddDays(-1)));
        Assert.Equal(0, ContainerLog.FindOffset(Log(""), 0, T0));
    }

    [Fact]
    public void TakesTheLastLinesWithEveryPartOfThem()
    {
        // Forward: out "a"+"b" (P then F) around err "e1"; then err "e2", out "c".
        LogRecord R(int ms, string stream, bool partial, string text) => new(T0.AddMilliseconds(ms), stream, partial, text);
        var forward = new[] { R(0, "stdout", true, "a"), R(1, "stderr", false, "e1"), R(2, "stdout", false, "b"), R(3, "stderr", false, "e2"), R(4, "stdout", false, "c") };
        List<string> Tail(int n, DateTime? since = null, string? stream = null)
        {
            var taken = ContainerLog.TakeTail(forward.Reverse(), n, since, s => stream is null || s == stream);
            var joiner = new ContainerLog.Joiner("id");
            return taken.Select(joiner.Add).OfType<LogEntry>().Select(e => e.Text).ToList();
        }
        Assert.Equal(["c"], Tail(1));
        Assert.Equal(["ab", "e2", "c"], Tail(3));
        Assert.Equal(["e1", "ab", "e2", "c"], Tail(10));
        Assert.Equal(["ab", "c"], Tail(2, stream: "stdout"));
        Assert.Empty(Tail(0));
        // The line "ab" is of the time of its F record (2 ms), though its first part is older.
        Assert.Equal(["ab", "e2", "c"], Tail(10, since: T0.AddMilliseconds(2)));
    }

    [Fact]
    public void ReadsForwardOnlyWholeRecordsAndGoesOnWhereItStopped()
    {
        var s = new MemoryStream();
        var first = Encoding.UTF8.GetBytes(Record(T0, "stdout", 'F', "one") + "2026-11-29T15:40:46.000000000Z std");
        s.Write(first);
        var reader = new ContainerLog.ForwardReader(s, 0);
        Assert.Equal(["one"], reader.ReadAvailable().Select(r => r.Text));
        long whole = Encoding.UTF8.GetByteCount(Record(T0, "stdout", 'F', "one"));
        Assert.Equal(whole, reader.Position);
        s.Seek(0, SeekOrigin.End);
        s.Write("out F two\n"u8);
        s.Write(Encoding.UTF8.GetBytes(Record(T0, "stderr", 'F', new string('z', 2 * ContainerLog.Block))));
        Assert.Equal(["two", new string('z', 2 * ContainerLog.Block)], reader.ReadAvailable().Select(r => r.Text));
        Assert.Equal(s.Length, reader.Position);
        Assert.Empty(reader.ReadAvailable());
    }

    [Fact]
    public void ReadsRotatedFilesOldestFirstAndTailsAcrossThem()
    {
        var dir = Directory.CreateTempSubdirectory("unicorn-logtest-");
        try
        {
            var path = Path.Combine(dir.FullName, "container.log");
            int n = 0;
            foreach (var name in new[] { "container.log.2", "container.log.1", "container.log" })
                File.WriteAllText(Path.Combine(dir.FullName, name),
                    string.Concat(Enumerable.Range(0, 1000).Select(_ => Record(T0.AddMilliseconds(n), "stdout", 'F', $"line {n++}"))));
            File.WriteAllText(Path.Combine(dir.FullName, "container.log.x"), "not a rotated file");
            var log = new ContainerLog("id", path);
            Assert.Equal(["container.log.2", "container.log.1", "container.log"], log.Files().Select(Path.GetFileName));
            Assert.Equal(Enumerable.Range(0, 3000).Select(i => $"line {i}"), log.Read().Select(e => e.Text));
            Assert.Equal(Enumerable.Range(1500, 1500).Select(i => $"line {i}"), log.Read(tail: 1500).Select(e => e.Text));
            Assert.Equal(Enumerable.Range(700, 2300).Select(i => $"line {i}"), log.Read(since: T0.AddMilliseconds(700)).Select(e => e.Text));
            Assert.Equal(["line 2999"], log.Read(tail: 1, since: T0.AddMilliseconds(700)).Select(e => e.Text));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void SpecCarriesTheRotationAndOptionsAreChecked()
    {
        var strings = Encoding.UTF8.GetString(new SpecFile().LogRotation(10 << 20, 3).ToArray()).Split('\0');
        Assert.Equal(["logmaxsize", "10485760", "logmaxfiles", "3", ""], strings);
        StartOptions.ValidateLog(0, 1);
        StartOptions.ValidateLog(StartOptions.DefaultLogMaxSize, StartOptions.DefaultLogMaxFiles);
        Assert.Equal("InvalidLogMaxSize", Assert.Throws<UnicornException>(() => StartOptions.ValidateLog(1024, 3)).ErrorId);
        Assert.Equal("InvalidLogMaxFiles", Assert.Throws<UnicornException>(() => StartOptions.ValidateLog(1 << 20, 0)).ErrorId);
    }
}
