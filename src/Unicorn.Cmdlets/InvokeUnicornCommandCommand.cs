using System.Collections.Concurrent;
using System.Management.Automation;
using Unicorn.Runtime;

namespace Unicorn.Commands;

[Cmdlet(VerbsLifecycle.Invoke, "UnicornCommand", DefaultParameterSetName = "Id")]
[OutputType(typeof(string))]
[OutputType(typeof(ExecResult))]
public sealed class InvokeUnicornCommandCommand : ContainerProcessCmdlet
{
    readonly CancellationTokenSource _stop = new();
    ExecProcess? _running;

    [Parameter(Mandatory = true, Position = 1, ParameterSetName = "Id")]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "InputObject")]
    [ValidateNotNullOrEmpty]
    public string[] Command { get; set; } = [];

    /// <summary>Return one result (exit code, output and error lines) instead of the output lines.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var options = Options(Command);
        foreach (var c in Targets())
            ForItem(() => Run(c, options));
    }

    void Run(Container c, ExecOptions options)
    {
        Verbose($"Running '{string.Join(' ', Command)}' in {c.Name}.");
        using var process = Engine.Exec(c.Id, options);
        _running = process;
        // Both streams at once (a full stderr pipe must not stall stdout), each line handed to
        // the pipeline thread, the only one that may write.
        var lines = new BlockingCollection<(bool Error, string Text)>();
        var readers = new[] { (process.Stdout, false), (process.Stderr, true) }.Select(r => Task.Run(() =>
        {
            while (r.Item1.ReadLine() is { } line)
                lines.Add((r.Item2, line));
        })).ToArray();
        Task.WhenAll(readers).ContinueWith(_ => lines.CompleteAdding());

        List<string> output = [], errors = [];
        try
        {
            foreach (var (isError, text) in lines.GetConsumingEnumerable())
            {
                if (PassThru)
                    (isError ? errors : output).Add(text);
                else if (isError)
                    WriteError(new ErrorRecord(new RemoteException(text), "NativeCommandError", ErrorCategory.NotSpecified, c.Name));
                else
                    WriteObject(text);
            }
        }
        catch
        {
            // The pipeline stopped us (-ErrorAction Stop on a stderr line, a downstream Select-Object -First):
            // the process goes too, rather than running on unread.
            process.Kill(Signals.SIGKILL);
            throw;
        }
        int code = process.WaitForExit();
        _running = null;

        // Like a native command: $LASTEXITCODE, and an error only where the session asks for one.
        SessionState.PSVariable.Set("global:LASTEXITCODE", code);
        Verbose($"'{Command[0]}' exited with {code}.");
        if (PassThru)
            WriteObject(new ExecResult(c.Id, Command, code, [.. output], [.. errors]));
        if (code != 0 && SessionState.PSVariable.GetValue("PSNativeCommandUseErrorActionPreference") is true)
            WriteError(new ErrorRecord(new InvalidOperationException($"'{Command[0]}' exited with code {code} in container {c.Name}."),
                "CommandExitCode", ErrorCategory.NotSpecified, c.Name));
    }

    protected override void StopProcessing()
    {
        _stop.Cancel();
        _running?.Kill(Signals.SIGKILL);
    }
}
