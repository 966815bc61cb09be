/* Inside the new namespaces: the container's root, the spec's mounts, devices
 * and sysctls, its hostname and loopback, then exec. Every failure goes up the error pipe
 * naming the call and the path. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "launcher.h"


/* Inside the root, a mount point for the kernel's filesystems may not be a
 * symlink (an image's /proc -> elsewhere would leave the real /proc unmasked). */
#define NO_SYMLINKS (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)
/* Bind and tmpfs targets may be, as in Docker (/var/run -> /run), but only to
 * somewhere inside the root, and never a magic link of /proc. */
#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

/* The mount records' bind sources, cloned while the host's paths are still
 * ours to walk (detached mounts: they need no path once the old root is gone),
 * their flags set on the detached tree (on every mount below an rbind's source
 * too: ro holds all the way down). -1 for a record that is no bind. */
static int *bind_sources(const struct spec *spec, int errfd)
{
    int *trees = malloc((spec->nmounts + 1) * sizeof(int));
    if (!trees)
        fail(errfd, ENOMEM, "setup", "%s", "malloc");
    for (size_t i = 0; i < spec->nmounts; i++) {
        const struct mount_spec *m = &spec->mounts[i];
        trees[i] = -1;
        if (!m->bind)
            continue;
        trees[i] = clone_tree(AT_FDCWD, m->source, m->bind == 2, m->attrs);
        if (trees[i] < 0)
            fail(errfd, errno, "setup", "bind %s on %s: clone the mount of the source", m->source, m->destination);
    }
    return trees;
}

/* A bind or tmpfs target: inside the root, and not on /proc or /sys, whose
 * files a mount over could turn confinement off (runc refuses them too). */
int mount_target(int root, const char *path, int dir, int errfd)
{
    int target = mount_point(root, path, dir, IN_ROOT);
    CHECK(target, path, "open the mount point %s in the container");
    int kernel = on_kernel_fs(target);
    CHECK(kernel, path, "statfs %s");
    if (kernel)
        fail(errfd, EPERM, "setup", "mount on %s: it is inside /proc or /sys (refused)", path);
    return target;
}

/* A new filesystem's mount point: no symlink on the way (an image's /proc ->
 * elsewhere would leave the real /proc unmasked), and not inside a mounted
 * proc. A tmpfs or cgroup on /sys/fs/cgroup is fine: sysfs has nothing below
 * a mount to turn off. */
static int fs_target(int root, const struct mount_spec *m, int errfd)
{
    int target = mount_point(root, m->destination, 1, NO_SYMLINKS);
    if (target < 0 && errno == ELOOP)
        fail(errfd, errno, "setup", "mount %s on %s: it is a symbolic link in the image, which could send it elsewhere (refused)", m->type, m->destination);
    if (target < 0)
        fail(errfd, errno, "setup", "mount %s on %s: open the mount point", m->type, m->destination);
    struct statfs fs;
    if (fstatfs(target, &fs) < 0)
        fail(errfd, errno, "setup", "mount %s on %s: statfs", m->type, m->destination);
    if (fs.f_type == PROC_SUPER_MAGIC)
        fail(errfd, EPERM, "setup", "mount %s on %s: it is inside /proc (refused)", m->type, m->destination);
    return target;
}

/* A whole file of /proc (its size unknown to stat), NUL-terminated. */
static char *read_proc(const char *path, int errfd)
{
    FILE *f = fopen(path, "re");
    if (!f)
        fail(errfd, errno, "setup", "open %s", path);
    char *text = NULL, *line = NULL;
    size_t size = 0, len = 0;
    FILE *all = open_memstream(&text, &size);
    while (all && getline(&line, &len, f) > 0)
        fputs(line, all);
    free(line);
    fclose(f);
    if (!all || fclose(all) != 0)
        fail(errfd, ENOMEM, "setup", "read %s", path);
    return text;
}

/* A mountinfo path as it is: the kernel writes a space, tab, newline and backslash as \ooo. */
static void unescape(char *path)
{
    char *o = path;
    for (const char *i = path; *i; o++)
        if (i[0] == '\\' && i[1] && i[2] && i[3])
            *o = (char)strtol((char[]){i[1], i[2], i[3], 0}, NULL, 8), i += 4;
        else
            *o = *i++;
    *o = '\0';
}

