/* Running the command: what every mode does just before exec, and the tiny
 * init that -Init puts in front of it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "launcher.h"

extern char **environ;

/* Dispositions and the mask survive exec; .NET ignores SIGPIPE and blocks
 * some signals, and glibc's sigaction() will not touch the two real-time
 * signals it keeps for itself (32, 33). The raw call resets them all. */
void reset_signals(void)
{
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } dfl = {0};
    for (int sig = 1; sig <= 64; sig++)
        syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask); /* EINVAL for KILL, STOP */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The working directory, resolved inside the root (the caller's, which is the
 * container's by now): neither a symlink nor "..", nor a magic link of /proc
 * such as /proc/self/fd/N, leads out of it (CVE-2024-21626). getcwd confirms:
 * a directory outside the root has no path from it. */
void enter_cwd(const char *cwd, int create, int errfd)
{
    const unsigned long long resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    if (!cwd)
        cwd = "/";
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        fail(errfd, errno, "setup", "%s", "open /");
    int fd = create ? mount_point(root, cwd, 1, resolve) : open_in_root(root, cwd, O_PATH, resolve);
    if (fd < 0)
        fail(errfd, errno, "setup", "open the working directory %s", cwd);
    if (fchdir(fd) < 0)
        fail(errfd, errno, "setup", "chdir %s", cwd);
    close(fd);
    close(root);
    char here[PATH_MAX];
    if (!getcwd(here, sizeof here) || here[0] != '/')
        fail(errfd, EPERM, "setup", "the working directory %s is outside the container's root", cwd);
}

/* Groups first, then the gid, the uid last: each needs the privilege the next drops. */
static void become(const struct user *u, int errfd)
{
    if (setgroups(u->ngroups, u->groups) < 0)
        fail(errfd, errno, "setup", "%s", "setgroups");
    if (setresgid(u->gid, u->gid, u->gid) < 0)
        fail(errfd, errno, "setup", "setgid %u", (unsigned)u->gid);
    if (setresuid(u->uid, u->uid, u->uid) < 0)
        fail(errfd, errno, "setup", "setuid %u", (unsigned)u->uid);
}

void exec_command(const struct command *c, int errfd)
{
    if (c->tty)
        pty_attach(c->tty, errfd); /* as root: the pty is root's until the command has it */
    confine_process(c->security, errfd);
    if (c->user && c->user->set) {
        /* Keep the permitted set through setuid, so that capset can still set it. */
        prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
        become(c->user, errfd);
        prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    }
    confine_caps(c->security, errfd);
    /* Nothing of ours may leak into the command (CVE-2024-21626): every fd
     * past stdio (and the caller's preserved ones) closes on exec, the error pipe last of all. */
    if (syscall(SYS_close_range, 3 + c->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        fail(errfd, errno, "setup", "%s", "close_range");
    umask(c->security->umask >= 0 ? c->security->umask : 022);
    reset_signals();
    environ = c->envp;
    confine_last(c->security, errfd); /* the filter last: an exec failure is still reported, through write */
    execvp(c->argv[0], c->argv);
    fail(errfd, errno, "exec", "exec %s", c->argv[0]);
}

int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 255;
}

/* Takes one signal from sigfd: a window size change goes to the pty (when
 * there is one), SIGCHLD reaps child if it has ended, any other is passed on
 * to child. Returns child's exit code once it has ended, else -1. */
int on_signal(int sigfd, pid_t child, int master)
{
    struct signalfd_siginfo si;
    int status;
    if (read(sigfd, &si, sizeof si) != sizeof si)
        return -1;
    if (si.ssi_signo == SIGWINCH && master >= 0)
        copy_window_size(master);
    else if (si.ssi_signo != SIGCHLD)
        kill(child, si.ssi_signo);
    else if (waitpid(child, &status, WNOHANG) == child)
        return exit_code(status);
    return -1;
}

/* Closes every descriptor from 3 up but those in keep (-1: none). */
static void close_all_but(const int keep_fds[3])
{
    int keep[3], n = 0;
    for (int i = 0; i < 3; i++)
        if (keep_fds[i] >= 3)
            keep[n++] = keep_fds[i];
    for (int i = 1; i < n; i++) /* three at most: insertion sort */
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned int from = 3;
    for (int i = 0; i < n; i++) {
        if ((unsigned int)keep[i] > from)
            syscall(SYS_close_range, from, keep[i] - 1, 0);
        from = keep[i] + 1;
    }
    syscall(SYS_close_range, from, ~0U, 0);
}

/* Our own command line (argv's memory, from arg_start to arg_end in
 * /proc/self/stat), which /proc/<pid>/cmdline shows, blanked but for name. The
 * tiny init is visible in the container as pid 1, and must not show what it
 * was started with: host paths (the launcher's, the state directory's). */
static void rename_args(const char *name)
{
    char buf[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces: fields from its end */
    for (int field = 2; p && field < 48; field++)
        p = strchr(p + 1, ' ');
    unsigned long start, end;
    if (!p || sscanf(p + 1, "%lu %lu", &start, &end) != 2 || end <= start)
        return;
    char *args = (char *)start;
    memset(args, 0, end - start);
    strncpy(args, name, end - start - 1);
}

/* -Init: stay as pid 1, run the command as our child, reap every orphan that
 * the namespace hands us, pass on every signal, and end as the command ends.
 * A command never written to be pid 1 then gets SIGTERM and no zombies. */
static void init_main(const struct command *c, int errfd)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);

    /* Opened before the command exists: /dev/null is still ours to trust. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0)
        fail(errfd, errno, "setup", "%s", "open /dev/null");
    pid_t cmd = fork();
    if (cmd < 0)
        fail(errfd, errno, "setup", "%s", "fork the command");
    if (cmd == 0) {
        if (!c->tty)
            setpgid(0, 0); /* with a tty, pty_attach gives it a session of its own */
        exec_command(c, errfd);
    }
    /* The command holds the error pipe now (EOF comes with its exec); keep
     * nothing else of the supervisor's open in the container's pid 1 but the
     * output's read ends and the supervisor's pipe (above). */
    /* Nor the caller's terminal (-Interactive): only the command reads it. */
    if (dup2(null, 0) < 0)
        _exit(127);
    close_all_but(c->keep);
    prctl(PR_SET_NAME, "unicorn-init");
    rename_args("unicorn-init");

    /* Every signal through one descriptor, polled with the supervisor's pipe
     * (EOF: it has died) and, from then on, the output to throw away. */
    int sigfd = signalfd(-1, &all, SFD_CLOEXEC);
    struct pollfd fds[4] = {
        {.fd = sigfd, .events = POLLIN},
        {.fd = c->keep[2], .events = POLLIN},
        {.fd = -1, .events = POLLIN},
        {.fd = -1, .events = POLLIN},
    };
    for (;;) {
        if (poll(fds, 4, -1) < 0)
            continue;
        if (fds[1].revents) { /* the supervisor is gone: read its pipes from now on */
            close(fds[1].fd);
            fds[1].fd = -1;
            fds[2].fd = c->keep[0];
            fds[3].fd = c->keep[1];
        }
        for (int i = 2; i < 4; i++)
            if (fds[i].revents) {
                char buf[8192];
                ssize_t n = read(fds[i].fd, buf, sizeof buf);
                if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                    close(fds[i].fd);
                    fds[i].fd = -1;
                }
            }
        if (!(fds[0].revents & POLLIN))
            continue;
        struct signalfd_siginfo si;
        if (read(sigfd, &si, sizeof si) != sizeof si)
            continue;
        if (si.ssi_signo != SIGCHLD) {
            kill(cmd, si.ssi_signo);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            if (pid == cmd)
                _exit(exit_code(status));
    }
}

void run_command(const struct command *c, int init, int errfd)
{
    /* The tiny init is our binary, running inside: not dumpable, so that no process of the
     * container (without CAP_SYS_PTRACE) can open /proc/1/exe (the CVE-2019-5736 class). */
    if (init) {
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* Confined like the command, so that no container process with SYS_PTRACE
         * finds an unconfined root to trace (the command's own steps repeat it). */
        confine_process(c->security, errfd);
        confine_caps(c->security, errfd);
        confine_last(c->security, errfd);
        init_main(c, errfd);
    }
    exec_command(c, errfd);
}
