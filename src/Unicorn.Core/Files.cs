using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Unicorn.Native;

namespace Unicorn;

/// <summary>State files: written atomically, read tolerantly.</summary>
public static class Files
{
    /// <summary>Writes path through a temporary file and a rename: a reader sees the old content
    /// or the new, never half. Durable writes fsync before the rename, so that a crash cannot
    /// leave an empty file either; the state root's files need not be (a reboot clears them,
    /// and each fsync would cost every container start a disk flush).</summary>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> content, bool durable = true)
    {
        var tmp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp");
        try
        {
            Write(tmp, content, Private, durable);
            File.Move(tmp, path, overwrite: true);
        }
        catch (UnicornException)
        {
            File.Delete(tmp);
            throw;
        }
        catch (IOException e)
        {
            File.Delete(tmp);
            throw FileSystemError(path, e);
        }
    }

    /// <summary>Writes path as <see cref="WriteAtomic"/> does (not durable), and returns a
    /// descriptor of it that holds a shared lock on it from before it has its name: whoever
    /// keeps that descriptor (a container's supervisor) is alive while <see cref="IsHeld"/>
    /// says so, and no reader ever sees the file unheld before then.</summary>
    public static int WriteAtomicHeld(string path, ReadOnlySpan<byte> content)
    {
        var tmp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp");
        int fd = -1;
        try
        {
            Write(tmp, content, Private);
            fd = Libc.Open(tmp, Tmds.Linux.LibC.O_RDONLY);
            Libc.LockShared(fd, tmp);
            File.Move(tmp, path, overwrite: true);
            return fd;
        }
        catch (Exception e) when (e is IOException or UnicornException)
        {
            if (fd >= 0)
                Libc.Close(fd);
            File.Delete(tmp);
            throw e is IOException io ? FileSystemError(path, io) : e;
        }
    }

    /// <summary>A descriptor of the existing file at path with a shared lock on it, as
    /// <see cref="WriteAtomicHeld"/> returns for a new one.</summary>
    public static int Hold(string path)
    {
        int fd = Libc.Open(path, Tmds.Linux.LibC.O_RDONLY | Tmds.Linux.LibC.O_CLOEXEC);
        try { Libc.LockShared(fd, path); }
        catch
        {
            Libc.Close(fd);
            throw;
        }
        return fd;
    }

    /// <summary>Is the file at path held (see <see cref="WriteAtomicHeld"/>)? False if it is missing.</summary>
    public static bool IsHeld(string path)
    {
        int fd;
        try { fd = Libc.Open(path, Tmds.Linux.LibC.O_RDONLY); }
        catch (NativeException) { return false; }
        try { return Libc.IsLocked(fd, path); }
        finally { Libc.Close(fd); }
    }

    /// <summary>Writes a new file only its owner (root) may read: state holds the containers'
    /// environments, which may carry secrets.</summary>
    public static void WritePrivate(string path, ReadOnlySpan<byte> content) => Write(path, content, Private);

    /// <summary>Writes a file that others may read (what a container's non-root user reads
    /// through a bind: its /etc/hosts, say).</summary>
    public static void WritePublic(string path, string content) => Write(path, System.Text.Encoding.UTF8.GetBytes(content), (UnixFileMode)0b110_100_100);

    const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    static void Write(string path, ReadOnlySpan<byte> content, UnixFileMode mode, bool durable = false)
    {
        try
        {
            using var fs = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 1, UnixCreateMode = mode,
            });
            fs.Write(content);
            fs.Flush(flushToDisk: durable);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw FileSystemError(path, e);
        }
    }

    /// <summary>A write to the state or data root that failed (a full disk, most often), naming
    /// the file and saying what to do.</summary>
    public static UnicornException FileSystemError(string path, Exception e) => new("UnicornFileSystemError", ErrorKind.WriteError,
        $"Writing '{path}' failed: {e.Message.TrimEnd('.')}. Free space on its file system (or fix its permissions), then try again.", path, e);

    public static void WriteJson<T>(string path, T value, JsonTypeInfo<T> type, bool durable = true) =>
        WriteAtomic(path, JsonSerializer.SerializeToUtf8Bytes(value, type), durable);

    /// <summary>The object in path, or null if the file is missing (e.g. removed meanwhile).
    /// A file that is not that object (empty after a crash, truncated, garbage) is a
    /// <see cref="CorruptStateException"/>: one bad record must not read as a missing one.</summary>
    public static T? ReadJson<T>(string path, JsonTypeInfo<T> type) where T : class =>
        Read(path, bytes => JsonSerializer.Deserialize(bytes, type) ?? throw new CorruptStateException(path, "it holds null"));

    /// <summary>The object parse makes of the file at path, or null if the file is missing; a
    /// JsonException from parse is a <see cref="CorruptStateException"/> (as ReadJson's).</summary>
    public static T? Read<T>(string path, Func<byte[], T> parse) where T : class
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        try
        {
            return parse(bytes);
        }
        catch (JsonException e)
        {
            throw new CorruptStateException(path, e.Message.Split('.')[0], inner: e);
        }
    }

    /// <summary>Holds the engine-wide lock (ids, names, rootfs ownership) until disposed.
    /// An open-file-description lock: safe across threads and processes.</summary>
    public static IDisposable Lock(UnicornPaths paths) => Lock(paths.LockFile);

    /// <summary>Holds the lock on the file at path (made if missing) until disposed: exclusive,
    /// or shared with other shared holders.</summary>
    public static IDisposable Lock(string path, bool shared = false)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        int fd = Libc.Open(path, Tmds.Linux.LibC.O_RDWR | Tmds.Linux.LibC.O_CREAT | Tmds.Linux.LibC.O_CLOEXEC, 0b110_000_000);
        try
        {
            if (shared)
                Libc.LockShared(fd, path);
            else
                Libc.LockExclusive(fd, path);
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
        return new FdCloser(fd);
    }

    sealed class FdCloser(int fd) : IDisposable
    {
        int _fd = fd;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _fd, -1) is var f && f >= 0)
                Libc.Close(f);
        }
    }

    /// <summary>Deletes a directory tree without following symbolic links out of it.
    /// Never call on a directory that may still have a mount below it.</summary>
    public static void DeleteTree(string path)
    {
        if (Directory.Exists(path))
            Directory.Delete(path, recursive: true); // .NET unlinks symlinks, never their targets
    }
}
