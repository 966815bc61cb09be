using System.Globalization;
using System.Text.Json;
using Unicorn;
using Unicorn.Oci;
using Unicorn.Runtime;

// unicorn: the OCI runtime command line (runc's), for podman, containerd and Kubernetes nodes.
// Each command is one call into the engine's OciRuntime; an error is one line on stderr (and in
// --log, as runc writes it) and exit code 1.
CommandLine? line = null;
try
{
    line = CommandLine.Parse(args);
    if (line.Has("version") || line.Command == "version")
    {
        Output.Out($"unicorn version {typeof(OciRuntime).Assembly.GetName().Version?.ToString(3)}\nspec: {OciRuntime.OciVersion}\n");
        return 0;
    }
    if (line.Command is null || line.Has("help"))
    {
        Output.Out(Help.Text);
        return line.Command is null && !line.Has("help") ? 1 : 0;
    }
    return Commands.Run(line);
}
catch (UnicornException e)
{
    return Commands.Fail(line, e.Message);
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
{
    return Commands.Fail(line, e.Message);
}
