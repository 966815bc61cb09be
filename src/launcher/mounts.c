/* Mounting by file descriptor. Every path inside the container's root is the
 * image's (or the container's) to choose, so none is resolved by the kernel's
 * ordinary walk: a mount point is opened with openat2 inside the root
 * (RESOLVE_IN_ROOT: no symlink or ".." leads out of it), and the filesystem
 * goes onto that descriptor with move_mount, so nothing can swap the path
 * between the check and the mount. New filesystems come from fsopen/fsmount,
 * bind sources from open_tree: no host path is needed once the old root is
 * gone. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
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
