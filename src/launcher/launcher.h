/* unicorn-launcher: shared declarations. See README.md for the protocol. */
#ifndef UNICORN_LAUNCHER_H
#define UNICORN_LAUNCHER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define FD_GO 3     /* engine -> launcher: go-ahead byte, EOF = abort */
#define FD_REPORT 4 /* launcher -> engine: report lines (the default of report_fd) */
#define FD_HOLD 5   /* run: the container's record, locked by the engine: held while we live */

/* The user the command runs as (spec key "user": "uid:gid:g1,g2,..."). */
struct user {
    int set;
    uid_t uid;
    gid_t gid;
    size_t ngroups;
    gid_t groups[64];
};

/* What confines the command's process (security.c), in every mode. */
struct security {
    int caps_set;          /* else every capability stays (privileged) */
    /* The five capability sets, a bit each (the PowerShell face: the same mask in the
     * first three, none inheritable or ambient). */
    unsigned long long bounding, effective, permitted, inheritable, ambient;
    int no_new_privs;
    void *seccomp;         /* struct sock_filter[], or NULL (unconfined) */
    size_t seccomp_len;    /* bytes */
    struct { int resource; unsigned long long soft, hard; } rlimits[16];
    size_t nrlimits;
    int umask;             /* the process's umask; -1: 022 (the PowerShell face's) */
};

/* A mount of the spec's (key "mount"), in order, after pivot_root. */
struct mount_spec {
    const char *type;        /* proc, sysfs, tmpfs, devpts, mqueue, cgroup2, ...; ignored for a bind */
    const char *source;      /* a bind's host path */
    const char *destination;
    int bind;                /* 0: a new filesystem, 1: bind, 2: rbind */
    unsigned long long attrs; /* MOUNT_ATTR_* to set (RDONLY, NOSUID, NODEV, NOEXEC, atime) */
    unsigned long propagation; /* MS_PRIVATE, MS_SHARED, MS_SLAVE or MS_UNBINDABLE; 0: left */
    int propagation_recursive; /* rprivate, rshared, ... */
    int copyup;              /* tmpcopyup: the new tmpfs starts with a copy of what the directory held */
    const char *data;        /* the filesystem's options, comma-separated ("mode=755,size=65536k") */
};

/* A device node made in the container (key "device"). */
struct device_spec {
    const char *path;
    mode_t type; /* S_IFCHR, S_IFBLK or S_IFIFO */
    unsigned major, minor;
    mode_t mode; /* permission bits */
    uid_t uid;
    gid_t gid;
};

/* A namespace of the container (key "namespace"): new (path NULL), or joined. */
struct namespace_spec {
    int type; /* CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP */
    const char *path;
};

/* A host directory bound read-only for an exec'd process alone (key "privatebind"). */
struct private_bind {
    const char *source;      /* the host's path */
    const char *destination; /* inside the container, made if missing */
};

