/* Inside the new namespaces: the container's root, its /dev /proc /sys, its
 * hostname and loopback, then exec. Every failure goes up the error pipe
 * naming the call and the path. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#define OLD_ROOT "/.unicorn-oldroot"

static int errfd;

#define CHECK(call, path, ...)                                          \
    do {                                                                \
        if ((call) < 0)                                                 \
            fail(errfd, errno, "setup", __VA_ARGS__, path);             \
    } while (0)

static void mount_fs(const char *type, const char *target, unsigned long flags, const char *data)
{
    CHECK(mkdir_p(target, 0755), target, "mkdir %s");
    CHECK(mount(type, target, type, flags, data), target, "mount %s on %s", type);
}

static void make_dev(void)
{
    static const struct { const char *name; int major, minor; } nodes[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
        {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
    };
    static const struct { const char *target, *name; } links[] = {
        {"pts/ptmx", "/dev/ptmx"}, {"/proc/self/fd", "/dev/fd"},
        {"/proc/self/fd/0", "/dev/stdin"}, {"/proc/self/fd/1", "/dev/stdout"},
        {"/proc/self/fd/2", "/dev/stderr"},
    };
    char path[64];

    mount_fs("tmpfs", "/dev", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
        snprintf(path, sizeof path, "/dev/%s", nodes[i].name);
        CHECK(mknod(path, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)), path, "mknod %s");
    }
    mount_fs("devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    mount_fs("tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    mount_fs("mqueue", "/dev/mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    for (size_t i = 0; i < sizeof links / sizeof *links; i++)
        CHECK(symlink(links[i].target, links[i].name), links[i].name, "symlink %s");
}

/* Bind mounts, after pivot_root: the destination is resolved inside the new
 * root, so a symlink in the image cannot point it at the host. The source was
 * opened before pivot_root and is reached through /proc/self/fd. */
static void bind_mounts(const struct spec *spec, const int *sources)
{
    char from[64];
    for (size_t i = 0; i < spec->nbinds; i++) {
        const struct bind *b = &spec->binds[i];
        struct stat st;
        CHECK(fstat(sources[i], &st), b->source, "stat %s");
        if (S_ISDIR(st.st_mode)) {
            CHECK(mkdir_p(b->destination, 0755), b->destination, "mkdir %s");
        } else {
            char parent[PATH_MAX];
            snprintf(parent, sizeof parent, "%s", b->destination);
            char *slash = strrchr(parent, '/');
            if (slash && slash != parent) {
                *slash = '\0';
                CHECK(mkdir_p(parent, 0755), parent, "mkdir %s");
            }
            int fd = open(b->destination, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            CHECK(fd, b->destination, "create %s");
            close(fd);
        }
        snprintf(from, sizeof from, "/proc/self/fd/%d", sources[i]);
        CHECK(mount(from, b->destination, NULL, MS_BIND | MS_REC, NULL), b->destination,
              "bind %s on %s", b->source);
        /* Read-only all the way down: the mounts below the source too. */
        struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
        if (b->readonly)
            CHECK(mount_setattr(AT_FDCWD, b->destination, AT_RECURSIVE, &ro, sizeof ro),
                  b->destination, "make %s read-only");
        close(sources[i]);
    }
}

static void loopback_up(void)
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

void container_main(const struct spec *spec, int error_pipe, int console)
{
    errfd = error_pipe;
    if (!spec->rootfs)
        fail(errfd, EINVAL, "setup", "%s", "the spec names no rootfs");
    char go = 0;
    /* Wait for the engine: cgroups and network are in place before we run. */
    if (read(FD_GO, &go, 1) != 1 || go != 'g')
        fail(errfd, ECANCELED, "setup", "%s", "no go-ahead from the engine");
    close(FD_GO);
    close(FD_REPORT);
    /* First, while the paths are the host's: the limits hold for all we do. */
    for (char **dir = spec->cgroups; *dir; dir++)
        CHECK(join_cgroup(*dir), *dir, "join cgroup %s");
    umask(0);

    if (spec->hostname)
        CHECK(sethostname(spec->hostname, strlen(spec->hostname)), spec->hostname, "sethostname %s");
    loopback_up();

    /* pivot_root refuses a shared root, and our mounts must not reach the host. */
    CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "/", "make %s rprivate");
    CHECK(mount(spec->rootfs, spec->rootfs, NULL, MS_BIND | MS_REC, NULL), spec->rootfs, "bind %s on itself");

    int *sources = calloc(spec->nbinds + 1, sizeof(int));
    for (size_t i = 0; i < spec->nbinds; i++) {
        sources[i] = open(spec->binds[i].source, O_PATH | O_CLOEXEC);
        CHECK(sources[i], spec->binds[i].source, "open %s");
    }

    CHECK(chdir(spec->rootfs), spec->rootfs, "chdir %s");
    CHECK(mkdir_p("." OLD_ROOT, 0700), OLD_ROOT, "mkdir %s");
    CHECK(syscall(SYS_pivot_root, ".", "." OLD_ROOT), spec->rootfs, "pivot_root to %s");
    CHECK(chdir("/"), "/", "chdir %s");

    mount_fs("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_fs("sysfs", "/sys", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    make_dev();
    bind_mounts(spec, sources);
    free(sources);

    CHECK(umount2(OLD_ROOT, MNT_DETACH), OLD_ROOT, "unmount %s");
    CHECK(rmdir(OLD_ROOT), OLD_ROOT, "rmdir %s");

    const char *cwd = spec->cwd ? spec->cwd : "/";
    CHECK(mkdir_p(cwd, 0755), cwd, "mkdir %s");
    confine_mounts(spec, errfd);
    CHECK(chdir(cwd), cwd, "chdir %s");
    /* The working directory must be inside the new root (CVE-2024-21626: a
     * leaked fd's directory would be outside, and getcwd would say so). */
    char here[PATH_MAX];
    if (!getcwd(here, sizeof here) || here[0] != '/')
        fail(errfd, EPERM, "setup", "the working directory %s is outside the container's root", cwd);

    /* The pty comes from the container's own devpts, so `tty` inside names it. */
    char slave[64], *tty = NULL;
    if (spec->tty) {
        int master = pty_open(slave, sizeof slave);
        CHECK(master, "/dev/ptmx", "open a pty from %s");
        CHECK(send_fd(console, master), "the supervisor", "send the pty to %s");
        close(master);
        close(console);
        tty = slave;
    }
    prepare_exec(&spec->user, &spec->security);
    run_command(spec->argv, spec->envp, spec->init, tty, errfd);
}
