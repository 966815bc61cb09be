using System.Management.Automation.Internal;
using System.Management.Automation.Remoting;
using System.Management.Automation.Remoting.Client;
using System.Text;
using Unicorn.Runtime;

namespace Unicorn.Commands;

/// <summary>PowerShell remoting over the stdio of a <c>pwsh -s</c> running in a container: the
/// protocol's lines go to its stdin and come back on its stdout, as SSH remoting does with ssh's.
/// PowerShell's base class does the protocol; this class only moves lines and ends the process.</summary>
sealed class UnicornSessionTransport : ClientSessionTransportManagerBase
{
    readonly ExecProcess _server;
    readonly Func<int, string> _describeEnd;
    // The server's first stderr lines: why it died, when it dies (a missing library, a crash's
    // exception, whose message comes before its stack).
    readonly List<string> _stderr = [];
    readonly Lazy<Task<int>> _exitCode;
    int _ended, _closing;

    internal UnicornSessionTransport(Guid runspaceId, PSRemotingCryptoHelper cryptoHelper, ExecProcess server, Func<int, string> describeEnd)
        : base(runspaceId, cryptoHelper)
    {
        (_server, _describeEnd) = (server, describeEnd);
        _exitCode = new(() => Task.Run(_server.WaitForExit));
    }

    public override void CreateAsync()
    {
        SetMessageWriter(new StreamWriter(_server.Stdin!, new UTF8Encoding(false)) { AutoFlush = true });
        Start(ReadErrors, "Unicorn session stderr");
        Start(ReadProtocol, "Unicorn session reader");
    }

    static void Start(ThreadStart work, string name) => new Thread(work) { IsBackground = true, Name = name }.Start();

    void ReadProtocol()
    {
        try
        {
            SendOneItem();
            while (_server.Stdout.ReadLine() is { } line)
                HandleDataReceived(line);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { }
        // Closed by us (Remove-PSSession): the server may end before the close is acknowledged here.
        if (Volatile.Read(ref _ended) != 0 || Volatile.Read(ref _closing) != 0)
            return;

        // The server's stdout ended while the session was open: the process died or the container
        // stopped. The session goes Broken with the reason, and no process is left.
        _server.Kill(Signals.SIGKILL);
        int code = _exitCode.Value.Result;
        string stderr;
        lock (_stderr)
            stderr = string.Join(" ", _stderr);
        string reason = _describeEnd(code) + (stderr.Length > 0 ? $" It wrote: {stderr}" : "");
        RaiseErrorHandler(new TransportErrorOccuredEventArgs(new PSRemotingTransportException(reason), TransportMethodEnum.ReceiveShellOutputEx));
        End();
    }

    void ReadErrors()
    {
        try
        {
            while (_server.Stderr.ReadLine() is { } line)
                lock (_stderr)
                    if (_stderr.Count < 3)
                        _stderr.Add(line.Trim());
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { }
    }

    public override void CloseAsync()
    {
        Volatile.Write(ref _closing, 1);
        base.CloseAsync();
    }

    /// <summary>After the session closed (Remove-PSSession) or broke: the server gets EOF on its
    /// stdin, which ends a <c>pwsh -s</c>, and SIGKILL if it has not gone a moment later.</summary>
    protected override void CleanupConnection() => End();

    protected override void Dispose(bool isDisposing)
    {
        base.Dispose(isDisposing);
        if (isDisposing)
            End();
    }

    void End()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
            return;
        DisposeMessageQueue();
        try { _server.Stdin?.Dispose(); }
        catch (IOException) { }
        if (!_exitCode.Value.Wait(TimeSpan.FromSeconds(2)))
        {
            _server.Kill(Signals.SIGKILL);
            _exitCode.Value.Wait();
        }
        _server.Dispose();
    }
}
