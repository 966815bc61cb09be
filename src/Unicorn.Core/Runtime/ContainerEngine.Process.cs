namespace Unicorn.Runtime;

// What a container runs: its command, working directory, user and environment, from the
// caller's options over the image's config.
public sealed partial class ContainerEngine
{
    /// <summary>TERM for a process on a terminal, unless its environment sets one (as Docker).</summary>
    internal const string TtyTerm = "xterm";

    static string[] Environment(StartOptions o, Images.ImageConfig? image, string hostname)
    {
        if (o.Bundle is not null) // the config's, exactly
            return [.. o.Environment.Select(kv => $"{kv.Key}={kv.Value}")];
        var env = new Dictionary<string, string> { ["PATH"] = StartOptions.DefaultPath, ["HOSTNAME"] = hostname, ["HOME"] = "/root" };
        if (o.Interactive) // a terminal: xterm, as Docker says, which every terminfo knows (the host's TERM may be one the image lacks)
            env["TERM"] = TtyTerm;
        foreach (var kv in image?.Env ?? [])
            if (kv.Split('=', 2) is [var k, var v])
                env[k] = v;
        foreach (var (k, v) in o.Environment)
            env[k] = v;
        return env.Select(kv => $"{kv.Key}={kv.Value}").ToArray();
    }

    /// <summary>The command, working directory and user: the caller's, else the image's (as
    /// Docker: the image's Entrypoint, then the command given or the image's Cmd), else /bin/sh
    /// in / as root.</summary>
    static (string[] Command, string WorkingDirectory, string? User) ResolveProcess(StartOptions o, Images.ImageConfig? image, string? rootfs)
    {
        var entrypoint = image?.Entrypoint ?? [];
        var command = entrypoint.Concat(o.Command ?? image?.Cmd ?? (entrypoint.Length == 0 ? ["/bin/sh"] : [])).ToArray();
        var cwd = o.WorkingDirectory ?? image?.WorkingDir ?? "/";
        StartOptions.ValidateProcess(command, o.Environment, cwd);
        var user = o.User ?? image?.User;
        if ((user is not null || o.GroupAdd.Length > 0) && rootfs is not null)
            UserSpec.Resolve(user ?? "0", rootfs, o.GroupAdd); // a user or group the image lacks: refused now
        return (command, cwd, user);
    }
}