struct spec {
    char *data; /* the whole file; every string below points into it */
    const char *rootfs;
    const char *hostname;
    const char *cwd;
    const char *log; /* the container's log file */
    long long log_max_size; /* rotate the log past this many bytes; 0: never */
    int log_max_files;      /* the log and its rotated files, at most */
    int attach;      /* pass output on to our stdout and stderr too */
    int init;        /* a tiny init as pid 1 (process.c) */
    int tty;         /* the command on a pseudo-terminal, relayed to ours (tty.c) */
    const char *cgroup2; /* a cgroup v2 directory the process is born in (CLONE_INTO_CGROUP) */
    char **argv; /* NULL-terminated */
    char **envp; /* NULL-terminated */
    char **cgroups; /* NULL-terminated: cgroup v1 directories the process joins first */
    struct user user;
    struct security security;
    char **masked;   /* NULL-terminated: paths masked (run) */
    char **readonly; /* NULL-terminated: paths made read-only (run) */
    char **tmpfs;    /* NULL-terminated: tmpfs mounts (run) */
    int root_readonly;
    int devices; /* device nodes on the root work (privileged); else it is nodev */
    int restart;     /* the supervisor's restart policy: RESTART_NO, _ON_FAILURE or _ALWAYS */
    int restart_max; /* on-failure: the most restarts; 0: no limit */
    char **exit_argv; /* NULL-terminated, empty if none: run once the exit is recorded (run) */
    char **exit_envp; /* NULL-terminated: its whole environment */
    /* The OCI face (README: the spec file). */
    struct mount_spec *mounts; /* in order, after pivot_root: the container's only mounts (but tmpfs, masks, read-only paths) */
    size_t nmounts;
    struct device_spec *devices_made; /* device nodes made after the mounts */
    size_t ndevices;
    struct namespace_spec namespaces[8]; /* with any, exactly these; else the five new ones */
    size_t nnamespaces;
    char **sysctls; /* NULL-terminated pairs: name, value */
    int oom_score_adj_set;
    int oom_score_adj;
    const char *console_socket; /* tty: the unix socket the pty's master is sent to */
    unsigned short console_rows, console_columns; /* tty: the first window size; 0: none */
    unsigned long root_propagation; /* MS_* flags for "/"; 0: rprivate */
    int no_pivot;     /* MS_MOVE and chroot instead of pivot_root */
    int preserve_fds; /* fds 3 .. 3+n-1 go on into the process */
    int detach;       /* exec: end once the process runs */
    struct private_bind *private_binds; /* exec: in a mount namespace of the process's own */
    size_t nprivate_binds;
};

enum { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS };

/* spec.c */
int spec_read(const char *path, struct spec *spec);
/* The PowerShell face's namespaces: all new. */
#define NAMESPACES (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)
/* The CLONE_NEW* flags of the namespaces the container gets new (not joined, not the host's). */
int spec_new_namespaces(const struct spec *spec);

/* container.c: runs in the cloned child; never returns. go is the descriptor the engine's
 * go-ahead comes on (-1: none to wait for, a restart); console is the socket that takes the
 * pty's master to the supervisor (with spec->tty), else -1; keep (-Init) the read ends of the
 * output pipes and of the supervisor's pipe, for the init (-1: none). */
void container_main(const struct spec *spec, int go, int errfd, int console, const int keep[3]);

/* process.c: the last steps before the command; never return. */
/* The command and all its exec needs, gathered on the way to it. */
struct command {
    char **argv;
    char **envp;
    const char *tty;                 /* the pty it is given (-Interactive), or NULL */
    const struct user *user;         /* who it runs as (user->set), else root */
    const struct security *security; /* its confinement */
    int keep[3];                     /* -Init: see container_main (-1: none) */
    int preserve_fds;                /* fds 3 .. 3+n-1 stay open into the command */
};
/* chdir into cwd ("/" if NULL) inside the root, made if missing when create. */
void enter_cwd(const char *cwd, int create, int errfd);
void exec_command(const struct command *c, int errfd) __attribute__((noreturn));
/* The command, or with init the tiny init that runs it as its child. */
void run_command(const struct command *c, int init, int errfd) __attribute__((noreturn));
int exit_code(int status);
/* Every signal's disposition to default, none blocked: what a program we exec starts with. */
void reset_signals(void);
int on_signal(int sigfd, pid_t child, int master);

/* relay.c: the container's log, its records gathered to be written many at a time. */
#define LOG_TIME 30        /* 2026-11-29T15:40:46.123456789Z */
#define LOG_BUFFER (256 * 1024)
struct logfile {
    int fd;
    const char *path;
    long long max_size;      /* 0: never rotated */
    int max_files;           /* the log and its rotated files (log.1, ...), at most */
    long long size;          /* of the file as written */
    long long unrotated;     /* bytes a failed rotation left in the file: not counted against max_size */
    int torn;                /* the file ends in a part of a record that could not be cut off */
    int error;               /* the errno of the last write that failed */
    unsigned long long lost; /* lines dropped since the last write that worked */
    char lost_time[LOG_TIME];
    size_t len;
    char buf[LOG_BUFFER];
};
int log_open(struct logfile *lf, const char *path, long long max_size, int max_files);
void log_flush(struct logfile *lf);

