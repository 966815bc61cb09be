using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Unicorn.Images;
using Unicorn.Native;
using L = Tmds.Linux.LibC;

namespace Unicorn.Runtime;

/// <summary>One copy between the host and a container (Copy-UnicornItem), as docker cp does it:
/// the source is written as a tar stream (<see cref="LayerWriter.WriteItem"/>) and extracted at
/// the destination (<see cref="LayerExtractor.ExtractCopy"/>), on two threads joined by a pipe.
/// Both sides are reached by descriptor: every path is resolved inside its root (the container's,
/// or the host's /) by openat2 RESOLVE_IN_ROOT without magic links, the source's last component
/// is not followed (a symbolic link is copied as a link), nothing in the tree is followed, and
/// files are made relative to their directory's descriptor, O_EXCL | O_NOFOLLOW. A container
/// that swaps a directory for a symbolic link meanwhile gets its own root's file, never the
/// host's. Without Force nothing that exists is overwritten: that is checked before a byte is
/// written.</summary>
public sealed class ContainerCopy : IDisposable
{
    /// <summary>The default of -MaxSize: a container's files are its own to grow (a sparse file
    /// of a terabyte costs it nothing), and a copy out would write them all.</summary>
    public const long DefaultMaxSize = 64L << 30;

    readonly Container _container;
    readonly int _containerRoot, _hostRoot;
    readonly bool _toContainer;
    int _source; // O_PATH, until the writer takes it
    readonly bool _contentOnly;
    readonly string _entry = "";              // what the writer names the source, relative to the destination's root
    readonly List<string> _targets = [];      // what the copy makes at the top, relative to that root
    readonly List<string> _fresh = [];        // those of them that did not exist

    /// <summary>The source as the user would write it: "/host/path" or "container:/path".</summary>
    public string Source { get; }
    /// <summary>Where it goes, written the same way.</summary>
    public string Destination { get; }

