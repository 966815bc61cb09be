/* Inside the new namespaces: the container's root, its /dev /proc /sys, its
 * hostname and loopback, then exec. Every failure goes up the error pipe
 * naming the call and the path. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* A new filesystem of type on path (made if missing), its mount point no symlink. */
static void mount_fs(int root, const char *type, const char *path, unsigned int attrs, const char *options, int errfd)
{
    int target = mount_point(root, path, 1, NO_SYMLINKS);
    if (target < 0 && errno == ELOOP)
        fail(errfd, errno, "setup", "mount %s on %s: it is a symbolic link in the image, which could send it elsewhere (refused)", type, path);
    CHECK(target, path, "open the mount point %s");
    int mnt = new_fs(type, options, attrs);
    CHECK(mnt, path, "make a %s for %s", type);
    CHECK(attach(mnt, target), path, "mount %s on %s", type);
    close(target);
}

static void make_dev(int root, int errfd)
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

    mount_fs(root, "tmpfs", "/dev", MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME, "mode=755,size=65536k", errfd);
    /* Our own tmpfs from here on: nothing in it is the image's. */
    int dev = open_in_root(root, "/dev", O_PATH | O_DIRECTORY, NO_SYMLINKS);
    CHECK(dev, "/dev", "open %s");
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++)
        CHECK(mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)), nodes[i].name, "mknod /dev/%s");
    mount_fs(root, "devpts", "/dev/pts", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5", errfd);
    mount_fs(root, "tmpfs", "/dev/shm", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, "mode=1777,size=65536k", errfd);
    mount_fs(root, "mqueue", "/dev/mqueue", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, NULL, errfd);
    for (size_t i = 0; i < sizeof links / sizeof *links; i++)
        CHECK(symlinkat(links[i].target, dev, links[i].name), links[i].name, "symlink /dev/%s");
    close(dev);
}

/* The binds' sources, cloned while the host's paths are still ours to walk
 * (detached mounts: they need no path once the old root is gone). */
static int *bind_sources(const struct spec *spec, int errfd)
{
    int *trees = calloc(spec->nbinds + 1, sizeof(int));
    if (!trees)
        fail(errfd, ENOMEM, "setup", "%s", "calloc");
    for (size_t i = 0; i < spec->nbinds; i++) {
        const struct bind *b = &spec->binds[i];
        trees[i] = clone_tree(AT_FDCWD, b->source, 1, b->readonly);
        CHECK(trees[i], b->source, "clone the mount of %s");
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

static void bind_mounts(int root, const struct spec *spec, const int *trees, int errfd)
{
    for (size_t i = 0; i < spec->nbinds; i++) {
        const struct bind *b = &spec->binds[i];
        struct stat st;
        CHECK(fstat(trees[i], &st), b->source, "stat %s");
        int target = mount_target(root, b->destination, S_ISDIR(st.st_mode), errfd);
        CHECK(attach(trees[i], target), b->destination, "bind %s on %s", b->source);
        close(target);
    }
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

    if (spec->hostname)
        CHECK(sethostname(spec->hostname, strlen(spec->hostname)), spec->hostname, "sethostname %s");
    loopback_up(errfd);

    /* pivot_root refuses a shared root, and our mounts must not reach the host. */
    CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "/", "make %s rprivate");
    CHECK(mount(spec->rootfs, spec->rootfs, NULL, MS_BIND | MS_REC, NULL), spec->rootfs, "bind %s on itself");
    /* The host sees the rootfs nosuid and nodev (no host user may run a setuid
     * file, or open a device, that an image planted); the container sees its
     * setuid files work, and its devices only when privileged. */
    struct mount_attr inside = {.attr_clr = MOUNT_ATTR_NOSUID | (spec->devices ? MOUNT_ATTR_NODEV : 0)};
    if (!spec->devices)
        inside.attr_set = MOUNT_ATTR_NODEV;
    CHECK(mount_setattr(AT_FDCWD, spec->rootfs, 0, &inside, sizeof inside), spec->rootfs, "set the mount flags of %s");
    int *trees = bind_sources(spec, errfd);

    /* pivot_root(".", "."), then the old root (stacked on the new) unmounted at
     * once, as runc does: no directory of the image's is used for it, and
     * from here on nothing of the host is reachable by any path. */
    CHECK(chdir(spec->rootfs), spec->rootfs, "chdir %s");
    CHECK(syscall(SYS_pivot_root, ".", "."), spec->rootfs, "pivot_root to %s");
    CHECK(umount2(".", MNT_DETACH), "the old root", "unmount %s");
    CHECK(chdir("/"), "/", "chdir %s");
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(root, "/", "open %s");

    mount_fs(root, "proc", "/proc", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, NULL, errfd);
    mount_fs(root, "sysfs", "/sys", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, NULL, errfd);
    make_dev(root, errfd);
    bind_mounts(root, spec, trees, errfd);
    free(trees);

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
    }
    errfd = park(spec, errfd); /* create: wait for `start` (the command's exec errors go to it then) */
    struct command command = {.argv = spec->argv, .envp = spec->envp, .tty = tty, .user = &spec->user,
                              .security = &spec->security, .keep = {keep[0], keep[1], keep[2]},
                              .preserve_fds = spec->preserve_fds};
    run_command(&command, spec->init, errfd);
}
