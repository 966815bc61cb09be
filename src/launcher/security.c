/* The container's confinement: masked and read-only paths, a read-only root
 * with tmpfs mounts, and, just before exec, rlimits, the seccomp filter,
 * capabilities and no_new_privs. What to apply comes from the spec; the
 * engine decides the defaults (Docker's). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
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

#define CHECK(call, path, ...)                                          \
    do {                                                                \
        if ((call) < 0)                                                 \
            fail(errfd, errno, "setup", __VA_ARGS__, path);             \
    } while (0)

/* A masked path: /dev/null over a file, an empty read-only tmpfs over a
 * directory (runc's way); one that does not exist needs no mask. */
static void mask_path(const char *path, int errfd)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode))
        CHECK(mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0"), path, "mask %s");
    else
        CHECK(mount("/dev/null", path, NULL, MS_BIND, NULL), path, "mask %s");
}

static void read_only_path(const char *path, int errfd)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return;
    CHECK(mount(path, path, NULL, MS_BIND | MS_REC, NULL), path, "bind %s on itself");
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
    CHECK(mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &ro, sizeof ro), path, "make %s read-only");
}

/* After pivot_root, with /proc, /sys, /dev and the binds in place. */
void confine_mounts(const struct spec *spec, int errfd)
{
    for (char **t = spec->tmpfs; *t; t++) {
        CHECK(mkdir_p(*t, 0755), *t, "mkdir %s");
        CHECK(mount("tmpfs", *t, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"), *t, "mount tmpfs on %s");
    }
    for (char **p = spec->masked; *p; p++)
        mask_path(*p, errfd);
    for (char **p = spec->readonly; *p; p++)
        read_only_path(*p, errfd);
    if (spec->root_readonly)
        /* Only the root's own mount: /proc, /dev, the binds and the tmpfs keep their modes. */
        CHECK(mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), "/", "remount %s read-only");
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
        if (!(s->caps >> cap & 1) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            fail(errfd, errno, "setup", "drop capability %d from the bounding set", cap);
}

/* Effective and permitted: the kept set (for a user other than root, exec
 * empties them, as in Docker). Inheritable: empty, as moby and runc leave it
 * since CVE-2022-24769, so that no file's inheritable capabilities can add to
 * what a process may gain. */
void confine_caps(const struct security *s, int errfd)
{
    if (s->caps_set) {
        struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct data[2] = {0}, have[2] = {0};
        if (syscall(SYS_capget, &header, have) < 0)
            fail(errfd, errno, "setup", "%s", "capget");
        /* No more than we have: a host (or a runtime around us) may hold some back. */
        for (int i = 0; i < 2; i++)
            data[i].effective = data[i].permitted = (uint32_t)(s->caps >> (32 * i)) & have[i].permitted;
        if (syscall(SYS_capset, &header, data) < 0)
            fail(errfd, errno, "setup", "%s", "capset");
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
