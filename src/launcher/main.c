/* unicorn-launcher: clones the container into its namespaces and stays as its
 * supervisor. The protocol with the engine is in README.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launcher.h"

#define NAMESPACES (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)

static volatile pid_t child;

static void forward(int sig)
{
    if (child > 0)
        kill(child, sig);
}

/* Field 22 of /proc/<pid>/stat: with the pid, it names this process and no
 * later one that reuses the pid. */
static unsigned long long start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 255;
}

/* Read the child's error pipe to EOF: empty means exec succeeded. */
static ssize_t read_error(int fd, char *buf, size_t size)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += n;
    }
    buf[got] = '\0';
    return got;
}

static pid_t wait_child(int *status)
{
    pid_t pid;
    while ((pid = waitpid(child, status, 0)) < 0 && errno == EINTR)
        ;
    return pid;
}

static int supervise(const char *dir)
{
    char path[4096], err[4096];
    struct spec spec;
    snprintf(path, sizeof path, "%s/spec", dir);
    if (spec_read(path, &spec) < 0) {
        report("error %d setup read spec %s: %s", errno, path, strerror(errno));
        return 1;
    }

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        report("error %d setup pipe: %s", errno, strerror(errno));
        return 1;
    }

    /* Forward the usual termination signals to the container. */
    struct sigaction fwd = {.sa_handler = forward};
    int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
        sigaction(forwarded[i], &fwd, NULL);

    /* Raw clone with fork semantics: the child runs on a copy of our stack. */
    pid_t pid = syscall(SYS_clone, NAMESPACES | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0) {
        report("error %d setup clone: %s", errno, strerror(errno));
        return 1;
    }
    if (pid == 0) {
        close(pipefd[0]);
        container_main(&spec, pipefd[1]);
    }
    child = pid;
    close(pipefd[1]);
    close(FD_GO);
    report("pid %d %llu %d", pid, start_time(pid), (int)getpid());

    /* EOF on the close-on-exec pipe means the command was executed. (If the
     * engine aborted, the child exits silently; the engine is not listening.) */
    int status;
    if (read_error(pipefd[0], err, sizeof err) > 0) {
        wait_child(&status);
        report("error %s", err);
        return 1;
    }
    close(pipefd[0]);
    report("started");

    if (wait_child(&status) < 0) {
        report("error %d setup waitpid: %s", errno, strerror(errno));
        return 1;
    }
    int code = exit_code(status);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char line[64];
    snprintf(line, sizeof line, "%d %lld\n", code, (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    if (write_file_atomic(dir, "exit", line) < 0)
        fprintf(stderr, "unicorn-launcher: write %s/exit: %s\n", dir, strerror(errno));
    report("exit %d", code);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: unicorn-launcher run <state-dir>\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    /* Fork once so that the supervisor is not the engine's child: it outlives
     * the engine, and the engine reaps the first process at once. */
    pid_t pid = fork();
    if (pid < 0) {
        report("error %d setup fork: %s", errno, strerror(errno));
        return 1;
    }
    if (pid > 0)
        return 0;
    setsid();
    return supervise(argv[2]);
}
