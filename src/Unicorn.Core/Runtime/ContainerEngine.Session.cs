using System.Runtime.InteropServices;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Runtime;

public sealed partial class ContainerEngine
{
    /// <summary>Where a session's process finds the host's PowerShell (pwsh) and .NET runtime
    /// (dotnet), bound for it alone. The container's /dev is a tmpfs the engine made: no image's
    /// content is under it, nothing of the image's rootfs is written, and it goes with the container.</summary>
    public const string HostPowerShellMount = "/dev/.unicorn-host";

    /// <summary>pwsh's server mode: the remoting protocol over stdin and stdout.</summary>
    static readonly string[] ServerArguments = ["-s", "-NoLogo", "-NoProfile"];

    /// <summary>Starts PowerShell's server mode (pwsh -s -NoLogo -NoProfile) in a running
    /// container, through exec (as confined as the container), with stdin, stdout and stderr
    /// pipes: the far end of a PowerShell session. With powerShellPath, the image's own pwsh at
    /// that path; otherwise the host's pwsh (the one at hostPowerShellHome, its $PSHOME, or the
    /// one this process has loaded) and its .NET runtime, bound read-only for this process alone,
    /// which needs a root filesystem with glibc, libstdc++ and OpenSSL (without ICU, .NET's
    /// invariant globalization). Checks all of that before anything starts.</summary>
    public ExecProcess StartPowerShell(string nameOrId, string? powerShellPath = null, string? hostPowerShellHome = null)
    {
        var c = Get(nameOrId);
        if (c.State != ContainerState.Running)
            throw NotRunning(c.Name);
        ExecOptions options;
        int root = OpenRoot(c); // as the container sees it: its volumes included
        try
        {
            // Empty is none: what PowerShell passes for a $null string.
            options = string.IsNullOrEmpty(powerShellPath)
                ? HostPowerShell(c, root, string.IsNullOrEmpty(hostPowerShellHome) ? null : hostPowerShellHome)
                : ImagePowerShell(c, root, powerShellPath);
        }
        finally
        {
            Libc.Close(root);
        }
        return Exec(c.Id, options);
    }

    static ExecOptions ImagePowerShell(Container c, int root, string path)
    {
        if (!path.StartsWith('/'))
            throw new UnicornException("InvalidPowerShellPath", ErrorKind.InvalidArgument,
                $"The PowerShell path '{path}' is not absolute. Give the full path of pwsh in the container's image (for instance /opt/microsoft/powershell/7/pwsh).", path);
        if (StatusInRoot(root, path) is not { IsDirectory: false })
            throw new UnicornException("PowerShellNotFound", ErrorKind.ObjectNotFound,
                $"There is no '{path}' in the container {c.Name}. Give the path of pwsh in its image, or leave -PowerShellPath out to run this host's PowerShell there (which needs an image with glibc).", path);
        return new ExecOptions { Command = [path, .. ServerArguments], Stdin = true };
    }

