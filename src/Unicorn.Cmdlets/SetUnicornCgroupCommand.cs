using System.Management.Automation;
using Unicorn.Cgroups;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Set, "UnicornCgroup", SupportsShouldProcess = true, DefaultParameterSetName = "Id")]
[OutputType(typeof(CgroupStats))]
[OutputType(typeof(Container))]
public sealed class SetUnicornCgroupCommand : LimitsCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public Container[] InputObject { get; set; } = [];

    /// <summary>Names (with wildcards), ids or unique id prefixes; a piped string is a name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "Id")]
    [Alias("ContainerId")]
    [ArgumentCompleter(typeof(ContainerCompleter))]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Id { get; set; } = [];

    /// <summary>Return the container instead of its cgroup.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var limits = Limits;
        foreach (var c in Resolve(ParameterSetName == "InputObject" ? InputObject.Select(c => c.Id) : Id))
            ForItem(() =>
            {
                if (!ShouldProcess($"{c.Name} ({c.ShortId})", $"Set cgroup limits ({Describe(limits)})"))
                    return;
                var cgroup = Engine.SetLimits(c.Id, limits, Verbose);
                WriteObject(PassThru ? Engine.Get(c.Id) : cgroup);
            });
    }

    static string Describe(CgroupLimits l) => string.Join(", ", typeof(CgroupLimits).GetProperties()
        .Where(p => p.Name != nameof(CgroupLimits.IsEmpty) && p.GetValue(l) is not null)
        .Select(p => $"{p.Name} {p.GetValue(l)}"));
}
