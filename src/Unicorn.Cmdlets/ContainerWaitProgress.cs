using System.Management.Automation;

namespace Unicorn.Commands;

/// <summary>"n of N stopped" while many containers are waited for, shown from the start of the
/// wait (the first may take the whole timeout); nothing for a single container. A record of its
/// own each time: a host may keep them (a runspace's Streams.Progress does).</summary>
sealed class ContainerWaitProgress
{
    readonly Cmdlet _cmdlet;
    readonly string _activity, _ended;
    readonly int _total;
    int _done;

    public ContainerWaitProgress(Cmdlet cmdlet, string activity, string ended, int total)
    {
        (_cmdlet, _activity, _ended, _total) = (cmdlet, activity, ended, total);
        Write(ProgressRecordType.Processing);
    }

    /// <summary>One more container has ended.</summary>
    public void Step()
    {
        _done++;
        Write(ProgressRecordType.Processing);
    }

    public void Complete() => Write(ProgressRecordType.Completed);

    void Write(ProgressRecordType type)
    {
        if (_total > 1)
            _cmdlet.WriteProgress(new ProgressRecord(1, _activity, $"{_done} of {_total} {_ended}") { PercentComplete = 100 * _done / _total, RecordType = type });
    }
}
