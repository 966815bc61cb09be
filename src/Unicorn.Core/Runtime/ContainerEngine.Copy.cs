using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Runtime;

public sealed partial class ContainerEngine
{
    /// <summary>Resolves and checks a copy between the host and the container c (into it, or
    /// out of it): nothing is written until <see cref="ContainerCopy.Run"/>. Paths in the
    /// container are relative to its root; host paths are full paths.</summary>
    public ContainerCopy PlanCopy(Container c, string source, string destination, bool toContainer, bool force)
    {
        int root = OpenRoot(c);
        try { return new ContainerCopy(c, root, source, destination, toContainer, force); }
        catch { Libc.Close(root); throw; }
    }

    /// <summary>The container's root directory (O_PATH). While it runs, its init's root
    /// (/proc/pid/root, checked to be that init's after the open): the tree as the container
    /// sees it, its volumes and tmpfs mounts included. Otherwise its rootfs, mounted again if
    /// need be, or the directory it runs on.</summary>
    int OpenRoot(Container c)
    {
        // Only once its command runs (a start record): before, its init still has the host's root.
        if (c.State is ContainerState.Running or ContainerState.Unknown && ReadStart(c.Id) is { } s
            && Libc.TryOpenAt(L.AT_FDCWD, $"/proc/{s.Pid}/root", L.O_PATH | L.O_DIRECTORY, 0, out int fd) == 0)
        {
            if (ProcFs.IsAlive(s.Pid, s.PidStartTime))
                return fd;
            Libc.Close(fd); // ended meanwhile (or the pid is another's now): its rootfs, then
        }
        string path = c.Rootfs;
        if (c.RootfsId is { } id)
            using (Files.Lock(Paths))
                path = Rootfs.EnsureMounted(id).Path;
        return Libc.Open(path, L.O_PATH | L.O_DIRECTORY);
    }
}
