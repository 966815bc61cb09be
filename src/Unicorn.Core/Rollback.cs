namespace Unicorn;

/// <summary>What a multi-step operation has made so far, undone in reverse if it does not
/// complete: each step pushes its undo once it has succeeded, the operation commits once all
/// have, and disposing undoes what was pushed unless committed. Every undo runs, even after
/// one fails (said in log): a failure leaves nothing half-made.</summary>
public sealed class Rollback(Action<string>? log = null) : IDisposable
{
    readonly Stack<Action> _undo = new();
    bool _committed;

    public void Push(Action undo) => _undo.Push(undo);

    /// <summary>All steps held: nothing is undone.</summary>
    public void Commit() => _committed = true;

    public void Dispose()
    {
        if (_committed)
            return;
        while (_undo.TryPop(out var step))
        {
            try { step(); }
            catch (Exception e) { log?.Invoke($"Cleanup: {e.Message}"); }
        }
    }
}
