/* unicorn-launcher: clones the container into its namespaces and stays as its
 * supervisor (run), or clones it set up and parked for an OCI caller's `start` (create), or
 * runs a process inside a running container (exec).
 * The protocol with the engine is in README.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launcher.h"

/* Signals the supervisor passes on to the container's init. */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

/* /proc/<pid>/stat into buf; a pointer to its ')' (the end of the command
 * name, which may hold spaces), or NULL if the process is gone. proc is a
 * descriptor of the host's /proc (opened before any setns: in the container's
 * mount namespace /proc is the container's), or AT_FDCWD where / is still the
 * host's. */
static char *read_stat(int proc, pid_t pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, proc == AT_FDCWD ? "/proc/%d/stat" : "%d/stat", pid);
    int fd = openat(proc, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return strrchr(buf, ')');
}

/* Field n (from 3 on) of a stat that read_stat returned the ')' of. */
static const char *stat_field(const char *end, int n)
{
    for (int field = 2; end && field < n; field++)
        end = strchr(end + 1, ' ');
    return end ? end + 1 : "";
}

/* Field 22 of /proc/<pid>/stat: with the pid, it names this process and no
 * later one that reuses the pid. */
static unsigned long long start_time(int proc, pid_t pid)
{
    char buf[1024];
    char *end = read_stat(proc, pid, buf, sizeof buf);
    return end ? strtoull(stat_field(end, 22), NULL, 10) : 0;
}

/* EOF on the close-on-exec error pipe comes with the child's exec, or with its
 * death before it (killed during setup: from outside, by the OOM killer). The
 * kernel tells them apart: a child that is ending (PF_EXITING, set before its
 * descriptors close) or has ended, still under the name it had from us, never
 * ran the command (an exec renames it first). */
static int died_before_exec(int proc, pid_t pid)
{
    char buf[1024], own[1024];
    char *end = read_stat(proc, pid, buf, sizeof buf), *own_end = read_stat(proc, getpid(), own, sizeof own);
    if (!end || !own_end) /* reaped already: not by us, so not ours to judge */
        return 0;
    const char *name = strchr(buf, '('), *own_name = strchr(own, '(');
    int same_name = name && own_name && end - name == own_end - own_name && !memcmp(name, own_name, end - name);
    const char *state = stat_field(end, 3);
    unsigned long flags = strtoul(stat_field(end, 9), NULL, 10);
    return same_name && (*state == 'Z' || *state == 'X' || (flags & 0x4 /* PF_EXITING */));
}

/* <dir>/started, the start record (JSON, as the engine reads it): the init's pid and start time,
 * ours, when (in ms, as the exit record), and how many restarts came before this run. */
static int record_start(const char *dir, pid_t init, int restarts)
{
    struct timespec now;
    struct tm tm;
    char when[32], json[320];
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    pid_t self = getpid();
    snprintf(json, sizeof json,
             "{\"Pid\":%d,\"PidStartTime\":%llu,\"SupervisorPid\":%d,\"SupervisorStartTime\":%llu,\"Started\":\"%s.%03ldZ\",\"RestartCount\":%d}\n",
             init, start_time(AT_FDCWD, init), self, start_time(AT_FDCWD, self), when, now.tv_nsec / 1000000, restarts);
    return write_file_atomic(dir, "started", json);
}

static long long now_ms(clockid_t clock)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
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
    close(fd);
    return got;
}

static int wait_for(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 255;
    return exit_code(status);
}

/* Waits for the child's exec: 0 once it has run the command; -1 (the child
 * reaped, err holding "<errno> <stage> <message>") if it failed to, or died
 * before it. */
static int await_exec(int proc, int errpipe, pid_t pid, char *err, size_t size)
{
    if (read_error(errpipe, err, size) == 0 && !died_before_exec(proc, pid))
        return 0;
    kill(pid, SIGKILL); /* ending already (it reported, or died): nothing of it may linger */
    int code = wait_for(pid);
    if (!*err)
        snprintf(err, size, "0 setup the process ended before it ran the command (%s)",
                 code > 128 ? strsignal(code - 128) : "it exited");
    return -1;
}

/* Blocks the forwarded signals and SIGCHLD, to be read from a signalfd. */
static int signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
        sigaddset(&set, forwarded[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC);
}

/* Relays the container's output until its init has exited and both streams
 * are done; passes signals on. Returns the init's exit code. */
