using System.Management.Automation;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Get, "UnicornContainerLog", DefaultParameterSetName = "Id")]
[OutputType(typeof(LogEntry))]
public sealed class GetUnicornContainerLogCommand : ContainerCmdlet
{
    readonly CancellationTokenSource _stop = new();

    /// <summary>Only the last N lines.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Tail { get; set; }

    /// <summary>Only lines written at or after this time.</summary>
    [Parameter]
    public DateTime? Since { get; set; }

    /// <summary>Keep reading new lines until the container exits (or Ctrl+C).</summary>
    [Parameter]
    [Alias("Wait")]
    public SwitchParameter Follow { get; set; }

    /// <summary>Only this stream's lines (and the supervisor's notes of lines lost, stream
    /// unicorn, which are always shown).</summary>
    [Parameter]
    [ValidateSet("stdout", "stderr", "unicorn")]
    public string? Stream { get; set; }

    protected override void ProcessRecord()
    {
        var since = Since?.ToUniversalTime();
        foreach (var c in Targets())
        {
            var log = Engine.Log(c);
            var entries = Follow
                ? log.Follow(() => Engine.Load(c.Id) is not { } now || !now.State.IsLogOpen(), Tail, since, Stream, _stop.Token)
                : log.Read(Tail, since, Stream);
            foreach (var e in entries)
                WriteObject(e);
        }
    }

    protected override void StopProcessing() => _stop.Cancel();
}
