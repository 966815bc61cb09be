/* The container's confinement: masked and read-only paths, a read-only root
 * with tmpfs mounts, and, just before exec, rlimits, the seccomp filter,
 * capabilities and no_new_privs. What to apply comes from the spec; the
 * engine decides the defaults (Docker's). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher.h"

#define KERNEL_PATH (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)

/* A masked or read-only path, by descriptor. One that this kernel lacks needs
 * nothing (-1, ENOENT); any other failure fails the start: a confinement step
 * is never skipped. One under /proc or /sys must be on the kernel's own
 * filesystem there, not on something an image or a volume put in its way. */
static int confined_path(int root, const char *path, int errfd)
{
    int fd = open_in_root(root, path, O_PATH | O_NOFOLLOW, KERNEL_PATH);
    if (fd < 0 && errno == ENOENT)
        return -1;
    CHECK(fd, path, "open %s to confine it");
    if (!strncmp(path, "/proc/", 6) || !strncmp(path, "/sys/", 5)) {
        int kernel = on_kernel_fs(fd);
        CHECK(kernel, path, "statfs %s");
        if (!kernel)
            fail(errfd, EXDEV, "setup", "confine %s: it is not on the kernel's /proc or /sys", path);
    }
    return fd;
}

/* /dev/null over a file, an empty read-only tmpfs over a directory (runc's way). */
static void mask_path(int root, int null, const char *path, int errfd)
{
    int fd = confined_path(root, path, errfd);
    if (fd < 0)
        return;
    struct stat st;
    CHECK(fstat(fd, &st), path, "stat %s");
    int mask = S_ISDIR(st.st_mode) ? new_fs("tmpfs", NULL, "size=0", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)
                                   : clone_tree(null, "", 0, 0);
    CHECK(mask, path, "make the mask of %s");
    CHECK(attach(mask, fd), path, "mask %s");
    close(fd);
}

static void read_only_path(int root, const char *path, int errfd)
{
    int fd = confined_path(root, path, errfd);
    if (fd < 0)
        return;
    int ro = clone_tree(fd, "", 1, MOUNT_ATTR_RDONLY);
    CHECK(ro, path, "clone the mount of %s");
    CHECK(attach(ro, fd), path, "make %s read-only");
    close(fd);
}

/* After pivot_root, with the spec's mounts, devices and sysctls in place. */
void confine_mounts(const struct spec *spec, int root, int errfd)
{
    for (char **t = spec->tmpfs; *t; t++) {
        int target = mount_target(root, *t, 1, errfd);
        int mnt = new_fs("tmpfs", NULL, "mode=1777", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        CHECK(mnt, *t, "make a tmpfs for %s");
        CHECK(attach(mnt, target), *t, "mount tmpfs on %s");
        close(target);
    }
    int null = *spec->masked ? open_in_root(root, "/dev/null", O_PATH | O_NOFOLLOW, KERNEL_PATH) : -1;
    if (*spec->masked)
        CHECK(null, "/dev/null", "open %s");
    for (char **p = spec->masked; *p; p++)
        mask_path(root, null, *p, errfd);
    if (null >= 0)
        close(null);
    for (char **p = spec->readonly; *p; p++)
        read_only_path(root, *p, errfd);
    if (spec->root_readonly) {
        /* Only the root's own mount: /proc, /dev, the binds and the tmpfs keep their modes. */
        struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
        CHECK(mount_setattr(root, "", AT_EMPTY_PATH, &ro, sizeof ro), "/", "make %s read-only");
    }
}

static int load_seccomp(const struct security *s)
{
    struct sock_fprog prog = {.len = (unsigned short)(s->seccomp_len / sizeof(struct sock_filter)),
                              .filter = (struct sock_filter *)s->seccomp};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* Still root, with every capability: the limits, then the filter if it cannot
 * wait for the end (loading it takes CAP_SYS_ADMIN or no_new_privs: without
 * no_new_privs it must come before the capabilities go), then the bounding
 * set. The rest of the capability sets is set once the user is known. */
void confine_process(const struct security *s, int errfd)
{
    for (size_t i = 0; i < s->nrlimits; i++) {
        struct rlimit r = {.rlim_cur = s->rlimits[i].soft, .rlim_max = s->rlimits[i].hard};
        if (setrlimit(s->rlimits[i].resource, &r) < 0)
            fail(errfd, errno, "setup", "setrlimit %d", s->rlimits[i].resource);
    }
    if (s->seccomp && !s->no_new_privs && load_seccomp(s) < 0)
        fail(errfd, errno, "setup", "%s", "load the seccomp filter");
    if (!s->caps_set)
        return;
    for (int cap = 0; cap <= 63; cap++)
        if (!(s->bounding >> cap & 1) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            fail(errfd, errno, "setup", "drop capability %d from the bounding set", cap);
}

/* Effective and permitted: the kept sets (for a user other than root, exec
 * empties them, as in Docker). Inheritable and ambient: what the spec says, which
 * the PowerShell face leaves empty, as moby and runc do since CVE-2022-24769, so
 * that no file's inheritable capabilities can add to what a process may gain. */
void confine_caps(const struct security *s, int errfd)
{
    if (s->caps_set) {
        struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct data[2] = {0}, have[2] = {0};
        if (syscall(SYS_capget, &header, have) < 0)
            fail(errfd, errno, "setup", "%s", "capget");
        /* No more than we have: a host (or a runtime around us) may hold some back. */
        for (int i = 0; i < 2; i++) {
            data[i].effective = (uint32_t)(s->effective >> (32 * i)) & have[i].permitted;
            data[i].permitted = (uint32_t)(s->permitted >> (32 * i)) & have[i].permitted;
            data[i].inheritable = (uint32_t)(s->inheritable >> (32 * i)) & have[i].permitted;
        }
        if (syscall(SYS_capset, &header, data) < 0)
            fail(errfd, errno, "setup", "%s", "capset");
        /* Ambient: only what is also permitted and inheritable can be raised (OCI's ambient set).
         * One that is not (runc spec's default lists ambient capabilities but no inheritable
         * ones) stays down, as runc leaves it: the process has less, never more. */
        for (int cap = 0; cap <= 63; cap++)
            if ((s->ambient >> cap & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM)
                fail(errfd, errno, "setup", "raise ambient capability %d", cap);
    }
    if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail(errfd, errno, "setup", "%s", "no_new_privs");
}

/* Reads the filter (a file of struct sock_filter, built by the engine)
 * while the host's paths are still reachable. */
/* With no_new_privs, the filter is the very last step before exec (as runc
 * loads it), so that a strict profile need not allow the launcher's own calls. */
void confine_last(const struct security *s, int errfd)
{
    if (s->seccomp && s->no_new_privs && load_seccomp(s) < 0)
        fail(errfd, errno, "setup", "%s", "load the seccomp filter");
}

int read_seccomp(const char *path, struct security *s)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size == 0 || st.st_size % sizeof(struct sock_filter) || st.st_size > 65536) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    s->seccomp = malloc(st.st_size);
    ssize_t n = s->seccomp ? read(fd, s->seccomp, st.st_size) : -1;
    close(fd);
    if (n != st.st_size) {
        errno = n < 0 ? errno : EIO;
        return -1;
    }
    s->seccomp_len = st.st_size;
    return 0;
}
