/* What an attacker would try from inside a container, one call per argument;
 * prints "<name> ok" or "<name> <errno name>". Built static by Security.Tests.ps1
 * and HostileFiles.Tests.ps1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static void report(const char *name, long rc)
{
    if (rc < 0)
        printf("%s %s\n", name, strerrorname_np(errno));
    else
        printf("%s ok\n", name);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "kexec_load"))
            report(a, syscall(SYS_kexec_load, 0, 0, NULL, 0));
        else if (!strcmp(a, "init_module"))
            report(a, syscall(SYS_init_module, "", 0, ""));
        else if (!strcmp(a, "keyctl"))
            report(a, syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
        else if (!strcmp(a, "unshare_user"))
            report(a, unshare(CLONE_NEWUSER));
        else if (!strcmp(a, "unshare_net"))
            report(a, unshare(CLONE_NEWNET));
        else if (!strcmp(a, "reboot"))
            report(a, reboot(0x1234567)); /* an invalid command: EINVAL, harmless, if ever allowed */
        else if (!strcmp(a, "swapon"))
            report(a, swapon("/nonexistent", 0));
        else if (!strcmp(a, "mount"))
            report(a, mount("none", "/mnt", "tmpfs", 0, NULL));
        else if (!strcmp(a, "sethostname"))
            report(a, sethostname("probe", 5));
        else if (!strcmp(a, "bpf"))
            report(a, syscall(SYS_bpf, 0, NULL, 0));
        else if (!strcmp(a, "perf_event_open"))
            report(a, syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
        else if (!strcmp(a, "mknod") && i + 2 < argc) {
            /* A device node made inside and then opened ("b 254:0" or "c 1:11"): the devices
             * cgroup must refuse the open of one not on its list. */
            char type = argv[++i][0];
            unsigned maj, min;
            if (sscanf(argv[++i], "%u:%u", &maj, &min) != 2)
                return 2;
            /* Where: PROBE_NODE, else /tmp/device (on the container's root, which is nodev). */
            const char *node = getenv("PROBE_NODE") ? getenv("PROBE_NODE") : "/tmp/device";
            long rc = mknod(node, (type == 'b' ? S_IFBLK : S_IFCHR) | 0600, makedev(maj, min));
            report("mknod", rc);
            if (rc == 0)
                report("open", open(node, O_RDONLY | O_NONBLOCK));
        } else if (!strcmp(a, "personality_query"))
            report(a, personality(0xffffffff));
        else if (!strcmp(a, "personality_linux32"))
            report(a, personality(PER_LINUX32));
        else if (!strcmp(a, "personality_linux"))
            report(a, personality(PER_LINUX));
        else if (!strcmp(a, "personality_rie"))
            report(a, personality(READ_IMPLIES_EXEC));
        else if (!strcmp(a, "personality_rie_high")) /* READ_IMPLIES_EXEC with a high word the kernel drops */
            report(a, syscall(SYS_personality, 0x100000000UL | READ_IMPLIES_EXEC));
        else if (!strcmp(a, "vsock") || !strcmp(a, "inet")) {
            int fd = socket(!strcmp(a, "vsock") ? AF_VSOCK : AF_INET, SOCK_STREAM, 0);
            report(a, fd);
            if (fd >= 0)
                close(fd);
        } else if (!strcmp(a, "swap")) {
            /* Exchanges each pair of paths that follow, atomically and over and over, until
             * killed: a file with a symbolic link, a directory with one, a file with a FIFO. */
            int pairs = (argc - i - 1) / 2;
            char **p = argv + i + 1;
            for (int k = 0; k < pairs; k++)
                if (renameat2(AT_FDCWD, p[2 * k], AT_FDCWD, p[2 * k + 1], RENAME_EXCHANGE) < 0) {
                    report("swap", -1);
                    return 1;
                }
            printf("swapping\n");
            fflush(stdout);
            for (;;)
                for (int k = 0; k < pairs; k++)
                    renameat2(AT_FDCWD, p[2 * k], AT_FDCWD, p[2 * k + 1], RENAME_EXCHANGE);
        } else if (!strcmp(a, "euid"))
            printf("euid %d\n", (int)geteuid());
        else if (!strcmp(a, "fds")) {
            for (int fd = 0; fd < 1024; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                    printf("fd %d\n", fd);
        } else
            printf("%s unknown\n", a);
    }
    return 0;
}
