using System.Management.Automation;
using Unicorn.Runtime;

namespace Unicorn.Commands;

// Two shapes: docker cp's (one side written container:path), and a container given as an object
// (piped, or -Container) with -ToContainer or -FromContainer saying which side is inside it.
[Cmdlet(VerbsCommon.Copy, "UnicornItem", SupportsShouldProcess = true, DefaultParameterSetName = "Path")]
[OutputType(typeof(FileInfo), typeof(DirectoryInfo), typeof(ContainerItem))]
public sealed class CopyUnicornItemCommand : UnicornCmdlet
{
    readonly CancellationTokenSource _stop = new();

    /// <summary>What to copy: a host path, or container:path (Path set); with -ToContainer a host
    /// path, with -FromContainer a path in the container. A trailing "/." copies a directory's
    /// content rather than the directory.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(ContainerPathCompleter))]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Where to: an existing directory takes the item in, any other path is its new name.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ArgumentCompleter(typeof(ContainerPathCompleter))]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>The container: an object (piped), or a name, id or id prefix.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "ToContainer")]
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "FromContainer")]
    [Alias("Container")]
    [ArgumentCompleter(typeof(ContainerCompleter))]
    [ValidateNotNull]
    public PSObject? InputObject { get; set; }

    /// <summary>-Path is on the host, -Destination in the container.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "ToContainer")]
    public SwitchParameter ToContainer { get; set; }

    /// <summary>-Path is in the container, -Destination on the host.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "FromContainer")]
    public SwitchParameter FromContainer { get; set; }

    /// <summary>Overwrite what exists: files are replaced, directories merged.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Keep owners (uid, gid), setuid and setgid bits and extended attributes, as
    /// docker cp -a and cp -a do.</summary>
    [Parameter]
    public SwitchParameter Archive { get; set; }

    /// <summary>The most bytes of file content the copy writes; beyond it, it stops with CopyTooLarge.</summary>
    [Parameter]
    [ValidateRange(1L, long.MaxValue)]
    public long MaxSize { get; set; } = ContainerCopy.DefaultMaxSize;

    /// <summary>Return what was made: FileInfo or DirectoryInfo on the host, ContainerItem in a container.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        ForItem(() =>
        {
            var (container, source, destination, toContainer) = ParameterSetName == "Path" ? FromPaths() : FromObject();
            using var copy = Engine.PlanCopy(Engine.Get(container), source, destination, toContainer, Force);
            if (!ShouldProcess(copy.Destination, $"Copy {copy.Source}"))
                return;
            var progress = new ProgressRecord(4, $"Copying {copy.Source} to {copy.Destination}", "Starting");
            bool shown = false;
            var made = copy.Run(new CopyOptions
            {
                Force = Force,
                Archive = Archive,
                MaxSize = MaxSize,
                Cancel = _stop.Token,
                Warning = WriteWarning,
                Progress = bytes =>
                {
                    progress.StatusDescription = $"{bytes / (1024.0 * 1024):F1} MiB";
                    WriteProgress(progress);
                    shown = true;
                },
            });
            if (shown)
            {
                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
            }
            Verbose($"Copied {copy.Source} to {copy.Destination}.");
            if (PassThru)
                foreach (var item in made)
                    // A host item as Get-Item gives it (with its provider's properties, for its view).
                    WriteObject(item is FileSystemInfo f ? InvokeProvider.Item.Get([f.FullName], force: true, literalPath: true) : item, enumerateCollection: true);
        });
    }

    protected override void StopProcessing() => _stop.Cancel();

    /// <summary>docker cp's form: exactly one side is container:path.</summary>
    (string Container, string Source, string Destination, bool ToContainer) FromPaths()
    {
        var from = ContainerSide(Path);
        var to = ContainerSide(Destination);
        if ((from is null) == (to is null))
            throw new UnicornException("InvalidCopyPath", ErrorKind.InvalidArgument, from is null
                ? $"Neither '{Path}' nor '{Destination}' names a container. Write the container's side as <name>:<path> (web:/etc/app.conf), or pipe the container in with -ToContainer or -FromContainer."
                : $"Both '{Path}' and '{Destination}' name a container; a copy goes between the host and one container. Copy out to the host, then in.", Path);
        return from is { } f ? (f.Container, f.Path, HostPath(Destination), false) : (to!.Value.Container, HostPath(Path), to.Value.Path, true);
    }

    (string Container, string Source, string Destination, bool ToContainer) FromObject()
    {
        var container = InputObject!.BaseObject switch
        {
            Container c => c.Id,
            string s => s,
            _ => InputObject.Properties["Id"]?.Value as string ?? InputObject.Properties["ContainerId"]?.Value as string
                ?? throw new UnicornException("InvalidInput", ErrorKind.InvalidArgument,
                    $"Copy-UnicornItem takes a container, or its name or id, not a {InputObject.BaseObject.GetType().Name}.", InputObject),
        };
        return ToContainer ? (container, HostPath(Path), Destination, true) : (container, Path, HostPath(Destination), false);
    }

    /// <summary>container:path as docker cp has it, or null for a host path: one that starts
    /// with '/', '.' or '~', whose part before ':' holds a '/', or is a PowerShell drive (TestDrive:/x).</summary>
    (string Container, string Path)? ContainerSide(string path)
    {
        int colon = path.IndexOf(':');
        if (colon <= 0 || path[0] is '/' or '.' or '~' || path.AsSpan(0, colon).Contains('/'))
            return null;
        var name = path[..colon];
        if (SessionState.Drive.GetAll().Any(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase)))
            return null;
        return (name, path[(colon + 1)..]);
    }

    /// <summary>A host path in full (relative, ~, a PowerShell drive), keeping a trailing "/" or
    /// "/." that says "a directory" or "its content".</summary>
    string HostPath(string path)
    {
        var full = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
        if (provider.Name != "FileSystem")
            throw new UnicornException("InvalidCopyPath", ErrorKind.InvalidArgument,
                $"'{path}' is a path of the {provider.Name} provider; a copy takes file system paths.", path);
        return path.EndsWith("/.", StringComparison.Ordinal) || path == "." ? full.TrimEnd('/') + "/."
            : path.EndsWith('/') ? full.TrimEnd('/') + "/"
            : full;
    }
}
