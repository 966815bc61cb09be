/* Error reporting and small file helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

int report_fd = FD_REPORT;

/* One line to the engine. A vanished engine (EPIPE) is not an error: the
 * supervisor of a detached container outlives the session that started it. */
void report(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t ignored = write(report_fd, line, n);
    (void)ignored;
}

/* In the child: send "<errno> <stage> <message>" up the error pipe and die.
 * The message names the call and the path, so the engine can show it as is. */
void fail(int errfd, int err, const char *stage, const char *fmt, ...)
{
    char msg[3072], line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int n = snprintf(line, sizeof line, "%d %s %s: %s", err, stage, msg, strerror(err));
    if (n > (int)sizeof line - 1)
        n = sizeof line - 1;
    ssize_t ignored = write(errfd, line, n);
    (void)ignored;
    _exit(127);
}

/* Write dir/name through a temporary file and a rename: readers see the old
 * file or the new one, never half of one. No fsync: the state root is runtime
 * state that a reboot clears (see Files.WriteAtomic). */
int write_file_atomic(const char *dir, const char *name, const char *content)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(content);
    if (write(fd, content, len) != (ssize_t)len) {
        int err = errno;
        close(fd);
        unlink(tmp);
        errno = err;
        return -1;
    }
    close(fd);
    return rename(tmp, dst);
}

/* mkdir -p; paths are resolved in the caller's root. */
int mkdir_p(const char *path, int mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Writes content to an existing file (a cgroup or proc file) in one write. */
int write_file(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, content, strlen(content));
    int err = errno;
    close(fd);
    errno = err;
    return n == (ssize_t)strlen(content) ? 0 : -1;
}

/* The file of a cgroup directory that moves the writer in, opened for writing (an fd, or -1).
 * The calling process is single threaded, so v1's "tasks" moves the whole process, and a
 * thread moving only itself skips the global threadgroup lock: a process migration through
 * cgroup.procs waits for an RCU grace period (10-20 ms here). v2 has no "tasks"; there a
 * process is born in its cgroup instead (clone_into). */
int open_cgroup_join(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tasks", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    return open(path, O_WRONLY | O_CLOEXEC);
}

/* Moves the caller into the cgroup behind a file open_cgroup_join opened, and closes it. */
int join_cgroup_fd(int fd)
{
    ssize_t n = write(fd, "0", 1);
    int err = errno;
    close(fd);
    errno = err;
    return n == 1 ? 0 : -1;
}

/* Moves the calling thread (the whole single-threaded process) into the cgroup directory. */
int join_cgroup(const char *dir)
{
    int fd = open_cgroup_join(dir);
    return fd < 0 ? -1 : join_cgroup_fd(fd);
}
