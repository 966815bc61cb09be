/* exec's `privatebind` records: host directories bound read-only (nosuid, nodev) for the
 * exec'd process alone, in a mount namespace of its own made after it has joined the
 * container's. The container's init and its other processes never see them, and they go
 * when the process ends (the engine binds the host's pwsh and .NET runtime this way). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

int private_binds_clone(const struct spec *spec, int *trees)
{
    for (size_t i = 0; i < spec->nprivate_binds; i++) {
        const struct private_bind *b = &spec->private_binds[i];
        /* Recursive: read-only all the way down, a mount below the source included. */
        trees[i] = clone_tree(AT_FDCWD, b->source, 1, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (trees[i] < 0) {
            report("error %d setup private bind %s: clone the mount of the source: %s", errno, b->source, strerror(errno));
            while (i > 0)
                close(trees[--i]);
            return -1;
        }
    }
    return 0;
}

void private_binds_attach(const struct spec *spec, const int *trees, int errfd)
{
    if (spec->nprivate_binds == 0)
        return;
    /* Our own copy of the container's mounts, a slave of them: the container's later mounts
     * still reach us, ours never reach it (a copy of shared mounts would be their peer). */
    CHECK(unshare(CLONE_NEWNS), "mnt", "unshare the %s namespace");
    CHECK(mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL), "/", "make %s a slave of the container's mounts");
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(root, "/", "open the container's root %s");
    for (size_t i = 0; i < spec->nprivate_binds; i++) {
        const char *dest = spec->private_binds[i].destination;
        /* The container chooses what is there: no symlink on the way (made if missing). */
        int target = mount_point(root, dest, 1, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
        if (target < 0 && errno == ELOOP)
            fail(errfd, errno, "setup", "private bind on %s: a symbolic link in the container is on the way (refused)", dest);
        CHECK(target, dest, "private bind: open the mount point %s in the container");
        int kernel = on_kernel_fs(target);
        CHECK(kernel, dest, "statfs %s");
        if (kernel)
            fail(errfd, EPERM, "setup", "private bind on %s: it is inside /proc or /sys (refused)", dest);
        struct stat st;
        CHECK(fstat(target, &st), dest, "stat %s");
        if (!S_ISDIR(st.st_mode))
            fail(errfd, ENOTDIR, "setup", "private bind on %s: the container has something else than a directory there (refused)", dest);
        if (move_mount(trees[i], "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            fail(errfd, errno, "setup", "private bind %s on %s", spec->private_binds[i].source, dest);
        struct mount_attr private = {.propagation = MS_PRIVATE};
        CHECK(mount_setattr(trees[i], "", AT_EMPTY_PATH | AT_RECURSIVE, &private, sizeof private), dest, "make the private bind on %s private");
        close(target);
    }
    close(root);
}