    static ExecOptions HostPowerShell(Container c, int root, string? psHome)
    {
        psHome = psHome is null ? LoadedPowerShellHome() : Path.GetFullPath(psHome);
        if (psHome is null || !File.Exists(Path.Combine(psHome, "pwsh.dll")))
            throw new UnicornException("HostPowerShellNotFound", ErrorKind.NotInstalled,
                psHome is null
                    ? "This process has no PowerShell loaded to run in the container. Give the host's PowerShell home ($PSHOME), or the path of a pwsh the image has."
                    : $"'{psHome}' is not a PowerShell home (it has no pwsh.dll). Give $PSHOME of the host's pwsh, or the path of a pwsh the image has.", psHome);
        if (c.Volumes.FirstOrDefault(v => HostPowerShellMount.StartsWith(v.Destination.TrimEnd('/') + "/", StringComparison.Ordinal) || v.Destination == HostPowerShellMount) is { } volume)
            throw Unusable(c, $"its volume on {volume.Destination} covers {HostPowerShellMount}, where the host's PowerShell would be bound");
        if (RuntimeProblem(root) is { } problem)
            throw Unusable(c, problem);

        var pwsh = $"{HostPowerShellMount}/pwsh";
        var env = new Dictionary<string, string>();
        List<(string, string)> binds = [(psHome, pwsh)];
        string[] command;
        if (File.Exists(Path.Combine(psHome, "libcoreclr.so")))
            command = [$"{pwsh}/pwsh", .. ServerArguments]; // self-contained: the runtime is in $PSHOME
        else
        {
            // Framework-dependent (the dotnet tool, a package's pwsh.dll): the runtime this process
            // runs on, <root>/shared/Microsoft.NETCore.App/<version>/, and its dotnet host.
            var dotnetRoot = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "../../.."));
            if (!File.Exists(Path.Combine(dotnetRoot, "dotnet")))
                throw new UnicornException("HostPowerShellNotFound", ErrorKind.NotInstalled,
                    $"The .NET runtime this PowerShell runs on has no dotnet host at {dotnetRoot}. Give the path of a pwsh the image has.", dotnetRoot);
            var dotnet = $"{HostPowerShellMount}/dotnet";
            binds.Add((dotnetRoot, dotnet));
            command = [$"{dotnet}/dotnet", $"{pwsh}/pwsh.dll", .. ServerArguments];
            env["DOTNET_ROOT"] = dotnet;
        }
        if (!LibraryDirectories.Any(d => HasFileStartingWith(root, d, "libicuuc.so.")))
            env["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1"; // no ICU: .NET would refuse to start
        return new ExecOptions { Command = command, Environment = env, Stdin = true, PrivateBinds = binds };
    }

    static UnicornException Unusable(Container c, string why) => new("SessionHostPowerShellUnusable", ErrorKind.InvalidOperation,
        $"This host's PowerShell cannot run in the container {c.Name}: {why}. Use an image with glibc, libstdc++ and OpenSSL (Debian, Ubuntu, Fedora, ...), or give the path of a pwsh the image has (-PowerShellPath).", c.Name);

    /// <summary>$PSHOME of the PowerShell loaded in this process: where System.Management.Automation is.</summary>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("SingleFile", "IL3000", Justification = "A single-file pwsh has no Location: then none is found, and the caller is told to give the home.")]
    static string? LoadedPowerShellHome() =>
        AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "System.Management.Automation") is { Location: { Length: > 0 } location }
            ? Path.GetDirectoryName(location) : null;

    /// <summary>This machine's glibc and musl loaders, and the multiarch triplet of its libraries.</summary>
    static (string Glibc, string Musl, string Triplet) Loaders => RuntimeInformation.OSArchitecture switch
    {
        Architecture.Arm64 => ("/lib/ld-linux-aarch64.so.1", "/lib/ld-musl-aarch64.so.1", "aarch64-linux-gnu"),
        Architecture.Arm => ("/lib/ld-linux-armhf.so.3", "/lib/ld-musl-armhf.so.1", "arm-linux-gnueabihf"),
        _ => ("/lib64/ld-linux-x86-64.so.2", "/lib/ld-musl-x86_64.so.1", "x86_64-linux-gnu"),
    };

    /// <summary>The OpenSSL versions .NET loads.</summary>
    static readonly string[] OpenSslLibraries = ["libssl.so.3", "libssl.so.1.1"];

    /// <summary>Where a glibc system keeps its shared libraries.</summary>
    static string[] LibraryDirectories => [$"/lib/{Loaders.Triplet}", $"/usr/lib/{Loaders.Triplet}", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];

    /// <summary>Why the root at rootFd cannot run the host's .NET (built against glibc and
    /// libstdc++) and PowerShell's server mode (whose session key needs OpenSSL), or null if it can.</summary>
    static string? RuntimeProblem(int rootFd)
    {
        var (glibc, musl, _) = Loaders;
        if (StatusInRoot(rootFd, glibc) is null)
            return StatusInRoot(rootFd, musl) is not null
                ? $"its C library is musl ({musl}: an Alpine image?), and the host's .NET is built for glibc"
                : $"it has no glibc (no loader {glibc}; a busybox-only image?)";
        if (!LibraryDirectories.Any(d => StatusInRoot(rootFd, $"{d}/libstdc++.so.6") is not null))
            return "it has no libstdc++.so.6, the C++ runtime .NET needs";
        if (!LibraryDirectories.Any(d => OpenSslLibraries.Any(l => StatusInRoot(rootFd, $"{d}/{l}") is not null)))
            return "it has no OpenSSL (libssl.so.3 or libssl.so.1.1), which PowerShell's server mode needs for its session key";
        return null;
    }

    /// <summary>The status of path inside the root at rootFd (resolved in it, symbolic links
    /// followed only inside), or null when there is nothing there.</summary>
    static Libc.FileStatus? StatusInRoot(int rootFd, string path)
    {
        if (Libc.TryOpenPathInRoot(rootFd, path, out int fd) != 0)
            return null;
        try { return Libc.Fstat(fd, path); }
        finally { Libc.Close(fd); }
    }

    /// <summary>Whether the directory at path inside the root has an entry whose name starts with prefix.</summary>
    static bool HasFileStartingWith(int rootFd, string path, string prefix)
    {
        if (Libc.TryOpenInRoot(rootFd, path, L.O_RDONLY | L.O_DIRECTORY, out int fd) != 0)
            return false;
        try { return Libc.ReadDirectory(fd, path).Any(e => e.Name.StartsWith(prefix, StringComparison.Ordinal)); }
        finally { Libc.Close(fd); }
    }
}