/* 1 if the comma-separated options hold key=... */
static int has_option(const char *options, const char *key)
{
    size_t n = strlen(key);
    for (const char *o = options; o && *o; o = strchr(o, ',') ? strchr(o, ',') + 1 : NULL)
        if (!strncmp(o, key, n) && o[n] == '=')
            return 1;
    return 0;
}

/* tmpcopyup: the detached tmpfs mnt gets a copy of what its mount point holds (copy_up),
 * and, as runc gives it, the directory's mode when the image had it and the options set none. */
static void fill_copy(int mnt, int target, const struct mount_spec *m, int existed, int errfd)
{
    struct stat st;
    struct copy_up c = {.path = ""};
    int from = openat(target, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int to = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (from < 0 || to < 0 || fstat(from, &st) < 0)
        fail(errfd, errno, "setup", "mount tmpfs on %s: open it for the copy-up", m->destination);
    int kernel = on_kernel_fs(from); /* the kernel's files are no image's to copy */
    if (kernel)
        fail(errfd, kernel < 0 ? errno : EPERM, "setup", "mount tmpfs on %s: a copy-up from proc or sysfs (refused)", m->destination);
    if (existed && !has_option(m->data, "mode") && fchmod(to, st.st_mode & 07777) < 0)
        fail(errfd, errno, "setup", "mount tmpfs on %s: chmod", m->destination);
    if (copy_up(from, to, &c) < 0)
        fail(errfd, errno, "setup", "mount tmpfs on %s: copy up %s%s: %s", m->destination, m->destination, c.path, c.step);
    if (set_attrs(mnt, m->attrs & MOUNT_ATTR_RDONLY, 0) < 0)
        fail(errfd, errno, "setup", "mount tmpfs on %s: make it read-only", m->destination);
}

/* The spec's mount records, in order: each a new filesystem or a bind
 * (cloned before pivot_root), put onto its mount point by descriptor, then
 * given its propagation where it is attached. */
static void mount_all(int root, const struct spec *spec, const int *trees, int errfd)
{
    for (size_t i = 0; i < spec->nmounts; i++) {
        const struct mount_spec *m = &spec->mounts[i];
        int mnt = trees[i], target;
        if (m->bind) {
            struct stat st;
            if (fstat(mnt, &st) < 0)
                fail(errfd, errno, "setup", "bind %s on %s: stat the source", m->source, m->destination);
            target = mount_target(root, m->destination, S_ISDIR(st.st_mode), errfd);
        } else {
            int existed = m->copyup ? open_in_root(root, m->destination, O_PATH, NO_SYMLINKS) : -1;
            if (existed >= 0)
                close(existed);
            target = fs_target(root, m, errfd);
            /* A copy-up writes the tmpfs first: read-only only once filled. */
            if ((mnt = new_fs(m->type, m->source, m->data, m->attrs & ~(m->copyup ? MOUNT_ATTR_RDONLY : 0))) < 0)
                fail(errfd, errno, "setup", "mount %s on %s: make the filesystem (options '%s')", m->type, m->destination, m->data);
            if (m->copyup)
                fill_copy(mnt, target, m, existed >= 0, errfd);
        }
        if (move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            fail(errfd, errno, "setup", "mount %s on %s", m->bind ? m->source : m->type, m->destination);
        struct mount_attr propagation = {.propagation = m->propagation};
        if (m->propagation && mount_setattr(mnt, "", AT_EMPTY_PATH | (m->propagation_recursive ? AT_RECURSIVE : 0), &propagation, sizeof propagation) < 0)
            fail(errfd, errno, "setup", "mount %s on %s: set its propagation", m->bind ? m->source : m->type, m->destination);
        close(mnt);
        close(target);
    }
}

/* 1 if the spec makes the device node /dev/name itself. */
static int spec_makes(const struct spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->ndevices; i++)
        if (!strncmp(spec->devices_made[i].path, "/dev/", 5) && !strcmp(spec->devices_made[i].path + 5, name))
            return 1;
    return 0;
}

/* What a runtime must give every container (runtime-spec: default devices),
 * when /dev is a tmpfs of the spec's: nothing in it is the image's. One that
 * is there already (a bind of the spec's) is left, as runc leaves it. */
static void default_devices(int root, const struct spec *spec, int errfd)
{
    static const struct { const char *name; int major, minor; } nodes[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
        {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
    };
    static const struct { const char *target, *name; } links[] = {
        {"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"},
        {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"},
    };
    size_t i = 0;
    while (i < spec->nmounts && (spec->mounts[i].bind || strcmp(spec->mounts[i].type, "tmpfs") || strcmp(spec->mounts[i].destination, "/dev")))
        i++;
    if (i == spec->nmounts)
        return;
    int dev = open_in_root(root, "/dev", O_PATH | O_DIRECTORY, NO_SYMLINKS);
    CHECK(dev, "/dev", "open %s");
    for (i = 0; i < sizeof nodes / sizeof *nodes; i++)
        if (!spec_makes(spec, nodes[i].name) && mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) < 0 && errno != EEXIST)
            fail(errfd, errno, "setup", "mknod /dev/%s", nodes[i].name);
    for (i = 0; i < sizeof links / sizeof *links; i++)
        if (!spec_makes(spec, links[i].name) && symlinkat(links[i].target, dev, links[i].name) < 0 && errno != EEXIST)
            fail(errfd, errno, "setup", "symlink /dev/%s", links[i].name);
    close(dev);
}

/* A device record: a node under /dev (parents made), by descriptor, then its owner. */
static void make_device(int root, const struct device_spec *d, int errfd)
{
    const char *name = strrchr(d->path, '/') + 1;
    char parent[PATH_MAX];
    if (strncmp(d->path, "/dev/", 5) || strstr(d->path, "/../") || !strcmp(name, "..") || !strcmp(name, ".") || !*name
        || (size_t)(name - d->path) >= sizeof parent)
        fail(errfd, EINVAL, "setup", "device %s: only a path under /dev can be made (give one there)", d->path);
    snprintf(parent, name - d->path, "%s", d->path);
    int dir = mount_point(root, parent, 1, NO_SYMLINKS);
    if (dir < 0)
        fail(errfd, errno, "setup", "device %s: make its directory %s", d->path, parent);
    if (mknodat(dir, name, d->type | d->mode, makedev(d->major, d->minor)) < 0) {
        if (errno != EEXIST) /* there already: left as it is, as runc leaves it */
            fail(errfd, errno, "setup", "device %s: mknod", d->path);
    } else if (fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
        fail(errfd, errno, "setup", "device %s: chown", d->path);
    close(dir);
}

/* The namespace a sysctl belongs to (runc's list); 0: the host's, never written. */
static int sysctl_namespace(const char *name)
{
    if (!strncmp(name, "net.", 4))
        return CLONE_NEWNET;
    if (!strncmp(name, "fs.mqueue.", 10) || !strncmp(name, "kernel.shm", 10) || !strncmp(name, "kernel.msg", 10) || !strncmp(name, "kernel.sem", 10))
        return CLONE_NEWIPC;
    if (!strcmp(name, "kernel.hostname") || !strcmp(name, "kernel.domainname"))
        return CLONE_NEWUTS;
    return 0;
}

/* 1 if the container's namespace of type is not the host's: new, or joined (a pod's)
 * and not pid 1's, as runc takes it; while /proc is still the host's. */
static int own_namespace(int type, int ns)
{
    static const struct { int type; const char *name; } names[] = {{CLONE_NEWNET, "net"}, {CLONE_NEWIPC, "ipc"}, {CLONE_NEWUTS, "uts"}};
    if (ns & type)
        return 1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i].type == type) {
            char ours[32], host[32];
            struct stat a, b;
            snprintf(ours, sizeof ours, "/proc/self/ns/%s", names[i].name);
            snprintf(host, sizeof host, "/proc/1/ns/%s", names[i].name);
            return stat(ours, &a) == 0 && stat(host, &b) == 0 && (a.st_ino != b.st_ino || a.st_dev != b.st_dev);
        }
    return 0;
}

/* /proc/sys/<name, dots as slashes> of the container's /proc (no symlink, on proc). */
static void write_sysctls(int root, const struct spec *spec, int errfd)
{
    for (char **s = spec->sysctls; *s; s += 2) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "/proc/sys/%s", s[0]) >= (int)sizeof path)
            fail(errfd, ENAMETOOLONG, "setup", "sysctl %s", s[0]);
        for (char *c = path + 10; *c; c++)
            if (*c == '.')
                *c = '/';
        int fd = open_in_root(root, path, O_WRONLY, NO_SYMLINKS);
        if (fd < 0)
            fail(errfd, errno, "setup", "sysctl %s: open %s", s[0], path);
        struct statfs fs;
        if (fstatfs(fd, &fs) < 0 || fs.f_type != PROC_SUPER_MAGIC)
            fail(errfd, fs.f_type != PROC_SUPER_MAGIC ? EXDEV : errno, "setup", "sysctl %s: %s is not on the container's /proc", s[0], path);
        size_t len = strlen(s[1]);
        if (write(fd, s[1], len) != (ssize_t)len)
            fail(errfd, errno, "setup", "sysctl %s: write '%s'", s[0], s[1]);
        close(fd);
    }
}

