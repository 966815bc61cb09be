using Microsoft.Win32.SafeHandles;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Images;

/// <summary>An OCI layout directory, read through a descriptor of it: each file is reached one
/// component at a time below it, through no symbolic link, and opened only once fstat has
/// shown it a regular file (so that neither a fifo nor a device is ever opened).</summary>
sealed class DirectorySource : ArchiveSource
{
    readonly string _root;
    readonly int _fd;

    public DirectorySource(string root)
    {
        _root = root;
        _fd = Libc.Open(root, L.O_PATH | L.O_DIRECTORY);
    }

    public override bool Has(string path)
    {
        int err = Libc.TryOpenBeneath(_fd, path, out int fd);
        if (err == 0)
            Libc.Close(fd);
        return err != Errno.ENOENT;
    }

    protected override byte[] ReadSmall(string path)
    {
        using var stream = new FileStream(Open(path), FileAccess.Read, 1);
        return Archive.ReadCapped(stream, path, _root);
    }

    public override void ForEachBlob(ISet<string> paths, Action<string, Stream> use)
    {
        foreach (var p in paths)
        {
            using var s = new FileStream(Open(p), FileAccess.Read, 1 << 16);
            use(p, s);
        }
    }

    /// <summary>The regular file at path, open for reading.</summary>
    SafeFileHandle Open(string path)
    {
        int err = Libc.TryOpenBeneath(_fd, path, out int pathFd);
        if (err == Errno.ENOENT)
            throw Archive.Missing(path, _root);
        if (err != 0)
            throw Archive.Unsafe(path, $"'{path}' in the layout '{_root}' cannot be reached as a plain file inside it: {Libc.StrError(err)} (a symbolic link, or a file where a directory should be).");
        try
        {
            var type = Libc.Fstat(pathFd, path).Type;
            if (type != (uint)L.S_IFREG)
                throw Archive.Unsafe(path, $"'{path}' in the layout '{_root}' is {TypeName(type)}, not a regular file.");
            // Through the descriptor: the very file fstat saw, whatever is renamed meanwhile.
            return new SafeFileHandle(Libc.Open($"/proc/self/fd/{pathFd}", L.O_RDONLY | L.O_NOCTTY), ownsHandle: true);
        }
        finally
        {
            Libc.Close(pathFd);
        }
    }

    static string TypeName(uint type) =>
        type == (uint)L.S_IFLNK ? "a symbolic link" : type == (uint)L.S_IFIFO ? "a fifo" : type == (uint)L.S_IFDIR ? "a directory"
        : type == (uint)L.S_IFCHR || type == (uint)L.S_IFBLK ? "a device" : type == (uint)L.S_IFSOCK ? "a socket" : "not a regular file";

    public override void Dispose() => Libc.Close(_fd);
    public override string ToString() => _root;
}
