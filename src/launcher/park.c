/* create: the container's init, all set up, waits for `start` before it runs the command
 * (runc's create and start). It says it is ready by closing its error pipe, then blocks in
 * accept() on <state-dir>/start.sock; a connection that sends `g` lets it go on, and takes
 * over as its error pipe: an exec failure is written to it, a successful exec closes it. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

int park_listener = -1;

/* 0 if path is a file exec can run (as root, whose X_OK needs one x bit), else ENOENT or EACCES. */
static int runnable(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return errno == EACCES ? EACCES : ENOENT;
    return S_ISREG(st.st_mode) && access(path, X_OK) == 0 ? 0 : EACCES;
}

/* Would execvp find the command and may it run it? Its lookup, in the container's root (ours
 * by now) and the command's PATH (glibc's default without one): 0, ENOENT, or EACCES if only a
 * file that cannot be run was found. runc's create fails on a missing command too, so that the
 * caller learns of it before it reports the container created. */
static int command_error(char *const argv[], char *const envp[])
{
    const char *name = argv[0], *path = "/bin:/usr/bin";
    if (!*name)
        return ENOENT;
    if (strchr(name, '/'))
        return runnable(name);
    for (char *const *e = envp; *e; e++)
        if (!strncmp(*e, "PATH=", 5)) { /* the first, as getenv finds it */
            path = *e + 5;
            break;
        }
    int err = ENOENT;
    for (const char *dir = path;; dir++) {
        const char *end = strchrnul(dir, ':');
        char full[PATH_MAX];
        /* An empty entry is the working directory, as for execvp. */
        int n = end == dir ? snprintf(full, sizeof full, "%s", name) : snprintf(full, sizeof full, "%.*s/%s", (int)(end - dir), dir, name);
        int e = n < (int)sizeof full ? runnable(full) : ENAMETOOLONG;
        if (e == 0)
            return 0;
        if (e == EACCES)
            err = EACCES;
        if (!*end)
            return err;
        dir = end;
    }
}

/* A created container that is signalled ends, as runc's does: as pid 1 of its namespace it
 * would ignore every signal without a handler. (The command starts with them reset.) */
static void end(int sig)
{
    _exit(128 + sig);
}

int park(const struct spec *spec, int errfd)
{
    static const int ending[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};
    if (park_listener < 0)
        return errfd;
    int err = command_error(spec->argv, spec->envp);
    if (err)
        fail(errfd, err, "exec", "exec %s", spec->argv[0]);
    struct sigaction sa = {.sa_handler = end};
    for (size_t i = 0; i < sizeof ending / sizeof *ending; i++)
        sigaction(ending[i], &sa, NULL);
    /* EOF with us alive and not ending: the launcher reports `created` and leaves us. */
    close(errfd);
    int conn;
    while ((conn = accept4(park_listener, NULL, NULL, SOCK_CLOEXEC)) < 0)
        if (errno != EINTR)
            _exit(1);
    char byte = 0;
    ssize_t n;
    while ((n = read(conn, &byte, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1 || byte != 'g')
        _exit(1);
    close(park_listener);
    park_listener = -1;
    return conn;
}
