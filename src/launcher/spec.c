/* Reads the spec file: NUL-terminated strings, key then values (README.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

static int read_all(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    *data = malloc(st.st_size + 1);
    size_t got = 0;
    while (*data && got < (size_t)st.st_size) {
        ssize_t n = read(fd, *data + got, st.st_size - got);
        if (n <= 0)
            break;
        got += n;
    }
    close(fd);
    if (!*data || got != (size_t)st.st_size) {
        errno = *data ? EIO : ENOMEM;
        return -1;
    }
    (*data)[got] = '\0';
    *len = got;
    return 0;
}

/* The next string of the file, or NULL at its end. */
static char *next(char **p, char *end)
{
    if (*p >= end)
        return NULL;
    char *s = *p;
    *p += strlen(s) + 1;
    return s;
}

/* "uid:gid:g1,g2,..." (the groups may be empty). */
static int parse_user(char *v, struct user *u)
{
    char *end;
    u->uid = strtoul(v, &end, 10);
    if (end == v || *end != ':')
        return -1;
    v = end + 1;
    u->gid = strtoul(v, &end, 10);
    if (end == v || *end != ':')
        return -1;
    for (v = end + 1; *v; v = *end ? end + 1 : end) {
        if (u->ngroups == sizeof u->groups / sizeof u->groups[0])
            return -1;
        u->groups[u->ngroups++] = strtoul(v, &end, 10);
        if (end == v || (*end && *end != ','))
            return -1;
    }
    u->set = 1;
    return 0;
}

int spec_read(const char *path, struct spec *spec)
{
    size_t len;
    memset(spec, 0, sizeof *spec);
    if (read_all(path, &spec->data, &len) < 0)
        return -1;

    /* Every string is NUL-terminated, so there are at most len of them. */
    size_t max = len + 1, nargs = 0, nenv = 0, ncgroups = 0, nmasked = 0, nreadonly = 0, ntmpfs = 0, nexitargs = 0, nexitenv = 0;
    spec->argv = calloc(max, sizeof(char *));
    spec->envp = calloc(max, sizeof(char *));
    spec->exit_argv = calloc(max, sizeof(char *));
    spec->exit_envp = calloc(max, sizeof(char *));
    spec->cgroups = calloc(max, sizeof(char *));
    spec->masked = calloc(max, sizeof(char *));
    spec->readonly = calloc(max, sizeof(char *));
    spec->tmpfs = calloc(max, sizeof(char *));
    spec->binds = calloc(max / 3 + 1, sizeof(struct bind));
    if (!spec->argv || !spec->envp || !spec->exit_argv || !spec->exit_envp || !spec->binds || !spec->cgroups || !spec->masked || !spec->readonly || !spec->tmpfs) {
        errno = ENOMEM;
        return -1;
    }

    char *p = spec->data, *end = spec->data + len;
    char *key;
    while ((key = next(&p, end))) {
        char *v = next(&p, end);
        if (!v)
            goto bad;
        if (!strcmp(key, "rootfs"))
            spec->rootfs = v;
        else if (!strcmp(key, "hostname"))
            spec->hostname = v;
        else if (!strcmp(key, "cwd"))
            spec->cwd = v;
        else if (!strcmp(key, "log"))
            spec->log = v;
        else if (!strcmp(key, "logmaxsize")) {
            char *e;
            spec->log_max_size = strtoll(v, &e, 10);
            if (e == v || *e || spec->log_max_size < 0)
                goto bad;
        } else if (!strcmp(key, "logmaxfiles")) {
            char *e;
            long files = strtol(v, &e, 10);
            if (e == v || *e || files < 1 || files > 1000)
                goto bad;
            spec->log_max_files = files;
        } else if (!strcmp(key, "attach"))
            spec->attach = !strcmp(v, "1");
        else if (!strcmp(key, "init"))
            spec->init = !strcmp(v, "1");
        else if (!strcmp(key, "tty"))
            spec->tty = !strcmp(v, "1");
        else if (!strcmp(key, "cgroup"))
            spec->cgroups[ncgroups++] = v;
        else if (!strcmp(key, "cgroup2"))
            spec->cgroup2 = v;
        else if (!strcmp(key, "user")) {
            if (parse_user(v, &spec->user) < 0)
                goto bad;
        } else if (!strcmp(key, "caps")) {
            spec->security.caps = strtoull(v, NULL, 16);
            spec->security.caps_set = 1;
        } else if (!strcmp(key, "nonewprivs"))
            spec->security.no_new_privs = !strcmp(v, "1");
        else if (!strcmp(key, "seccomp")) {
            if (read_seccomp(v, &spec->security) < 0)
                return -1;
        } else if (!strcmp(key, "rlimit")) {
            struct security *sec = &spec->security;
            if (sec->nrlimits == sizeof sec->rlimits / sizeof sec->rlimits[0]
                || sscanf(v, "%d:%llu:%llu", &sec->rlimits[sec->nrlimits].resource, &sec->rlimits[sec->nrlimits].soft,
                          &sec->rlimits[sec->nrlimits].hard) != 3)
                goto bad;
            sec->nrlimits++;
        } else if (!strcmp(key, "mask"))
            spec->masked[nmasked++] = v;
        else if (!strcmp(key, "readonly"))
            spec->readonly[nreadonly++] = v;
        else if (!strcmp(key, "tmpfs"))
            spec->tmpfs[ntmpfs++] = v;
        else if (!strcmp(key, "devices"))
            spec->devices = !strcmp(v, "1");
        else if (!strcmp(key, "rootreadonly"))
            spec->root_readonly = !strcmp(v, "1");
        else if (!strcmp(key, "restart")) {
            char *e;
            if (!strcmp(v, "always"))
                spec->restart = RESTART_ALWAYS;
            else if (!strncmp(v, "on-failure:", 11) && (spec->restart_max = strtol(v + 11, &e, 10)) >= 0 && e > v + 11 && !*e)
                spec->restart = RESTART_ON_FAILURE;
            else
                goto bad;
        } else if (!strcmp(key, "arg"))
            spec->argv[nargs++] = v;
        else if (!strcmp(key, "env"))
            spec->envp[nenv++] = v;
        else if (!strcmp(key, "exitarg"))
            spec->exit_argv[nexitargs++] = v;
        else if (!strcmp(key, "exitenv"))
            spec->exit_envp[nexitenv++] = v;
        else if (!strcmp(key, "bind")) {
            char *dst = next(&p, end), *mode = next(&p, end);
            if (!dst || !mode)
                goto bad;
            struct bind *b = &spec->binds[spec->nbinds++];
            b->source = v;
            b->destination = dst;
            b->readonly = !strcmp(mode, "ro");
        } else
            goto bad;
    }
    if (nargs == 0)
        goto bad;
    return 0;
bad:
    errno = EINVAL;
    return -1;
}
