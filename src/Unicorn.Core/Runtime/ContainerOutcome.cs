namespace Unicorn.Runtime;

/// <summary>How one container of a stop or a wait ended up: the container as it then is (or
/// the error that kept it from being read), and a warning when its supervisor did not answer.</summary>
public sealed record ContainerOutcome(string Id, Container? Container, string? Warning, Exception? Error);