/* runc's rootfsParentMountPrivate: the mount the rootfs is on, private, so that
 * the rootfs's bind joins no peer group (pivot_root refuses a shared parent). */
static void parent_mount_private(const char *rootfs, int errfd)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", rootfs);
    for (;;) {
        if (mount(NULL, path, NULL, MS_PRIVATE, NULL) == 0)
            return;
        char *slash = strrchr(path, '/');
        if (errno != EINVAL || !strcmp(path, "/") || !slash)
            fail(errfd, errno, "setup", "make the mount of %s private", rootfs);
        slash[slash == path] = '\0'; /* EINVAL: no mount point; its parent then */
    }
}

/* runc's msMoveRoot (--no-pivot, a root on ramfs, which pivot_root refuses): the
 * host's proc and sysfs mounts detached (through them a chrooted process could
 * reach what pivot_root would have taken away), then the root moved onto "/". */
static void move_root(const char *rootfs, int errfd)
{
    char *lines = read_proc("/proc/self/mountinfo", errfd);
    size_t rootlen = strlen(rootfs);
    for (char *save = NULL, *l = strtok_r(lines, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char point[PATH_MAX], type[64];
        const char *dash = strstr(l, " - ");
        if (!dash || sscanf(l, "%*s %*s %*s %*s %4095s", point) != 1 || sscanf(dash + 3, "%63s", type) != 1)
            continue;
        if (strcmp(type, "proc") && strcmp(type, "sysfs"))
            continue;
        unescape(point);
        if (!strncmp(point, rootfs, rootlen) && (point[rootlen] == '\0' || point[rootlen] == '/'))
            continue;
        if (mount(NULL, point, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
            if (errno == ENOENT || errno == EINVAL) /* under one detached already */
                continue;
            fail(errfd, errno, "setup", "make %s a slave", point);
        }
        if (umount2(point, MNT_DETACH) < 0 && errno != EINVAL)
            fail(errfd, errno, "setup", "unmount the host's %s", point);
    }
    free(lines);
    CHECK(mount(rootfs, "/", NULL, MS_MOVE, NULL), rootfs, "move %s onto /");
    CHECK(chroot("."), rootfs, "chroot %s");
}

static void loopback_up(int errfd)
{
    struct ifreq ifr = {0};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(fd, "lo", "socket for %s");
    strcpy(ifr.ifr_name, "lo");
    CHECK(ioctl(fd, SIOCGIFFLAGS, &ifr), "lo", "SIOCGIFFLAGS %s");
    ifr.ifr_flags |= IFF_UP;
    CHECK(ioctl(fd, SIOCSIFFLAGS, &ifr), "lo", "SIOCSIFFLAGS %s");
    close(fd);
}

void container_main(const struct spec *spec, int go, int errfd, int console, const int keep[3])
{
    if (!spec->rootfs)
        fail(errfd, EINVAL, "setup", "%s", "the spec names no rootfs");
    /* Wait for the engine: cgroups and network are in place before we run (a restart by
     * the supervisor has them already, and no go-ahead to wait for). */
    char byte = 0;
    if (go >= 0 && (read(go, &byte, 1) != 1 || byte != 'g'))
        fail(errfd, ECANCELED, "setup", "%s", "no go-ahead from the engine");
    if (go >= 0)
        close(go);
    close(report_fd);
    /* First, while the paths are the host's: the limits hold for all we do. */
    for (char **dir = spec->cgroups; *dir; dir++)
        CHECK(join_cgroup(*dir), *dir, "join cgroup %s");
    umask(0);

    /* What would change the host's own (its mounts, its name, its sysctls) is refused. */
    int ns = spec_new_namespaces(spec);
    if (spec->hostname && !own_namespace(CLONE_NEWUTS, ns))
        fail(errfd, EINVAL, "setup", "hostname %s: the container shares the UTS namespace, whose name is the host's (give it a uts namespace of its own, or no hostname)", spec->hostname);
    for (char **s = spec->sysctls; *s; s += 2)
        if (!own_namespace(sysctl_namespace(s[0]), ns))
            fail(errfd, EINVAL, "setup", "sysctl %s: it is not in a namespace of the container's own, so it would change the host's", s[0]);

    if (spec->hostname)
        CHECK(sethostname(spec->hostname, strlen(spec->hostname)), spec->hostname, "sethostname %s");
    if (ns & CLONE_NEWNET)
        loopback_up(errfd);

    /* The root's propagation (runc's prepareRoot): rprivate unless the spec says, so
     * that none of our mounts reaches the host; pivot_root refuses a shared root. */
    unsigned long propagation = spec->root_propagation ? spec->root_propagation : MS_REC | MS_PRIVATE;
    CHECK(mount(NULL, "/", NULL, propagation, NULL), "/", "set the propagation of %s");
    if (!(propagation & MS_PRIVATE))
        parent_mount_private(spec->rootfs, errfd);
    CHECK(mount(spec->rootfs, spec->rootfs, NULL, MS_BIND | MS_REC, NULL), spec->rootfs, "bind %s on itself");
    /* The host sees the rootfs nosuid and nodev (no host user may run a setuid
     * file, or open a device, that an image planted); the container sees its
     * setuid files work, and its devices only when privileged. */
    struct mount_attr inside = {.attr_clr = MOUNT_ATTR_NOSUID | (spec->devices ? MOUNT_ATTR_NODEV : 0)};
    if (!spec->devices)
        inside.attr_set = MOUNT_ATTR_NODEV;
    CHECK(mount_setattr(AT_FDCWD, spec->rootfs, 0, &inside, sizeof inside), spec->rootfs, "set the mount flags of %s");
    int *trees = bind_sources(spec, errfd);

    CHECK(chdir(spec->rootfs), spec->rootfs, "chdir %s");
    if (spec->no_pivot)
        move_root(spec->rootfs, errfd);
    else {
        /* pivot_root(".", "."), then the old root (stacked on the new) unmounted at
         * once, as runc does: no directory of the image's is used for it, and
         * from here on nothing of the host is reachable by any path. */
        CHECK(syscall(SYS_pivot_root, ".", "."), spec->rootfs, "pivot_root to %s");
        /* Not private: a slave first, so that the unmount cannot reach the host. */
        if (!(propagation & MS_PRIVATE))
            CHECK(mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL), "the old root", "make %s a slave");
        CHECK(umount2(".", MNT_DETACH), "the old root", "unmount %s");
    }
    CHECK(chdir("/"), "/", "chdir %s");
    /* runc: the propagation asked for, once the root is "/" (private is already). */
    if (!(propagation & MS_PRIVATE))
        CHECK(mount(NULL, "/", NULL, propagation, NULL), "/", "set the propagation of %s");
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(root, "/", "open %s");

    mount_all(root, spec, trees, errfd);
    free(trees);
    default_devices(root, spec, errfd);
    for (size_t i = 0; i < spec->ndevices; i++)
        make_device(root, &spec->devices_made[i], errfd);
    write_sysctls(root, spec, errfd);

    /* The working directory made before the root may turn read-only; entered after. */
    if (spec->cwd) {
        int cwd = mount_point(root, spec->cwd, 1, IN_ROOT);
        CHECK(cwd, spec->cwd, "make the working directory %s");
        close(cwd);
    }
    confine_mounts(spec, root, errfd);
    enter_cwd(spec->cwd, 1, errfd);
    close(root);

    /* The pty comes from the container's own devpts, so `tty` inside names it. */
    char slave[64], *tty = NULL;
    if (spec->tty) {
        int master = pty_open(slave, sizeof slave);
        CHECK(master, "/dev/ptmx", "open a pty from %s");
        CHECK(pty_send(console, master, spec), spec->console_socket ? spec->console_socket : "the supervisor", "send the pty to %s");
        close(master);
        close(console);
        tty = slave;
        /* create (runc's way): the terminal is our stdio before we park, so that nothing waits on
         * the creator's pipes, which a caller reads to their end (the containerd shim does). */
        if (spec->console_socket) {
            pty_attach(slave, errfd);
            tty = NULL;
        }
    }
    errfd = park(spec, errfd); /* create: wait for `start` (the command's exec errors go to it then) */
    struct command command = {.argv = spec->argv, .envp = spec->envp, .tty = tty, .user = &spec->user,
                              .security = &spec->security, .keep = {keep[0], keep[1], keep[2]},
                              .preserve_fds = spec->preserve_fds};
    run_command(&command, spec->init, errfd);
}