/* relay.c: one output stream of the container, on its way to the log. */
#define RELAY_BUFFER (16 * 1024) /* also the longest record: a longer line is split (Docker: 16K) */
#define OUTPUT_PIPE_SIZE (1024 * 1024)
struct stream {
    int fd;           /* the pipe's read end */
    int tee;          /* where to pass it on, or -1 */
    struct logfile *log; /* or NULL */
    const char *name; /* "stdout" or "stderr" */
    size_t len;
    char buf[RELAY_BUFFER];
};
int relay_read(struct stream *s);
void relay_flush(struct stream *s);

/* park.c (create): the listening start.sock the set-up init waits on for `start` (-1: none,
 * the other modes); park returns the descriptor exec errors go to from then on. */
extern int park_listener;
int park(const struct spec *spec, int errfd);

/* privatebind.c: exec's private binds. The sources cloned (trees[i], detached) while the host's
 * paths are ours, before setns: 0, or -1 reported. */
int private_binds_clone(const struct spec *spec, int *trees);
/* In the forked process: a mount namespace of its own (a slave of the container's), the trees
 * attached on their destinations; a failure goes down errfd. Nothing without records. */
void private_binds_attach(const struct spec *spec, const int *trees, int errfd);

/* tty.c */
int pty_open(char *slave, size_t size);
/* The master to the other end of console, the spec's window size (consolesize) set first. */
int pty_send(int console, int master, const struct spec *spec);
void pty_attach(const char *slave, int errfd);
int send_fd(int sock, int fd);
int recv_fd(int sock);
int tty_relay(int master, pid_t child, int sigfd, struct logfile *log);
void copy_window_size(int master);

/* mounts.c: mounting by descriptor, inside the container's root. */
int open_in_root(int root, const char *path, int flags, unsigned long long resolve);
/* An O_PATH fd of path in root, made (a directory, or an empty file) if missing. */
int mount_point(int root, const char *path, int dir, unsigned long long resolve);
/* 1 if fd is on proc or sysfs, 0 if not, -1 on error. */
int on_kernel_fs(int fd);
/* A new, detached filesystem; options as mount(2)'s data ("mode=755,newinstance"); source
 * what mountinfo shows (NULL or "": the type). */
int new_fs(const char *type, const char *source, const char *options, unsigned int attrs);
/* A detached copy of the mount at path (relative to from; "" for from itself), with the
 * MOUNT_ATTR_* attrs set (on every mount of it when recursive). */
int clone_tree(int from, const char *path, int recursive, unsigned long long attrs);
/* MOUNT_ATTR_* attrs set on the mount mnt (and the mounts below it when recursive). */
int set_attrs(int mnt, unsigned long long attrs, int recursive);
/* Puts the detached mount on target (closing mnt). */
int attach(int mnt, int target);
/* Copy-up: what the directory from holds, copied into the directory to (both read-only
 * descriptors, closed here). On failure -1 with errno, and the entry (its path below from)
 * and the step that failed in *c. */
struct copy_up {
    char path[PATH_MAX];
    const char *step;
};
int copy_up(int from, int to, struct copy_up *c);

/* container.c: a bind or tmpfs target inside the root (not in /proc or /sys), made if missing. */
int mount_target(int root, const char *path, int dir, int errfd);

/* security.c */
void confine_mounts(const struct spec *spec, int root, int errfd);
void confine_process(const struct security *s, int errfd);
void confine_caps(const struct security *s, int errfd);
void confine_last(const struct security *s, int errfd);
int read_seccomp(const char *path, struct security *s);

/* util.c: report writes to report_fd (FD_REPORT unless the command line names another). */
extern int report_fd;
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A setup step that failed (call < 0) fails the start: its message, with the
 * path, goes down the error pipe errfd (a variable of the caller's). */
#define CHECK(call, path, ...)                                          \
    do {                                                                \
        if ((call) < 0)                                                 \
            fail(errfd, errno, "setup", __VA_ARGS__, path);             \
    } while (0)
void fail(int errfd, int err, const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));
int write_file_atomic(const char *dir, const char *name, const char *content);
int write_file(const char *path, const char *content);
int open_cgroup_join(const char *dir);
int join_cgroup_fd(int fd);
int join_cgroup(const char *dir);
int mkdir_p(const char *path, int mode);

#endif
