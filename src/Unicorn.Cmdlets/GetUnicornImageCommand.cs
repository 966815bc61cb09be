using System.Management.Automation;
using Unicorn.Images;

namespace Unicorn.Commands;

[Cmdlet(VerbsCommon.Get, "UnicornImage")]
[OutputType(typeof(Image))]
public sealed class GetUnicornImageCommand : UnicornCmdlet
{
    /// <summary>Names (repository:tag; wildcards allowed) or ids; all images when omitted.</summary>
    [Parameter(Position = 0)]
    [ArgumentCompleter(typeof(ImageCompleter))]
    [SupportsWildcards]
    public string[] Name { get; set; } = [];

    protected override void ProcessRecord()
    {
        ForItem(() =>
        {
            var all = Engine.Images.List().ToList();
            if (Name.Length == 0)
            {
                WriteObject(all, enumerateCollection: true);
                return;
            }
            foreach (var name in Name)
            {
                if (WildcardPattern.ContainsWildcardCharacters(name))
                {
                    var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
                    WriteObject(all.Where(i => i.Names.Any(pattern.IsMatch)), enumerateCollection: true);
                }
                else
                    ForItem(() => WriteObject(Engine.Images.Get(name)));
            }
        });
    }
}
