namespace Unicorn.Runtime;

// Names are claimed as links state/names/<name> -> id, and recorded in each container's
// config.json too, which puts a lost link back.
public sealed partial class ContainerEngine
{
    string NamesDir => Path.Combine(Paths.StateRoot, "names");

    /// <summary>Claims a name for a new container; a clash is refused before a rootfs given to
    /// the start is claimed, and the error says that it is left unowned, to be used again.</summary>
    void ClaimName(string name, string id, string? rootfsGiven)
    {
        Directory.CreateDirectory(NamesDir);
        var link = Path.Combine(NamesDir, name);
        // Every container has a link; fewer links than containers means one was lost (deleted by
        // hand, say), and the records, which hold the names too, put the links back first.
        if (NameTarget(name) is null && Directory.Exists(Paths.Containers)
            && Directory.EnumerateFileSystemEntries(NamesDir).Count() < Directory.EnumerateDirectories(Paths.Containers).Count())
            RestoreNames();
        if (NameTarget(name) is { } existing)
        {
            // Held by a container that has its record (not by a directory a crash left half made or half removed).
            if (File.Exists(Paths.ContainerRecord(existing)))
                throw new UnicornException("ContainerNameInUse", ErrorKind.ResourceExists,
                    $"The name '{name}' is taken by container {Ids.Short(existing)}. Choose another -Name, or remove that container first." +
                    (rootfsGiven is null ? "" : $" The root filesystem {Ids.Short(rootfsGiven)} was not used: it is still there, owned by no container, for the next start (Get-UnicornRootfs {Ids.Short(rootfsGiven)} | Start-UnicornContainer ...), or for Remove-UnicornRootfs."), name);
            File.Delete(link); // left by a container that is gone
        }
        File.CreateSymbolicLink(link, id);
    }

    /// <summary>Links again the names of containers whose records hold a name no link claims.</summary>
    void RestoreNames()
    {
        Directory.CreateDirectory(NamesDir);
        foreach (var dir in Directory.EnumerateDirectories(Paths.Containers))
        {
            ContainerConfig? config;
            try { config = Files.ReadJson(Path.Combine(dir, "config.json"), Json.Default.ContainerConfig); }
            catch (CorruptStateException) { continue; } // listed as damaged; removing it frees the name
            if (config is not null && NameTarget(config.Name) is null)
                File.CreateSymbolicLink(Path.Combine(NamesDir, config.Name), config.Id);
        }
    }

    /// <summary>The id a name is claimed for, or null.</summary>
    string? NameTarget(string name) => new FileInfo(Path.Combine(NamesDir, name)).LinkTarget;
}