static int supervise_output(pid_t child, struct stream *out, struct stream *err, struct logfile *log, int sigfd)
{
    int code = -1;
    struct pollfd fds[3] = {{.fd = out->fd, .events = POLLIN}, {.fd = err->fd, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
    while (fds[0].fd >= 0 || fds[1].fd >= 0 || code < 0) {
        /* Once init is gone the kernel kills the rest of its namespace, so the
         * pipes close; the timeout only guards against a writer outside it. */
        int n = poll(fds, 3, code < 0 ? -1 : 2000);
        if (n == 0)
            break;
        if (n < 0)
            continue;
        struct stream *streams[2] = {out, err};
        int more = 0;
        for (int i = 0; i < 2; i++) {
            /* A stream's backlog is read before the other stream's: lines written to stdout
             * before a line to stderr keep their order in the log (each read's lines take its
             * time). At most a pipeful, so that a stream that never pauses starves nothing. */
            int got = fds[i].revents ? relay_read(streams[i]) : 1;
            for (int reads = 1; got == 2 && reads < OUTPUT_PIPE_SIZE / RELAY_BUFFER; reads++)
                got = relay_read(streams[i]);
            if (got == 0)
                fds[i].fd = -1;
            more |= got == 2;
        }
        if (!more) /* the pipes have nothing more for now: the records gathered go to the log */
            log_flush(log);
        if (fds[2].revents && (n = on_signal(sigfd, child, -1)) >= 0)
            code = n;
    }
    relay_flush(out);
    relay_flush(err);
    log_flush(log);
    if (code < 0) /* the streams timed out before the exit was seen */
        code = wait_for(child);
    return code;
}

/* Forks (into new namespaces, with flags), the child running on a copy of
 * our stack. Given a cgroup v2 directory (an O_PATH fd, or -1), the child is
 * born in it (clone3's CLONE_INTO_CGROUP): no migration afterwards, so no
 * wait for the RCU grace period that moving a process between cgroups costs. */
static pid_t clone_into(unsigned long flags, int cgroup)
{
    if (cgroup < 0)
        return syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
    struct clone_args args = {
        .flags = flags | CLONE_INTO_CGROUP,
        .exit_signal = SIGCHLD,
        .cgroup = (unsigned long long)cgroup,
    };
    pid_t pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid != 0) {
        int err = errno;
        close(cgroup);
        errno = err;
    }
    return pid;
}

/* The spec's cgroup v2 directory as an fd for clone_into: -1 if it names
 * none, -2 (with errno) if it cannot be opened. */
static int open_cgroup2(const struct spec *spec)
{
    if (!spec->cgroup2)
        return -1;
    int fd = open(spec->cgroup2, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -2 : fd;
}

/* One run of the container's command: its init and the supervisor's ends of its pipes. */
struct run {
    pid_t pid;
    int errpipe; /* close-on-exec in the child: EOF once the command was executed */
    int out, err;
    int console; /* the socket the pty's master comes on (tty), else -1 */
    int alive;   /* -Init: the only write end of the pipe whose EOF tells the init we are gone */
};

/* Clones the container's init with fresh pipes: into new namespaces, but into the network
 * namespace netns when that is >= 0 (a restart keeps the container's network: its interfaces
 * and addresses live on in it). go: the go-ahead's descriptor, or -1. -1 on failure, with
 * errno and what failed in *what. */
static int launch(const struct spec *spec, int go, int netns, struct run *r, const char **what)
{
    int errpipe[2] = {-1, -1}, outpipe[2] = {-1, -1}, errout[2] = {-1, -1}, console[2] = {-1, -1}, alive[2] = {-1, -1};
    *what = "pipe";
    /* alive (-Init): we hold its only write end; the init sees EOF on it when we die. */
    if (pipe2(errpipe, O_CLOEXEC) < 0 || pipe2(outpipe, O_CLOEXEC) < 0 || pipe2(errout, O_CLOEXEC) < 0
        || (spec->init && pipe2(alive, O_CLOEXEC) < 0)
        || (spec->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0))
        goto fail;
    /* Room for a burst of output while the supervisor writes the log: the command blocks less,
     * and the supervisor reads more a time. (Pages are taken only as the pipe fills; a failure,
     * past the system's pipe-max-size, leaves the default.) */
    fcntl(outpipe[1], F_SETPIPE_SZ, OUTPUT_PIPE_SIZE);
    fcntl(errout[1], F_SETPIPE_SZ, OUTPUT_PIPE_SIZE);
    int cgroup = open_cgroup2(spec);
    *what = spec->cgroup2 ? "clone into cgroup" : "clone";
    pid_t pid = cgroup == -2 ? -1 : clone_into(netns >= 0 ? NAMESPACES & ~CLONE_NEWNET : NAMESPACES, cgroup);
    if (pid < 0)
        goto fail;
    if (pid == 0) {
        close(errpipe[0]);
        if (netns >= 0 && setns(netns, CLONE_NEWNET) < 0)
            fail(errpipe[1], errno, "setup", "%s", "join the container's network namespace");
        if (dup2(outpipe[1], 1) < 0 || dup2(errout[1], 2) < 0)
            fail(errpipe[1], errno, "setup", "%s", "dup2 output");
        int keep[3] = {-1, -1, -1};
        if (spec->init) { /* the init reads our output pipes should we die (process.c) */
            close(alive[1]);
            keep[0] = outpipe[0], keep[1] = errout[0], keep[2] = alive[0];
        }
        container_main(spec, go, errpipe[1], console[1], keep);
    }
    close(errpipe[1]);
    close(outpipe[1]);
    close(errout[1]);
    close(console[1]);
    close(alive[0]);
    *r = (struct run){.pid = pid, .errpipe = errpipe[0], .out = outpipe[0], .err = errout[0], .console = console[0], .alive = alive[1]};
    return 0;
fail:;
    int e = errno;
    int opened[] = {errpipe[0], errpipe[1], outpipe[0], outpipe[1], errout[0], errout[1], console[0], console[1], alive[0], alive[1]};
    for (size_t i = 0; i < sizeof opened / sizeof *opened; i++)
        if (opened[i] >= 0)
            close(opened[i]);
    errno = e;
    return -1;
}

static void close_run(struct run *r)
{
    close(r->out);
    close(r->err);
    if (r->alive >= 0)
        close(r->alive);
    if (r->console >= 0)
        close(r->console);
}

/* Relays the run's output (or its terminal) until it has ended; returns its exit code. */
static int run_to_end(const struct spec *spec, struct run *r, int master, struct logfile *log, int sigfd)
{
    struct stream out = {.fd = r->out, .tee = spec->attach ? 1 : -1, .log = log, .name = "stdout"};
    struct stream errs = {.fd = r->err, .tee = spec->attach ? 2 : -1, .log = log, .name = "stderr"};
    int code = master >= 0 ? tty_relay(master, r->pid, sigfd, log) : supervise_output(r->pid, &out, &errs, log, sigfd);
    close_run(r);
    return code;
}

/* A line of the supervisor's own in the container's log (stream "unicorn"), as the relay
 * writes the container's: how a restart that failed to start is seen. */
static void log_note(struct logfile *log, const char *text)
{
    static struct stream note = {.fd = -1, .tee = -1, .name = "unicorn"};
    note.log = log;
    note.len = snprintf(note.buf, sizeof note.buf, "%s", text);
    relay_flush(&note);
    log_flush(log);
}

/* The engine's Stop-UnicornContainer marks the container <dir>/stopped, under the lock of
 * <dir>/restart.lock, before it signals: a command it stopped is never restarted. */
static int stop_requested(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/stopped", dir);
    return access(path, F_OK) == 0;
}

/* The lock a restart holds from its check of stopped until its start record is written, so
 * that a stop sees either no restart or the new init. -1 if it cannot be had (then unlocked). */
static int restart_lock(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/restart.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    while (fd >= 0 && fcntl(fd, F_OFD_SETLKW, &fl) < 0)
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    return fd;
}

/* Released explicitly: a child cloned meanwhile shares the open file description until it execs. */
static void restart_unlock(int fd)
{
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
    if (fd >= 0) {
        fcntl(fd, F_OFD_SETLK, &fl);
        close(fd);
    }
}

/* Does the policy restart a run that ended with code, after restarts restarts? (Docker's.) */
static int wants_restart(const struct spec *spec, int code, int restarts)
{
    if (spec->restart == RESTART_ALWAYS)
        return 1;
    return spec->restart == RESTART_ON_FAILURE && code != 0 && (spec->restart_max == 0 || restarts < spec->restart_max);
}

/* Waits out the back-off; a signal (Stop-UnicornContainer's wake-up among them) ends it early. */
static void back_off(int sigfd, long long ms)
{
    for (long long until = now_ms(CLOCK_MONOTONIC) + ms, left; (left = until - now_ms(CLOCK_MONOTONIC)) > 0;) {
        struct pollfd p = {.fd = sigfd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        struct signalfd_siginfo si;
        if (read(sigfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD)
            return;
    }
}

/* Starts the command again after it ended (the restart policy), as the engine would but with
 * what is already in place: the same spec, cgroup and network namespace. Returns the new
 * run's exit code, or the code of a start that failed (127 and 126 as a shell's for a missing
 * or unusable command, 125 for anything else), which the policy weighs like any other. -1:
 * stopped meanwhile. */
static int restart(const char *dir, const struct spec *spec, int netns, int restarts, struct logfile *log, int sigfd)
{
    char err[4096], line[4200];
    int lock = restart_lock(dir);
    if (stop_requested(dir)) {
        restart_unlock(lock);
        return -1;
    }
    struct run r;
    const char *what;
    if (launch(spec, -1, netns, &r, &what) < 0) {
        int e = errno;
        restart_unlock(lock);
        snprintf(line, sizeof line, "restart %d failed: %s: %s", restarts, what, strerror(e));
        log_note(log, line);
        return 125;
    }
    if (await_exec(AT_FDCWD, r.errpipe, r.pid, err, sizeof err) < 0) {
        restart_unlock(lock);
        close_run(&r);
        snprintf(line, sizeof line, "restart %d failed: %s", restarts, err);
        log_note(log, line);
        int errnum = atoi(err);
        return strncmp(strchr(err, ' ') ? strchr(err, ' ') + 1 : "", "exec", 4) ? 125 : errnum == ENOENT ? 127 : 126;
    }
    int recorded = record_start(dir, r.pid, restarts);
    restart_unlock(lock);
    if (recorded < 0) /* no record, no way for the engine to find it: it must not run */
        kill(r.pid, SIGKILL);
    return run_to_end(spec, &r, -1, log, sigfd);
}

/* Deletes <dir>/<name> (if it is there). */
static void unlink_record(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* The engine's exit command (a -Rm container's removal, as Podman's conmon runs one), once the
 * exit is recorded: forked off in a session of its own, stdio on /dev/null, none of our
 * descriptors (the record's lock among them) and our signals reset, so that it holds nothing
 * of the container and outlives us (we end at once). */
static void run_exit_command(const struct spec *spec)
{
    if (!spec->exit_argv[0])
        return;
    pid_t pid = fork();
    if (pid < 0)
        fprintf(stderr, "unicorn-launcher: fork the exit command: %s\n", strerror(errno));
    if (pid != 0)
        return;
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 || syscall(SYS_close_range, 3, ~0U, 0) < 0)
        _exit(127);
    reset_signals();
    execve(spec->exit_argv[0], spec->exit_argv, spec->exit_envp);
    _exit(127);
}

static int supervise(const char *dir, struct spec spec)
{
    char err[4096];
    static struct logfile logfile; /* in .bss: its pages are touched only as the buffer fills */
    struct logfile *log = spec.log ? &logfile : NULL;
    if (log && log_open(log, spec.log, spec.log_max_size, spec.log_max_files) < 0) {
        report("error %d setup open log %s: %s", errno, spec.log, strerror(errno));
        return 1;
    }
    int sigfd = signal_fd();

    struct run r;
    const char *what;
    if (launch(&spec, FD_GO, -1, &r, &what) < 0) {
        report("error %d setup %s: %s", errno, what, strerror(errno));
        return 1;
    }
    close(FD_GO);
    /* A restart policy: the network namespace is kept (with what the engine puts in it) for the
     * runs to come, which join it. Opened while the init waits for the go-ahead. */
    char ns[64];
    snprintf(ns, sizeof ns, "/proc/%d/ns/net", r.pid);
    int netns = spec.restart ? open(ns, O_RDONLY | O_CLOEXEC) : -1;
    if (spec.restart && netns < 0) {
        int e = errno;
        kill(r.pid, SIGKILL);
        wait_for(r.pid);
        report("error %d setup open %s: %s", e, ns, strerror(e));
        return 1;
    }
    report("pid %d %llu %d", r.pid, start_time(AT_FDCWD, r.pid), (int)getpid());
    /* Interactive: the pty's master arrives just before exec (-1: setup failed). */
    int master = spec.tty ? recv_fd(r.console) : -1;

    if (await_exec(AT_FDCWD, r.errpipe, r.pid, err, sizeof err) < 0) {
        report("error %s", err);
        if (spec.log && logfile.size == 0) /* made for this start; a container started again keeps its runs' */
            unlink(spec.log);
        return 1;
    }
    /* The container runs: the record that says so is ours to write, not the engine's, so that it
     * is there whatever becomes of the engine (a pwsh killed now leaves a Running container that
     * Stop and Remove find, not a Created one with no pid). */
    if (record_start(dir, r.pid, 0) < 0) {
        int e = errno;
        kill(r.pid, SIGKILL);
        wait_for(r.pid);
        report("error %d setup write %s/started: %s", e, dir, strerror(e));
        return 1;
    }
    /* A container started again: its last run's exit record goes. (Until then the engine takes
     * it for that run's, older than this start record: it counts for nothing.) */
    unlink_record(dir, "exit");
    report("started");

    long long started = now_ms(CLOCK_MONOTONIC), delay = 0;
    int code = run_to_end(&spec, &r, master, log, sigfd);
    /* The restart policy: Docker's back-off, 100 ms doubling up to a minute, back to 100 ms
     * after a run of 10 s or more. Each restart is recorded (<dir>/restarting) before the wait. */
    for (int restarts = 1; wants_restart(&spec, code, restarts - 1) && !stop_requested(dir); restarts++) {
        delay = delay == 0 || now_ms(CLOCK_MONOTONIC) - started >= 10000 ? 100 : delay * 2 > 60000 ? 60000 : delay * 2;
        char line[64];
        snprintf(line, sizeof line, "%d %d %lld\n", restarts, code, now_ms(CLOCK_REALTIME));
        write_file_atomic(dir, "restarting", line);
        back_off(sigfd, delay);
        started = now_ms(CLOCK_MONOTONIC);
        int next = restart(dir, &spec, netns, restarts, log, sigfd);
        if (next < 0)
            break;
        code = next;
    }

    char line[64];
    snprintf(line, sizeof line, "%d %lld\n", code, now_ms(CLOCK_REALTIME));
    /* The record first, then the report: an engine that waits reads the record once told. */
    int record_err = write_file_atomic(dir, "exit", line) < 0 ? errno : 0;
    report("exit %d", code);
    if (record_err && record_err != ENOSPC && record_err != EDQUOT)
        fprintf(stderr, "unicorn-launcher: write %s/exit: %s\n", dir, strerror(record_err));
    if (!record_err)
        run_exit_command(&spec);
    if (record_err != ENOSPC && record_err != EDQUOT)
        return 0;
    /* A full disk: the record is retried until there is room (the container shows Running, its
     * supervisor alive, until then), never lost: a container is not Dead for want of a few
     * bytes. The engine, told of the exit, need not wait for that. */
    close(FD_REPORT);
    for (unsigned delay = 1; write_file_atomic(dir, "exit", line) < 0 && (errno == ENOSPC || errno == EDQUOT);
         delay = delay < 30 ? delay * 2 : 30)
        sleep(delay);
    run_exit_command(&spec);
    return 0;
}

/* The descriptors 3 .. 3+n-1 the caller passes on (preservefds) must all be open: a gap would
 * be filled by one of ours, which would then leak into the container. */
static int preserved_open(const struct spec *spec)
{
    for (int fd = 3; fd < 3 + spec->preserve_fds; fd++)
        if (fcntl(fd, F_GETFD) < 0) {
            report("error %d setup the preserved descriptor %d is not open", EBADF, fd);
            return 0;
        }
    if (report_fd < 3 + spec->preserve_fds) {
        report("error %d setup the report descriptor %d is one of the %d preserved ones", EINVAL, report_fd, spec->preserve_fds);
        return 0;
    }
    return 1;
}

/* A connection to the OCI caller's console socket (spec consolesocket), the unix socket that
 * takes the pty's master; -1 (reported) if it cannot be had. Made while our paths are the host's. */
static int console_connect(const struct spec *spec)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(spec->console_socket) >= sizeof addr.sun_path) {
        report("error %d setup the console socket's path %s is too long for a unix socket", ENAMETOOLONG, spec->console_socket);
        return -1;
    }
    strcpy(addr.sun_path, spec->console_socket);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        report("error %d setup connect to the console socket %s: %s", errno, spec->console_socket, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The namespaces a process can be in, in the order exec joins them: the mount namespace last
 * (its paths are the container's from then on), the cgroup one after the cgroups are joined. */
static const struct { const char *name; int type; } kinds[] = {
    {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS},
};
#define NKINDS (sizeof kinds / sizeof *kinds)

/* Is the namespace at path one we are in already (the container shares the host's)? */
static int ours(const char *path, const char *name)
{
    char own[64];
    struct stat a, b;
    snprintf(own, sizeof own, "/proc/self/ns/%s", name);
    return stat(path, &a) == 0 && stat(own, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* exec: join the namespaces of the running container whose init is <pid> (those that are not
 * ours: a container may share the host's), fork (setns into a pid namespace only places
 * children there), run. */
static int exec_in(const char *pid_text, const char *start_text, const char *spec_path)
{
    int fds[NKINDS];
    char path[128], err[4096];
    struct spec spec;
    pid_t target = atoi(pid_text);

    if (spec_read(spec_path, &spec) < 0) {
        report("error %d setup read spec %s: %s", errno, spec_path, strerror(errno));
        return 1;
    }
    if (!preserved_open(&spec))
        return 1;
    if (spec.detach && spec.tty && !spec.console_socket) {
        report("error %d setup a detached process on a terminal needs a console socket to send the terminal to", EINVAL);
        return 1;
    }
    /* The caller's console socket, by its host path: before the container's mount namespace. */
    int console = spec.tty && spec.console_socket ? console_connect(&spec) : -1;
    if (spec.tty && spec.console_socket && console < 0)
        return 1;
    int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    for (size_t i = 0; i < NKINDS; i++) {
        snprintf(path, sizeof path, "/proc/%d/ns/%s", target, kinds[i].name);
        if (ours(path, kinds[i].name))
            fds[i] = -1;
        else if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            report("error %d gone open %s: %s", errno, path, strerror(errno));
            return 1;
        }
    }
    /* Checked after the namespaces are open: they are the container's, not those
     * of a later process that took its pid. */
    if (start_time(proc, target) != strtoull(start_text, NULL, 10)) {
        report("error %d gone the container's init %d has exited", ESRCH, target);
        return 1;
    }
    /* The container's cgroups are opened while the paths are the host's: what we fork
     * joins them (v1) or is born in them (v2), so its limits hold for the new process.
     * We stay outside: the waiting launcher is not the container's (ps, its pids limit). */
    int njoins = 0;
    while (spec.cgroups[njoins])
        njoins++;
    int joins[njoins + 1];
    for (int i = 0; i < njoins; i++)
        if ((joins[i] = open_cgroup_join(spec.cgroups[i])) < 0) {
            report("error %d setup open cgroup %s: %s", errno, spec.cgroups[i], strerror(errno));
            return 1;
        }
    int cgroup = open_cgroup2(&spec);
    if (cgroup == -2) {
        report("error %d setup open cgroup %s: %s", errno, spec.cgroup2, strerror(errno));
        return 1;
    }
    /* The private binds' sources too: the host's paths are gone once in the container's. */
    int trees[spec.nprivate_binds + 1];
    if (private_binds_clone(&spec, trees) < 0)
        return 1;
    for (size_t i = 0; i < NKINDS; i++) {
        if (fds[i] < 0)
            continue;
        if (setns(fds[i], kinds[i].type) < 0) {
            report("error %d setup setns %s of %d: %s", errno, kinds[i].name, target, strerror(errno));
            return 1;
        }
        close(fds[i]);
    }

    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        report("error %d setup pipe: %s", errno, strerror(errno));
        return 1;
    }
    /* Inside the container's mount namespace now: /dev/ptmx is its own. */
    char slave[64];
    int master = spec.tty ? pty_open(slave, sizeof slave) : -1;
    if (spec.tty && master < 0) {
        report("error %d setup open a pty from /dev/ptmx: %s", errno, strerror(errno));
        return 1;
    }
    int sigfd = signal_fd();
    pid_t pid = clone_into(0, cgroup);
    if (pid < 0) {
        report("error %d setup fork: %s", errno, strerror(errno));
        return 1;
    }
    if (pid == 0) {
        /* Before any path of the container's is walked, nothing of the host's
         * may be open: its /proc above all (CVE-2024-21626). Only stdio, the
         * preserved descriptors and the error pipe (moved just above them) stay. */
        int errfd = errpipe[1], above = 3 + spec.preserve_fds;
        for (int i = 0; i < njoins; i++)
            if (join_cgroup_fd(joins[i]) < 0)
                fail(errfd, errno, "setup", "%s", "join the container's cgroup");
        /* Only the container's paths are walked (no symlink, inside its root): the host's
         * descriptors still open cannot be reached through them. */
        private_binds_attach(&spec, trees, errfd);
        if ((errpipe[1] != above && dup3(errpipe[1], above, O_CLOEXEC) < 0) || syscall(SYS_close_range, above + 1, ~0U, 0) < 0)
            fail(errfd, errno, "setup", "%s", "close the launcher's descriptors");
        errfd = above;
        enter_cwd(spec.cwd, 0, errfd);
        struct command command = {.argv = spec.argv, .envp = spec.envp, .tty = spec.tty ? slave : NULL, .user = &spec.user,
                                  .security = &spec.security, .keep = {-1, -1, -1}, .preserve_fds = spec.preserve_fds};
        exec_command(&command, errfd);
    }
    close(errpipe[1]);
    for (size_t i = 0; i < spec.nprivate_binds; i++) /* the process's now */
        close(trees[i]);
    report("pid %d %llu %d", pid, start_time(proc, pid), (int)getpid());
    /* A console socket takes the terminal: the caller relays it, not we. */
    if (console >= 0) {
        if (pty_send(console, master, &spec) < 0) {
            int e = errno;
            kill(pid, SIGKILL);
            wait_for(pid);
            report("error %d setup send the pty to %s: %s", e, spec.console_socket, strerror(e));
            return 1;
        }
        close(console);
        close(master);
        master = -1;
    }
    if (await_exec(proc, errpipe[0], pid, err, sizeof err) < 0) {
        report("error %s", err);
        return 1;
    }
    report("started");
    if (spec.detach) /* the process is the caller's subreaper's to reap from here on */
        return 0;
    if (master >= 0) {
        report("exit %d", tty_relay(master, pid, sigfd, NULL));
        return 0;
    }

    int code;
    while ((code = on_signal(sigfd, pid, -1)) < 0) /* pass signals on until the process ends */
        ;
    report("exit %d", code);
    return 0;
}

/* create (OCI): a listening <dir>/start.sock for `start`, made before the clone so that the
 * init inherits it; -1 (reported) if it cannot be. Only root may connect (0600). */
static int start_listener(const char *dir)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (snprintf(addr.sun_path, sizeof addr.sun_path, "%s/start.sock", dir) >= (int)sizeof addr.sun_path) {
        report("error %d setup the state directory's path %s is too long for a unix socket", ENAMETOOLONG, dir);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t mask = umask(0177);
    int bound = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&addr, sizeof addr);
    umask(mask);
    if (bound < 0 || listen(fd, 1) < 0) {
        report("error %d setup listen on %s: %s", errno, addr.sun_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* create: the namespaces the spec names by path, joined before the clone so that the init is
 * born in them (a pid namespace: setns places only children in it). Mount and user namespaces
 * are not joined: the init makes its root in a mount namespace of its own. 0, or -1 (reported). */
static int join_spec_namespaces(const struct spec *spec)
{
    for (size_t i = 0; i < spec->nnamespaces; i++) {
        const struct namespace_spec *ns = &spec->namespaces[i];
        if (!ns->path)
            continue;
        if (ns->type == CLONE_NEWNS) {
            report("error %d setup joining the mount namespace %s is not supported: the container needs a new one", EINVAL, ns->path);
            return -1;
        }
        int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, ns->type) < 0) {
            report("error %d setup join the namespace %s: %s", errno, ns->path, strerror(errno));
            return -1;
        }
        close(fd);
    }
    return 0;
}

/* create: clones the container's init, which sets itself up and parks (park.c); reports it
 * `created` and ends, the init left to our caller's subreaper. Stdio and the preserved
 * descriptors are the container's as they are. */
static int create(const char *dir)
{
    char path[4096], err[4096];
    struct spec spec;
    snprintf(path, sizeof path, "%s/spec", dir);
    if (spec_read(path, &spec) < 0) {
        report("error %d setup read spec %s: %s", errno, path, strerror(errno));
        return 1;
    }
    if (!preserved_open(&spec))
        return 1;
    /* A new cgroup namespace is the init's to make once it is in its cgroups, so that the
     * namespace's root is the container's cgroup (a clone's would be ours). */
    int flags = spec_new_namespaces(&spec), cgroupns = flags & CLONE_NEWCGROUP;
    if (!(flags & CLONE_NEWNS)) { /* its pivot_root and mounts would be the host's */
        report("error %d setup a container needs a mount namespace of its own (a namespace record \"mnt\" without a path)", EINVAL);
        return 1;
    }
    if (spec.oom_score_adj_set) { /* the init inherits it */
        char value[16];
        snprintf(value, sizeof value, "%d", spec.oom_score_adj);
        if (write_file("/proc/self/oom_score_adj", value) < 0) {
            report("error %d setup write %s to /proc/self/oom_score_adj: %s", errno, value, strerror(errno));
            return 1;
        }
    }
    /* tty: the pty's master goes to the caller's console socket; with none (runc run in the
     * foreground), to us, who stay the init's parent and relay it (as exec does). */
    int console = -1, relay[2] = {-1, -1};
    if (spec.tty && spec.console_socket && (console = console_connect(&spec)) < 0)
        return 1;
    if (spec.tty && !spec.console_socket) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, relay) < 0) {
            report("error %d setup socketpair: %s", errno, strerror(errno));
            return 1;
        }
        console = relay[1];
    }
    park_listener = start_listener(dir);
    if (park_listener < 0 || join_spec_namespaces(&spec) < 0)
        goto failed;
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        report("error %d setup pipe: %s", errno, strerror(errno));
        goto failed;
    }
    int cgroup = open_cgroup2(&spec);
    pid_t pid = cgroup == -2 ? -1 : clone_into(flags & ~CLONE_NEWCGROUP, cgroup);
    if (pid < 0) {
        report("error %d setup %s: %s", errno, spec.cgroup2 ? "clone into cgroup" : "clone", strerror(errno));
        goto failed;
    }
    if (pid == 0) {
        int errfd = errpipe[1];
        close(errpipe[0]);
        if (relay[0] >= 0)
            close(relay[0]);
        if (cgroup >= 0) /* born in it: the host's directory is not the parked init's to hold */
            close(cgroup);
        if (cgroupns) {
            for (char **cg = spec.cgroups; *cg; cg++)
                CHECK(join_cgroup(*cg), *cg, "join cgroup %s");
            CHECK(unshare(CLONE_NEWCGROUP), "cgroup", "unshare the %s namespace");
        }
        const int keep[3] = {-1, -1, -1};
        container_main(&spec, -1, errfd, console, keep);
    }
    close(errpipe[1]);
    close(park_listener);
    if (console >= 0)
        close(console);
    report("pid %d %llu %d", pid, start_time(AT_FDCWD, pid), (int)getpid());
    /* Sent before the init parks (-1: its setup failed, which await_exec reports). */
    int master = relay[0] >= 0 ? recv_fd(relay[0]) : -1;
    if (await_exec(AT_FDCWD, errpipe[0], pid, err, sizeof err) < 0) {
        report("error %s", err);
        unlink_record(dir, "start.sock");
        return 1;
    }
    if (relay[0] >= 0 && master < 0) { /* parked without having sent it: cannot be */
        kill(pid, SIGKILL);
        wait_for(pid);
        report("error %d setup no terminal came from the container's init", EPROTO);
        unlink_record(dir, "start.sock");
        return 1;
    }
    report("created");
    if (relay[0] < 0)
        return 0;
    /* Blocked only now: the parked init must keep its handlers for them (park.c). A SIGCHLD
     * before this is not lost to the relay, which ends on the pty's EOF and reaps the init. */
    int sigfd = signal_fd();
    report("exit %d", tty_relay(master, pid, sigfd, NULL));
    return 0;
failed:
    if (park_listener >= 0)
        unlink_record(dir, "start.sock");
    return 1;
}

int main(int argc, char **argv)
{
    /* Not dumpable until the command's exec: no process of a container may
     * open our /proc entries, our binary (/proc/N/exe) among them, while we
     * are inside it or supervise it (the CVE-2019-5736 class). */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    const char *mode = argc > 1 ? argv[1] : "";
    /* create and exec name the report's descriptor (above the preserved ones); exec's is 4 by default. */
    if (!strcmp(mode, "exec") && (argc == 5 || argc == 6)) {
        if (argc == 6)
            report_fd = atoi(argv[5]);
        return exec_in(argv[2], argv[3], argv[4]);
    }
    if (!strcmp(mode, "create") && argc == 4) {
        report_fd = atoi(argv[3]);
        return create(argv[2]);
    }
    if (argc != 3 || strcmp(mode, "run") != 0) {
        fprintf(stderr, "usage: unicorn-launcher run <state-dir>\n"
                        "       unicorn-launcher create <state-dir> <report-fd>\n"
                        "       unicorn-launcher exec <init-pid> <init-start-time> <spec> [<report-fd>]\n");
        return 2;
    }

    /* The record's lock stays ours (the supervisor's) for the container's life, and goes with
     * us: kept open here, never passed into the container. */
    if (fcntl(FD_HOLD, F_SETFD, FD_CLOEXEC) < 0) {
        report("error %d setup the record's lock (fd %d): %s", errno, FD_HOLD, strerror(errno));
        return 1;
    }
    char path[4096];
    struct spec spec;
    snprintf(path, sizeof path, "%s/spec", argv[2]);
    if (spec_read(path, &spec) < 0) {
        report("error %d setup read spec %s: %s", errno, path, strerror(errno));
        return 1;
    }

    /* Fork once so that the supervisor is not the engine's child: it outlives
     * the engine, and the engine reaps the first process at once. */
    pid_t pid = fork();
    if (pid < 0) {
        report("error %d setup fork: %s", errno, strerror(errno));
        return 1;
    }
    if (pid > 0)
        return 0;
    /* A session of its own, away from the engine's terminal; but an interactive
     * one stays in the terminal's foreground group, to hear of window changes. */
    if (!spec.tty)
        setsid();
    prctl(PR_SET_NAME, "unicorn-sup");
    return supervise(argv[2], spec);
}
