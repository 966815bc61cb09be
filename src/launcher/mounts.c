/* Mounting by file descriptor. Every path inside the container's root is the
 * image's (or the container's) to choose, so none is resolved by the kernel's
 * ordinary walk: a mount point is opened with openat2 inside the root
 * (RESOLVE_IN_ROOT: no symlink or ".." leads out of it), and the filesystem
 * goes onto that descriptor with move_mount, so nothing can swap the path
 * between the check and the mount. New filesystems come from fsopen/fsmount,
 * bind sources from open_tree: no host path is needed once the old root is
 * gone. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher.h"

int open_in_root(int root, const char *path, int flags, unsigned long long resolve)
{
    struct open_how how = {.flags = flags | O_CLOEXEC, .resolve = resolve};
    int fd;
    do /* EAGAIN: a rename raced the walk, which the kernel then refuses */
        fd = syscall(SYS_openat2, root, path, &how, sizeof how);
    while (fd < 0 && errno == EAGAIN);
    return fd;
}

/* The name after the last '/', and the directory before it (in dir). */
static const char *split(const char *path, char *dir, size_t size)
{
    snprintf(dir, size, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return path;
    *slash = '\0';
    if (dir[0] == '\0')
        strcpy(dir, "/");
    return path + (slash - dir) + 1;
}

/* Symlinks followed while making a mount point, at most (the kernel's own limit). */
#define MAX_LINKS 40

static int make_point(int root, const char *path, int dir, unsigned long long resolve, int links)
{
    int fd = open_in_root(root, path, O_PATH, resolve);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    /* Missing: make it in its parent (itself made if missing, and resolved
     * the same way), then open it again from the root. */
    char parent_path[PATH_MAX];
    const char *name = split(path, parent_path, sizeof parent_path);
    if (strlen(path) >= sizeof parent_path || !*name || !strcmp(name, "..") || !strcmp(name, ".")) {
        errno = EINVAL;
        return -1;
    }
    int parent = make_point(root, parent_path, 1, resolve, links);
    if (parent < 0)
        return -1;
    int made;
    if (dir)
        made = mkdirat(parent, name, 0755);
    else if ((made = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) >= 0)
        made = close(made);
    int err = errno;
    /* A symlink to nothing yet (an image's /etc -> /elsewhere): make its target,
     * resolved inside the root like any path, as Docker does. */
    char link[PATH_MAX], target[PATH_MAX];
    ssize_t n = made < 0 && err == EEXIST && !(resolve & RESOLVE_NO_SYMLINKS) ? readlinkat(parent, name, link, sizeof link - 1) : -1;
    close(parent);
    if (n >= 0) {
        link[n] = '\0';
        if (++links > MAX_LINKS || snprintf(target, sizeof target, "%s/%s", link[0] == '/' ? "" : parent_path, link) >= (int)sizeof target) {
            errno = ELOOP;
            return -1;
        }
        if ((fd = make_point(root, target, dir, resolve, links)) < 0)
            return -1;
        close(fd);
    } else if (made < 0 && err != EEXIST) {
        errno = err;
        return -1;
    }
    return open_in_root(root, path, O_PATH, resolve);
}

int mount_point(int root, const char *path, int dir, unsigned long long resolve)
{
    return make_point(root, path, dir, resolve, 0);
}

int on_kernel_fs(int fd)
{
    struct statfs fs;
    if (fstatfs(fd, &fs) < 0)
        return -1;
    return fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC;
}

int new_fs(const char *type, const char *source, const char *options, unsigned int attrs)
{
    int fs = fsopen(type, FSOPEN_CLOEXEC);
    if (fs < 0)
        return -1;
    /* options: "key=value,flag,...", as mount(2)'s data */
    char *buf = strdup(options ? options : "");
    /* The source is what mountinfo shows, as mount(2) would. */
    int rc = buf ? fsconfig(fs, FSCONFIG_SET_STRING, "source", source && *source ? source : type, 0) : -1;
    for (char *save = NULL, *opt = buf ? strtok_r(buf, ",", &save) : NULL; opt && rc == 0; opt = strtok_r(NULL, ",", &save)) {
        char *value = strchr(opt, '=');
        if (value)
            *value++ = '\0';
        rc = value ? fsconfig(fs, FSCONFIG_SET_STRING, opt, value, 0) : fsconfig(fs, FSCONFIG_SET_FLAG, opt, NULL, 0);
    }
    int mnt = rc < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ? -1 : fsmount(fs, FSMOUNT_CLOEXEC, attrs);
    int err = buf ? errno : ENOMEM;
    free(buf);
    close(fs);
    errno = err;
    return mnt;
}

int set_attrs(int mnt, unsigned long long attrs, int recursive)
{
    /* An atime word replaces the atime mode; the other flags are only ever added. */
    struct mount_attr set = {.attr_set = attrs, .attr_clr = attrs & MOUNT_ATTR__ATIME ? MOUNT_ATTR__ATIME : 0};
    return attrs ? mount_setattr(mnt, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &set, sizeof set) : 0;
}

int clone_tree(int from, const char *path, int recursive, unsigned long long attrs)
{
    unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0) | (path[0] ? 0 : AT_EMPTY_PATH);
    int tree = open_tree(from, path, flags);
    /* A recursive clone's flags hold for the mounts below the source too (ro all the way down). */
    if (tree >= 0 && set_attrs(tree, attrs, recursive) < 0) {
        int err = errno;
        close(tree);
        errno = err;
        return -1;
    }
    return tree;
}

