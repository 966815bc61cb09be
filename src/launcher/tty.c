/* Interactive containers: a pseudo-terminal from the container's own devpts
 * instance, made the command's controlling terminal, and the relay between it
 * and the user's terminal (raw mode, window size, output to the log too). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "launcher.h"

/* A terminal device of the container's devpts, opened inside its root and
 * through no symlink (the container owns /dev/ptmx and may point it elsewhere). */
static int open_tty(const char *path, int flags)
{
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return -1;
    int fd = open_in_root(root, path, flags | O_NOCTTY, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    int err = errno;
    close(root);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))) {
        close(fd);
        fd = -1;
        err = ENOTTY;
    }
    errno = err;
    return fd;
}

/* Opens a pty in the caller's /dev/pts (the container's, once inside it).
 * Returns the master, and the slave's path in slave; -1 on failure. */
int pty_open(char *slave, size_t size)
{
    int master = open_tty("/dev/pts/ptmx", O_RDWR);
    if (master < 0)
        return -1;
    if (unlockpt(master) < 0 || ptsname_r(master, slave, size) != 0) {
        int err = errno;
        close(master);
        errno = err;
        return -1;
    }
    return master;
}

/* In the command's process: a session of its own with the pty's slave as its
 * controlling terminal and its stdin, stdout and stderr. */
void pty_attach(const char *slave, int errfd)
{
    if (setsid() < 0)
        fail(errfd, errno, "setup", "%s", "setsid");
    int fd = open_tty(slave, O_RDWR);
    if (fd < 0)
        fail(errfd, errno, "setup", "open %s", slave);
    if (ioctl(fd, TIOCSCTTY, 0) < 0)
        fail(errfd, errno, "setup", "make %s the controlling terminal", slave);
    for (int i = 0; i < 3; i++)
        if (dup2(fd, i) < 0)
            fail(errfd, errno, "setup", "dup2 %s", slave);
    close(fd);
}

/* The master fd travels from the container to the supervisor over a socket. */
int send_fd(int sock, int fd)
{
    char byte = 0, control[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* The master goes out with the window size the caller asked for (an OCI console socket's owner
 * reads it as the terminal's first size); none asked (0), it is left as the kernel made it. */
int pty_send(int console, int master, const struct spec *spec)
{
    struct winsize ws = {.ws_row = spec->console_rows, .ws_col = spec->console_columns};
    if ((ws.ws_row || ws.ws_col) && ioctl(master, TIOCSWINSZ, &ws) < 0)
        return -1;
    return send_fd(console, master);
}

int recv_fd(int sock)
{
    char byte, control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

void copy_window_size(int master)
{
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0)
        ioctl(master, TIOCSWINSZ, &ws);
}

/* Relays the user's terminal (our 0 and 1) and the pty's master until child
 * has exited and the pty is done; passes signals on, and window size changes.
 * Returns the child's exit code. */
int tty_relay(int master, pid_t child, int sigfd, struct logfile *log)
{
    struct termios saved, raw;
    int is_tty = tcgetattr(0, &saved) == 0;
    if (is_tty) { /* keys go to the container as they are: ^C is its SIGINT, not ours */
        raw = saved;
        cfmakeraw(&raw);
        tcsetattr(0, TCSANOW, &raw);
        copy_window_size(master);
    }

    struct stream out = {.fd = master, .tee = 1, .log = log, .name = "stdout"};
    struct pollfd fds[3] = {{.fd = 0, .events = POLLIN}, {.fd = master, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
    int code = -1;
    char buf[4096];
    while (fds[1].fd >= 0) {
        int n = poll(fds, 3, code < 0 ? -1 : 2000);
        if (n == 0)
            break;
        if (n < 0)
            continue;
        if (fds[0].revents) {
            ssize_t got = read(0, buf, sizeof buf);
            if (got <= 0)
                fds[0].fd = -1; /* no more input: the command sees none either */
            else
                for (ssize_t done = 0, w; done < got; done += w > 0 ? w : 0)
                    if ((w = write(master, buf + done, got - done)) < 0 && errno != EINTR)
                        break;
        }
        int got = fds[1].revents ? relay_read(&out) : 1;
        if (got == 0) /* EIO once no process holds the slave */
            fds[1].fd = -1;
        if (got < 2) /* nothing more for now: the records gathered go to the log */
            log_flush(log);
        if (fds[2].revents && (n = on_signal(sigfd, child, master)) >= 0)
            code = n;
    }
    relay_flush(&out);
    log_flush(log);
    if (is_tty)
        tcsetattr(0, TCSANOW, &saved);
    close(master);
    if (code < 0) {
        int status = 0;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
        code = exit_code(status);
    }
    return code;
}