    internal ContainerCopy(Container c, int containerRoot, string source, string destination, bool toContainer, bool force)
    {
        (_container, _containerRoot, _toContainer) = (c, containerRoot, toContainer);
        _hostRoot = Libc.Open("/", L.O_PATH | L.O_DIRECTORY);
        _source = -1;
        try
        {
            var src = Parse(source);
            var dst = Parse(destination);
            Source = Show(!toContainer, src.Clean);
            Destination = Show(toContainer, dst.Clean);

            // The source: its directory resolved inside its root, its last component not followed
            // unless the path says "a directory" (a trailing "/" or "/.").
            int err = TryOpen(SourceRoot, src.Clean, follow: src.Slash, out _source);
            if (err == Errno.ENOENT || err == Errno.ENOTDIR || Libc.IsLoop(err))
                throw new UnicornException("ItemNotFound", ErrorKind.ObjectNotFound,
                    $"There is no {(src.Slash ? "directory" : "file or directory")} '{Source}'{(Libc.IsLoop(err) ? " (its path goes through symbolic links that loop)" : "")}. Check the path{(toContainer ? "" : $" (Invoke-UnicornCommand {c.Name} -Command ls, -l, <dir> lists a directory of a running container)")}.", Source);
            if (err != 0)
                throw new NativeException(err, "openat2", Source);
            var st = Libc.Fstat(_source, Source);
            if (!st.IsDirectory && st.Type != (uint)L.S_IFREG && st.Type != (uint)L.S_IFLNK)
                throw new UnicornException("UnsupportedItem", ErrorKind.InvalidArgument,
                    $"'{Source}' is {(st.Type == (uint)L.S_IFIFO ? "a FIFO" : st.Type == (uint)L.S_IFSOCK ? "a socket" : "a device")}: a copy takes files, directories and symbolic links only.", Source);
            if (src.Slash && !st.IsDirectory)
                throw new UnicornException("ItemNotFound", ErrorKind.ObjectNotFound,
                    $"There is no directory '{Source}': it is a file. Leave out the trailing '/' to copy the file.", Source);
            string name = src.Clean[(src.Clean.LastIndexOf('/') + 1)..];

            // The destination: an existing directory takes the source in; any other path is the
            // source's new name, in a directory that must exist.
            err = TryOpen(DestinationRoot, dst.Clean, follow: true, out int dfd);
            if (err == 0)
            {
                var dstStatus = Libc.Fstat(dfd, Destination);
                Libc.Close(dfd);
                if (dstStatus.IsDirectory)
                {
                    _contentOnly = src.Content;
                    _entry = _contentOnly ? dst.Clean : Join(dst.Clean, name);
                    if (_contentOnly)
                        _targets.AddRange(ChildrenOfSource().Select(n => Join(dst.Clean, n)));
                    else
                        _targets.Add(_entry);
                }
                else if (st.IsDirectory || dst.Slash)
                    throw new UnicornException("DestinationNotDirectory", ErrorKind.InvalidArgument,
                        $"'{Destination}' is a file; {(st.IsDirectory ? "a directory cannot be copied onto a file" : "a trailing '/' names a directory")}. Give a directory, or a new name.", Destination);
                else
                    _targets.Add(_entry = dst.Clean);
            }
            else if (err == Errno.ENOENT || err == Errno.ENOTDIR)
            {
                var parent = Parent(dst.Clean);
                if ((dst.Slash && !st.IsDirectory) || TryOpen(DestinationRoot, parent, follow: true, out int pfd) != 0 || !IsDirectory(pfd))
                    throw new UnicornException("DestinationNotFound", ErrorKind.ObjectNotFound,
                        $"There is no directory '{Show(toContainer, dst.Slash && !st.IsDirectory ? dst.Clean : parent)}' to copy into. Make it first{(toContainer ? $" (Invoke-UnicornCommand {c.Name} -Command mkdir, -p, <dir>)" : " (New-Item -ItemType Directory)")}.", Destination);
                _targets.Add(_entry = dst.Clean); // a directory's content (src/.) goes in as the directory itself, under its new name
            }
            else
                throw new NativeException(err, "openat2", Destination);

            foreach (var target in _targets)
            {
                if (!Exists(target))
                    _fresh.Add(target);
                else if (!force)
                    throw new UnicornException("DestinationExists", ErrorKind.ResourceExists,
                        $"'{Show(toContainer, target)}' exists already. Use -Force to overwrite it (files are replaced, directories merged), or copy to another name.", Show(toContainer, target));
            }
            if (_targets.Count == 1)
                Destination = Show(toContainer, _targets[0]);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    int SourceRoot => _toContainer ? _hostRoot : _containerRoot;
    int DestinationRoot => _toContainer ? _containerRoot : _hostRoot;

    /// <summary>Copies. Returns what it made at the top: a FileSystemInfo for each on the host,
    /// a <see cref="ContainerItem"/> for each in the container. A copy out that fails removes
    /// what it made on the host; one in leaves what it wrote in the container (removing there,
    /// by path, could be turned against the host by a container that swaps a directory for a
    /// symbolic link meanwhile).</summary>
    public IReadOnlyList<object> Run(CopyOptions options)
    {
        if (_source < 0)
            throw new InvalidOperationException("The copy has run already.");
        var skipped = new ConcurrentQueue<string>();
        var rules = new CopyRules(options.Archive, (path, what) => skipped.Enqueue($"'{path}' is {what}: not copied. A copy takes files, directories and symbolic links only."));
        var budget = new ExtractionBudget(options.MaxSize, (entry, what) => new UnicornException("CopyTooLarge", ErrorKind.LimitsExceeded,
            $"{Source} holds {what}, more than a copy takes (-MaxSize {ImageLimits.Bytes(options.MaxSize)}): the copy stopped at '{entry}'{(_toContainer ? "" : " and what it made is removed")}. If that is expected and there is room, copy again with a larger -MaxSize.", Source));

        var (read, write) = Libc.Pipe();
        var input = new FileStream(new SafeFileHandle(read, ownsHandle: true), FileAccess.Read, 1 << 16);
        int source = _source;
        _source = -1; // the writer closes it
        var writer = Task.Run(() =>
        {
            using var output = new FileStream(new SafeFileHandle(write, ownsHandle: true), FileAccess.Write, 1 << 16);
            LayerWriter.WriteItem(source, _entry, _contentOnly, Source, output, rules);
        });
        Exception? failure = null;
        try
        {
            using var counted = new ProgressStream(input, options, skipped);
            LayerExtractor.ExtractCopy(counted, DestinationRoot, Show(_toContainer, ""), budget);
            counted.CopyTo(Stream.Null); // the end of the tar, which the writer may still be writing
        }
        catch (Exception e) { failure = e; }
        input.Dispose(); // a writer still writing (after a failure) stops, at a broken pipe
        try { writer.GetAwaiter().GetResult(); }
        catch (Exception e)
        {
            // What the writer met is the cause (the extraction then saw the tar cut short),
            // unless it only met the pipe that a failed or cancelled extraction closed.
            if (failure is null || (e is UnicornException && failure is not OperationCanceledException))
                failure = e;
        }
        Drain(skipped, options);
        if (failure is not null)
        {
            if (!_toContainer)
                RemoveFresh();
            throw failure switch
            {
                UnicornException { InnerException: NativeException { ErrorNumber: EROFS } } => new UnicornException("DestinationReadOnly", ErrorKind.PermissionDenied,
                    $"'{Destination}' is on a read-only file system{(_toContainer ? " in the container (started with -ReadOnly, or a read-only volume): copy while it is stopped, or to a writable path" : "")}.", Destination, failure),
                UnicornException u and not { ErrorId: "CopyTooLarge" or "DestinationExists" } => new UnicornException(u.ErrorId, u.Kind, $"Copying {Source} to {Destination} failed: {u.Message}", u.Target, u),
                _ => failure,
            };
        }
        return _targets.Select(Item).ToList();
    }

    const int EROFS = 30;

    static void Drain(ConcurrentQueue<string> skipped, CopyOptions options)
    {
        while (skipped.TryDequeue(out var warning))
            options.Warning?.Invoke(warning);
    }

    /// <summary>A copy out that failed: what it made on the host goes (a tree of the host's,
    /// which no container can change meanwhile).</summary>
    void RemoveFresh()
    {
        foreach (var target in _fresh)
        {
            var path = "/" + target;
            try
            {
                if (Libc.TryLStat(path, out var st) && st.IsDirectory)
                    Files.DeleteTree(path);
                else
                    File.Delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or UnicornException) { }
        }
    }

    object Item(string target)
    {
        if (!_toContainer)
        {
            var path = "/" + target;
            return Libc.TryLStat(path, out var st) && st.IsDirectory ? new DirectoryInfo(path) : new FileInfo(path);
        }
        if (TryOpen(_containerRoot, target, follow: false, out int fd) != 0)
            throw new NativeException(Errno.ENOENT, "openat2", Show(true, target)); // gone at once: the container removed it
        try
        {
            var st = Libc.Fstat(fd, target);
            return new ContainerItem
            {
                ContainerId = _container.Id,
                ContainerName = _container.Name,
                Path = "/" + target,
                ItemType = st.IsDirectory ? "Directory" : st.Type == (uint)L.S_IFLNK ? "SymbolicLink" : "File",
                Length = st.IsDirectory ? 0 : st.Size,
                UnixMode = ModeString(st.Mode),
                Uid = st.Uid,
                Gid = st.Gid,
                LastWriteTime = DateTimeOffset.FromUnixTimeSeconds(st.MtimeSeconds).AddTicks(st.MtimeNanoseconds / 100).LocalDateTime, // as FileInfo has it
            };
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    public void Dispose()
    {
        if (_source >= 0)
            Libc.Close(_source);
        _source = -1;
        if (_hostRoot >= 0)
            Libc.Close(_hostRoot);
        Libc.Close(_containerRoot);
    }

    /// <summary>A user's path: clean and relative to its root; Content for "dir/." (what is in
    /// the directory, not the directory: docker cp's form), Slash for a trailing "/" or "/."
    /// (it names a directory, through a final symbolic link). The root itself is its content.</summary>
    static (string Clean, bool Content, bool Slash) Parse(string path)
    {
        bool content = path == "." || path.EndsWith("/.", StringComparison.Ordinal);
        bool slash = content || path.EndsWith('/');
        var clean = LayerExtractor.Clean(path);
        return clean.Length == 0 ? (clean, true, true) : (clean, content, slash);
    }

    string Show(bool inContainer, string clean) => inContainer ? $"{_container.Name}:/{clean}" : "/" + clean;

    static string Join(string dir, string name) => dir.Length == 0 ? name : dir + "/" + name;
    static string Parent(string clean) => clean[..Math.Max(0, clean.LastIndexOf('/'))];

    /// <summary>Opens clean (relative to root) as an O_PATH descriptor, resolved inside root (as if
    /// it were "/"); the last component is followed (inside root too) only if follow. 0 or the errno.</summary>
    static int TryOpen(int root, string clean, bool follow, out int fd)
    {
        if (follow || clean.Length == 0)
            return Libc.TryOpenPathInRoot(root, clean.Length == 0 ? "." : clean, out fd);
        fd = -1;
        int err = Libc.TryOpenPathInRoot(root, Parent(clean) is { Length: > 0 } parent ? parent : ".", out int dir);
        if (err != 0)
            return err;
        try { return Libc.TryOpenPathAt(dir, Encoding.UTF8.GetBytes(clean[(clean.LastIndexOf('/') + 1)..] + "\0"), out fd); }
        finally { Libc.Close(dir); }
    }

    bool Exists(string target)
    {
        int err = TryOpen(DestinationRoot, target, follow: false, out int fd);
        if (err == 0)
            Libc.Close(fd);
        return err == 0;
    }

    /// <summary>Is fd (which this closes) a directory?</summary>
    static bool IsDirectory(int fd)
    {
        try { return Libc.Fstat(fd, "").IsDirectory; }
        finally { Libc.Close(fd); }
    }

    IEnumerable<string> ChildrenOfSource()
    {
        int dir = Libc.OpenDirectoryOf(_source, Source);
        try { return Libc.ReadDirectory(dir, Source).Select(e => e.Name).ToList(); }
        finally { Libc.Close(dir); }
    }

    static string ModeString(uint mode)
    {
        var s = new StringBuilder(10);
        uint type = mode & (uint)L.S_IFMT;
        s.Append(type == (uint)L.S_IFDIR ? 'd' : type == (uint)L.S_IFLNK ? 'l' : '-');
        for (int shift = 6; shift >= 0; shift -= 3)
        {
            uint bits = (mode >> shift) & 7;
            // setuid, setgid, sticky: on the owner's, group's and others' x.
            bool special = (mode & (0b100_000_000_000u >> ((6 - shift) / 3))) != 0;
            s.Append((bits & 4) != 0 ? 'r' : '-').Append((bits & 2) != 0 ? 'w' : '-');
            s.Append(special ? ((bits & 1) != 0 ? (shift == 0 ? 't' : 's') : (shift == 0 ? 'T' : 'S')) : (bits & 1) != 0 ? 'x' : '-');
        }
        return s.ToString();
    }

    /// <summary>The tar stream, read by the extraction on the calling thread: it counts the
    /// bytes, and reports them (and what the writer skipped) every fifth of a second; a
    /// cancelled copy stops at its next read.</summary>
    sealed class ProgressStream(Stream inner, CopyOptions options, ConcurrentQueue<string> skipped) : ReadOnlyStream
    {
        readonly Stopwatch _clock = Stopwatch.StartNew();
        long _bytes, _reported;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            options.Cancel.ThrowIfCancellationRequested();
            int n = inner.Read(buffer);
            _bytes += n;
            if (_clock.ElapsedMilliseconds - _reported >= 200)
            {
                _reported = _clock.ElapsedMilliseconds;
                options.Progress?.Invoke(_bytes);
                Drain(skipped, options);
            }
            return n;
        }
    }
}
