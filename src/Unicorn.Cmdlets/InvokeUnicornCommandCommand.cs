using System.Collections.Concurrent;
using System.Management.Automation;
using Unicorn.Runtime;

namespace Unicorn.Commands;

[Cmdlet(VerbsLifecycle.Invoke, "UnicornCommand", DefaultParameterSetName = "Id")]
[OutputType(typeof(string), ParameterSetName = ["Id", "InputObject"])]
[OutputType(typeof(ExecResult), ParameterSetName = ["Id", "InputObject"])]
[OutputType(typeof(PSObject), ParameterSetName = [ScriptById, ScriptByObject])]
public sealed class InvokeUnicornCommandCommand : ContainerProcessCmdlet
{
    const string ScriptById = "ScriptBlock", ScriptByObject = "ScriptBlockInputObject";
    readonly CancellationTokenSource _stop = new();
    ExecProcess? _running;
    Action? _stopScript;

    // The base class's container parameters, in the script block's parameter sets too.
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ScriptByObject)]
    public new Container[] InputObject { get => base.InputObject; set => base.InputObject = value; }

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "Id")]
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ScriptById)]
    [Alias("ContainerId")]
    [ArgumentCompleter(typeof(ContainerCompleter))]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public new string[] Id { get => base.Id; set => base.Id = value; }

    [Parameter(Mandatory = true, Position = 1, ParameterSetName = "Id")]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "InputObject")]
    [ValidateNotNullOrEmpty]
    public string[] Command { get; set; } = [];

    /// <summary>Return one result (exit code, output and error lines) instead of the output lines.</summary>
    [Parameter(ParameterSetName = "Id")]
    [Parameter(ParameterSetName = "InputObject")]
    public SwitchParameter PassThru { get; set; }

    /// <summary>PowerShell to run in the container, in a session that lasts as long as it runs.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = ScriptById)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ScriptByObject)]
    public ScriptBlock? ScriptBlock { get; set; }

    /// <summary>The script block's arguments: its param() block's, or $args.</summary>
    [Parameter(ParameterSetName = ScriptById)]
    [Parameter(ParameterSetName = ScriptByObject)]
    [Alias("Args")]
    public object[] ArgumentList { get; set; } = [];

    /// <summary>The container's own pwsh, as New-UnicornSession takes it.</summary>
    [Parameter(ParameterSetName = ScriptById)]
    [Parameter(ParameterSetName = ScriptByObject)]
    [ValidateNotNullOrEmpty]
    public string? PowerShellPath { get; set; }

    protected override void ProcessRecord()
    {
        if (ScriptBlock is not null)
        {
            foreach (var c in Resolve(ParameterSetName == ScriptByObject ? InputObject.Select(c => c.Id) : Id))
                ForItem(() => RunScript(c));
            return;
        }
        var options = Options(Command);
        foreach (var c in Targets())
            ForItem(() => Run(c, options));
    }

    /// <summary>The script block in a short-lived session: its objects come back deserialized,
    /// its errors as error records, its other streams to theirs; the session ends with it.</summary>
    void RunScript(Container c)
    {
        Verbose($"Running the script block in a PowerShell session in {c.Name}.");
        using var runspace = ContainerSession.Open(Engine, c, null, PowerShellPath, null, cancel => _stopScript = cancel);
        using var ps = PowerShell.Create();
        ps.Runspace = runspace;
        // -Environment and -WorkingDirectory as for a command; -Verbose and -Debug reach the script
        // (its verbose and debug records are dropped there otherwise, before they come back).
        ps.AddScript("param($environment, $directory, $verbose, $debug) foreach ($e in $environment.GetEnumerator()) { Set-Item \"env:$($e.Key)\" $e.Value }; " +
                "if ($directory) { Set-Location -LiteralPath $directory }; $global:VerbosePreference = $verbose; $global:DebugPreference = $debug")
            .AddArgument(ToDictionary(Environment)).AddArgument(WorkingDirectory)
            .AddArgument(Preference("Verbose", "VerbosePreference")).AddArgument(Preference("Debug", "DebugPreference")).AddStatement();
        ps.AddScript(ScriptBlock!.ToString(), useLocalScope: true);
        foreach (var argument in ArgumentList)
            ps.AddArgument(argument);

        // Every stream's records, in the order they arrive, handed to the pipeline thread.
        var records = new BlockingCollection<Action>();
        void Post(Action write)
        {
            try { records.Add(write); }
            catch (InvalidOperationException) { } // after the end: a stop's stragglers
        }
        var output = new PSDataCollection<PSObject>();
        output.DataAdded += (_, e) => Post(() => WriteObject(FromContainer(output[e.Index], c.Name)));
        ps.Streams.Error.DataAdded += (_, e) => Post(() => WriteError(ps.Streams.Error[e.Index]));
        ps.Streams.Warning.DataAdded += (_, e) => Post(() => WriteWarning(ps.Streams.Warning[e.Index].Message));
        ps.Streams.Verbose.DataAdded += (_, e) => Post(() => WriteVerbose(ps.Streams.Verbose[e.Index].Message));
        ps.Streams.Debug.DataAdded += (_, e) => Post(() => WriteDebug(ps.Streams.Debug[e.Index].Message));
        ps.Streams.Information.DataAdded += (_, e) => Post(() => WriteInformation(ps.Streams.Information[e.Index]));
        ps.Streams.Progress.DataAdded += (_, e) => Post(() => WriteProgress(ps.Streams.Progress[e.Index]));
        // The state comes after the data (one ordered stream from the server).
        ps.InvocationStateChanged += (_, e) =>
        {
            if (e.InvocationStateInfo.State is PSInvocationState.Completed or PSInvocationState.Failed or PSInvocationState.Stopped)
                records.CompleteAdding();
        };
        _stopScript = () => ps.BeginStop(null, null);
        var running = ps.BeginInvoke<PSObject, PSObject>(null, output);
        foreach (var write in records.GetConsumingEnumerable())
            write();
        _stopScript = null;
        try
        {
            ps.EndInvoke(running);
        }
        catch (RuntimeException e) when (e is not PipelineStoppedException)
        {
            // A terminating error there (throw) is an error record here, as Invoke-Command makes it.
            WriteError(e.ErrorRecord);
        }
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

    /// <summary>An object from the container, marked with where it came from (PSComputerName, as
    /// Invoke-Command marks what it returns), so that results from several containers stay apart.</summary>
    static PSObject? FromContainer(PSObject? o, string container)
    {
        if (o is not null && o.Properties["PSComputerName"] is null)
            o.Properties.Add(new PSNoteProperty("PSComputerName", container));
        return o;
    }

    /// <summary>This call's preference for a stream: its common parameter's, else the caller's variable.</summary>
    string Preference(string parameter, string variable) =>
        MyInvocation.BoundParameters.TryGetValue(parameter, out var on) ? (((SwitchParameter)on).IsPresent ? "Continue" : "SilentlyContinue")
            : GetVariableValue(variable)?.ToString() ?? "SilentlyContinue";

    protected override void StopProcessing()
    {
        _stop.Cancel();
        _stopScript?.Invoke();
        _running?.Kill(Signals.SIGKILL);
    }
}