int attach(int mnt, int target)
{
    int rc = move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    int err = errno;
    close(mnt);
    errno = err;
    return rc;
}

/* Copy-up (OCI's tmpcopyup), as runc and crun do it: a new tmpfs, still detached, gets
 * what the directory it goes over holds in the image. The image is hostile, so every name
 * is taken in its directory's descriptor and never followed: a symlink is copied as a
 * symlink, only regular files and directories are opened (O_NOFOLLOW; O_NONBLOCK so that a
 * FIFO swapped in cannot block), FIFOs and sockets are made anew, and device nodes are not
 * made at all (one of the image's would pass the root's nodev, or in /dev stand in for a
 * default device). A directory on another filesystem (a mount below) is copied empty, as
 * `cp -x` does. Owners, modes and times go with each entry; hard links become copies. */

/* Directories below the copy's top, at most: each level holds two descriptors open. */
#define COPY_UP_DEPTH 128

static int failed(struct copy_up *c, const char *step)
{
    c->step = step;
    return -1;
}

/* The owner, mode and times of st onto to/name (made by us in the detached tmpfs, which
 * no one else can reach: nothing there to follow). Owner first: a chown drops setuid. */
static int copy_meta(int to, const char *name, const struct stat *st, struct copy_up *c)
{
    struct timespec times[2] = {st->st_atim, st->st_mtim};
    if (fchownat(to, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return failed(c, "chown");
    if (!S_ISLNK(st->st_mode) && fchmodat(to, name, st->st_mode & 07777, 0) < 0)
        return failed(c, "chmod");
    return utimensat(to, name, times, AT_SYMLINK_NOFOLLOW) < 0 ? failed(c, "set the times") : 0;
}

static int copy_file(int from, int to, const char *name, const struct stat *st, struct copy_up *c)
{
    int src = openat(from, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (src < 0)
        return failed(c, "open");
    struct stat now;
    int dst = -1, rc = -1;
    if (fstat(src, &now) < 0)
        failed(c, "stat");
    else if (!S_ISREG(now.st_mode) || now.st_ino != st->st_ino || now.st_dev != st->st_dev)
        errno = ESTALE, failed(c, "open (it changed while being copied)");
    else if ((dst = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
        failed(c, "create");
    else {
        ssize_t n;
        while ((n = sendfile(dst, src, NULL, 1 << 30)) > 0)
            ;
        rc = n < 0 ? failed(c, "copy") : 0;
    }
    int err = errno;
    close(src);
    if (dst >= 0)
        close(dst);
    errno = err;
    return rc;
}

static int copy_dir(int from, int to, struct copy_up *c, size_t len, int depth);

static int copy_entry(int from, int to, const char *name, struct copy_up *c, size_t len, int depth, dev_t dev)
{
    struct stat st;
    if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return failed(c, "stat");
    switch (st.st_mode & S_IFMT) {
    case S_IFREG:
        if (copy_file(from, to, name, &st, c) < 0)
            return -1;
        break;
    case S_IFDIR: {
        if (depth >= COPY_UP_DEPTH) {
            errno = ELOOP;
            return failed(c, "more than 128 directories deep (refused)");
        }
        if (mkdirat(to, name, 0700) < 0)
            return failed(c, "mkdir");
        if (st.st_dev != dev)
            break;
        int src = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (src < 0)
            return failed(c, "open");
        int dst = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dst < 0) {
            close(src);
            return failed(c, "open the copy");
        }
        if (copy_dir(src, dst, c, len, depth + 1) < 0)
            return -1;
        break;
    }
    case S_IFLNK: {
        char target[PATH_MAX];
        ssize_t n = readlinkat(from, name, target, sizeof target);
        if (n < 0 || n == sizeof target)
            return errno = n < 0 ? errno : ENAMETOOLONG, failed(c, "readlink");
        target[n] = '\0';
        if (symlinkat(target, to, name) < 0)
            return failed(c, "symlink");
        break;
    }
    case S_IFIFO:
    case S_IFSOCK:
        if (mknodat(to, name, (st.st_mode & S_IFMT) | 0600, 0) < 0)
            return failed(c, "mknod");
        break;
    default: /* a device node: not made */
        return 0;
    }
    return copy_meta(to, name, &st, c);
}

/* Every entry of from into to (both closed here); c->path holds from's path, len long. */
static int copy_dir(int from, int to, struct copy_up *c, size_t len, int depth)
{
    struct stat self;
    DIR *d = fstat(from, &self) < 0 ? NULL : fdopendir(from);
    if (!d) {
        int err = errno;
        close(from);
        close(to);
        errno = err;
        return failed(c, "open");
    }
    int rc = 0;
    for (struct dirent *e; rc == 0 && (errno = 0, e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int n = snprintf(c->path + len, sizeof c->path - len, "/%s", e->d_name);
        if (n >= (int)(sizeof c->path - len))
            errno = ENAMETOOLONG, rc = failed(c, "copy");
        else
            rc = copy_entry(dirfd(d), to, e->d_name, c, len + n, depth, self.st_dev);
    }
    if (rc == 0 && errno) {
        c->path[len] = '\0';
        rc = failed(c, "read the directory");
    }
    int err = errno;
    closedir(d);
    close(to);
    errno = err;
    return rc;
}

int copy_up(int from, int to, struct copy_up *c)
{
    c->path[0] = '\0';
    c->step = "";
    return copy_dir(from, to, c, 0, 0);
}
