using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Unicorn;

/// <summary>The rootfs that needs no download: assembled once from the host (busybox if it has
/// one, else its shell and basic tools with the libraries they load) and cached in the data
/// root, so later calls cost nothing.</summary>
public static class DefaultImage
{
    public const string Name = "default";

    static readonly string[] BusyboxPaths = ["/usr/bin/busybox", "/bin/busybox", "/usr/sbin/busybox", "/sbin/busybox"];

    // Without busybox: what a shell session in a container expects to find.
    static readonly string[] HostTools =
    [
        "sh", "bash", "ls", "cat", "echo", "true", "false", "sleep", "env", "id", "hostname", "uname",
        "mkdir", "rmdir", "rm", "cp", "mv", "ln", "touch", "chmod", "grep", "sed", "head", "tail", "wc",
        "cut", "sort", "stat", "readlink", "kill", "ps", "mount", "ip", "pwd", "test", "date", "tr", "dd",
    ];

    static readonly string[] Dirs =
    [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "var/tmp", "home", "mnt",
    ];

    /// <summary>The default rootfs's directory, assembling it on first use.</summary>
    public static string Ensure(UnicornPaths paths, Action<string>? log = null)
    {
        var target = Path.Combine(paths.Images, Name, "rootfs");
        if (Directory.Exists(target))
            return target;

        using var _ = Files.Lock(paths);
        if (Directory.Exists(target))
            return target; // another session built it while we waited

        var staging = Path.Combine(paths.Images, $".{Name}-{Ids.Short(Ids.New())}");
        try
        {
            var rootfs = Path.Combine(staging, "rootfs");
            Assemble(rootfs, log);
            Directory.CreateDirectory(Path.Combine(paths.Images, Name));
            Directory.Move(rootfs, target);
        }
        finally
        {
            Files.DeleteTree(staging);
        }
        return target;
    }

    /// <summary>Builds a minimal rootfs at dir from the host's own programs.</summary>
    public static void Assemble(string dir, Action<string>? log = null) => Assemble(dir, BusyboxPaths, log);

    /// <summary>Assemble, looking for busybox only at busyboxPaths (none: the host-tools way).</summary>
    internal static void Assemble(string dir, IEnumerable<string> busyboxPaths, Action<string>? log)
    {
        foreach (var d in Dirs)
            Directory.CreateDirectory(Path.Combine(dir, d));
        File.SetUnixFileMode(Path.Combine(dir, "tmp"), (UnixFileMode)0b1_111_111_111);
        File.SetUnixFileMode(Path.Combine(dir, "var/tmp"), (UnixFileMode)0b1_111_111_111);
        File.SetUnixFileMode(Path.Combine(dir, "root"), (UnixFileMode)0b111_000_000);

        if (busyboxPaths.FirstOrDefault(File.Exists) is { } busybox)
        {
            log?.Invoke($"Assembling the default rootfs from {busybox}.");
            CopyProgram(busybox, dir, "/bin/busybox");
            foreach (var applet in BusyboxApplets(busybox))
            {
                var link = Path.Combine(dir, applet.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(link)!);
                if (!File.Exists(link) && !Directory.Exists(link))
                    File.CreateSymbolicLink(link, "/bin/busybox");
            }
        }
        else
        {
            log?.Invoke("No busybox on this host: assembling the default rootfs from the host's shell and tools.");
            foreach (var tool in HostTools)
            {
                var found = new[] { "/usr/bin", "/bin", "/usr/sbin", "/sbin" }.Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);
                if (found is not null)
                    CopyProgram(found, dir, "/bin/" + tool);
            }
            if (!File.Exists(Path.Combine(dir, "bin/sh")))
                throw new UnicornException("DefaultRootfsUnavailable", ErrorKind.NotInstalled,
                    "This host has neither busybox nor /bin/sh to build the default rootfs from. Install busybox-static, or give New-UnicornRootfs -Path a root filesystem.");
        }

        File.WriteAllText(Path.Combine(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        File.WriteAllText(Path.Combine(dir, "etc/group"), "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n");
        File.WriteAllText(Path.Combine(dir, "etc/os-release"), "NAME=\"Unicorn default rootfs\"\nID=unicorn\n");
    }

    // busybox names its own applets; asking it is the only reliable way.
    static IEnumerable<string> BusyboxApplets(string busybox)
    {
        var psi = new ProcessStartInfo(busybox, "--list-full") { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var lines = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        p.WaitForExit();
        return lines.Select(l => "/" + l.Trim().TrimStart('/')).Where(l => l.Length > 1);
    }

    /// <summary>Copies a program to dest inside the rootfs, and with it (recursively) its ELF
    /// interpreter and libraries at their host paths.</summary>
    static void CopyProgram(string hostPath, string rootfs, string dest)
    {
        CopyFile(hostPath, Path.Combine(rootfs, dest.TrimStart('/')));
        var pending = new Queue<string>([hostPath]);
        var seen = new HashSet<string>();
        while (pending.TryDequeue(out var file))
        {
            if (ElfInfo.Read(file) is not { } elf)
                continue;
            var deps = elf.Needed.Select(FindLibrary).OfType<string>();
            if (elf.Interpreter is not null)
                deps = deps.Append(elf.Interpreter);
            foreach (var dep in deps.Where(seen.Add))
            {
                CopyFile(dep, Path.Combine(rootfs, dep.TrimStart('/')));
                pending.Enqueue(dep);
            }
        }
    }

    static string? FindLibrary(string name)
    {
        var triplet = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
        string[] dirs = [$"/lib/{triplet}", $"/usr/lib/{triplet}", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];
        return dirs.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    // Copies the content (following symlinks on the host) and keeps the mode.
    static void CopyFile(string from, string to)
    {
        if (File.Exists(to))
            return;
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        File.Copy(from, to);
        File.SetUnixFileMode(to, File.GetUnixFileMode(from));
    }
}
