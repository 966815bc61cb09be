using System.Management.Automation;
using Unicorn.Images;

namespace Unicorn.Commands;

[Cmdlet(VerbsData.Import, "UnicornImage", SupportsShouldProcess = true, DefaultParameterSetName = "Path")]
[OutputType(typeof(Image))]
public sealed class ImportUnicornImageCommand : UnicornCmdlet
{
    /// <summary>A rootfs tarball, a docker-save archive, or an OCI layout (directory or archive).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "Path")]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>An image in an OCI distribution registry: [registry/]repository[:tag|@digest].</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Reference")]
    [ValidateNotNullOrEmpty]
    public string? Reference { get; set; }

    /// <summary>The name (repository:tag) the image gets, instead of the one it carries.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    /// <summary>For a private registry.</summary>
    [Parameter(ParameterSetName = "Reference")]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <summary>The most bytes of file content the import may extract, across the layers the
    /// store lacks; beyond it the import stops with ImageTooLarge and keeps nothing.</summary>
    [Parameter]
    [ValidateRange(1L, long.MaxValue)]
    public long MaxSize { get; set; } = ImageLimits.DefaultMaxSize;

    /// <summary>Accept a registry's TLS certificate without checking it.</summary>
    [Parameter(ParameterSetName = "Reference")]
    public SwitchParameter SkipTlsVerify { get; set; }

    protected override void ProcessRecord()
    {
        var sources = ParameterSetName == "Reference" ? [Reference!] : Path.Select(FileSystemPath).ToArray();
        foreach (var source in sources)
            ForItem(() =>
            {
                if (!ShouldProcess(source, "Import image"))
                    return;
                var progress = new ProgressRecord(1, $"Importing {source}", "Reading");
                void report(ImportProgress p)
                {
                    progress = new ProgressRecord(1, progress.Activity, progress.StatusDescription); // one of its own each time: a host may keep them
                    static string MiB(long bytes) => $"{bytes / (1024.0 * 1024):F1} MiB";
                    double done = p.DiffId is not null ? 1 : p.BlobLength is > 0 and var length ? Math.Min(1, (double)p.BlobRead / length) : 0;
                    progress.StatusDescription = $"Layer {p.Layer} of {p.Layers}: " + (
                        p.Skipped ? "in the store already"
                        : p.DiffId is null ? $"{MiB(p.BlobRead)}{(p.BlobLength is long l ? $" of {MiB(l)}" : "")} read"
                        : $"{MiB(p.Bytes)}");
                    progress.PercentComplete = (int)(100 * (p.Layer - 1 + done) / Math.Max(1, p.Layers));
                    WriteProgress(progress);
                }
                var images = ParameterSetName == "Reference"
                    ? [Engine.Images.Pull(source, Name, Credential?.GetNetworkCredential(), SkipTlsVerify, Verbose, report, MaxSize)]
                    : Engine.Images.Import(source, Name, Verbose, report, MaxSize);
                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
                WriteObject(images, enumerateCollection: true);
            });
    }
}
