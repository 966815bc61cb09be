namespace Unicorn.Runtime;

public sealed partial class ContainerEngine
{
    public ContainerLog Log(Container c) => new(c.Id, Paths.LogFile(c.Id));
}
