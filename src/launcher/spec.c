/* Reads the spec file: NUL-terminated strings, key then values (README.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/mount.h>
#include <sched.h>
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

/* A number in base (10, 16 or 8) that fills the whole string. */
static int number(const char *v, int base, unsigned long long *out)
{
    char *e;
    errno = 0;
    *out = strtoull(v, &e, base);
    return e == v || *e || errno || *v == '-' ? -1 : 0;
}

/* A mount's flags: OCI's option words, comma-separated (SpecFile.MountFlags). */
static int parse_mount_flags(char *words, struct mount_spec *m)
{
    static const struct { const char *word; unsigned long long attr; unsigned long propagation; int recursive, bind; } known[] = {
        {"bind", 0, 0, 0, 1}, {"rbind", 0, 0, 0, 2}, {"tmpcopyup", 0, 0, 0, 0},
        {"ro", MOUNT_ATTR_RDONLY, 0, 0, 0}, {"nosuid", MOUNT_ATTR_NOSUID, 0, 0, 0},
        {"nodev", MOUNT_ATTR_NODEV, 0, 0, 0}, {"noexec", MOUNT_ATTR_NOEXEC, 0, 0, 0},
        {"relatime", MOUNT_ATTR_RELATIME, 0, 0, 0}, {"noatime", MOUNT_ATTR_NOATIME, 0, 0, 0},
        {"strictatime", MOUNT_ATTR_STRICTATIME, 0, 0, 0}, {"nodiratime", MOUNT_ATTR_NODIRATIME, 0, 0, 0},
        {"private", 0, MS_PRIVATE, 0, 0}, {"rprivate", 0, MS_PRIVATE, 1, 0},
        {"shared", 0, MS_SHARED, 0, 0}, {"rshared", 0, MS_SHARED, 1, 0},
        {"slave", 0, MS_SLAVE, 0, 0}, {"rslave", 0, MS_SLAVE, 1, 0},
        {"unbindable", 0, MS_UNBINDABLE, 0, 0}, {"runbindable", 0, MS_UNBINDABLE, 1, 0},
    };
    for (char *save = NULL, *w = strtok_r(words, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < sizeof known / sizeof *known && strcmp(w, known[i].word))
            i++;
        if (i == sizeof known / sizeof *known)
            return -1;
        m->attrs |= known[i].attr;
        if (known[i].propagation)
            m->propagation = known[i].propagation, m->propagation_recursive = known[i].recursive;
        if (known[i].bind)
            m->bind = known[i].bind;
        if (!strcmp(w, "tmpcopyup"))
            m->copyup = 1;
    }
    return 0;
}

static int parse_namespace(const char *type, const char *path, struct spec *spec)
{
    static const struct { const char *name; int type; } names[] = {
        {"pid", CLONE_NEWPID}, {"net", CLONE_NEWNET}, {"mnt", CLONE_NEWNS},
        {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP},
    };
    if (spec->nnamespaces == sizeof spec->namespaces / sizeof *spec->namespaces)
        return -1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(type, names[i].name)) {
            spec->namespaces[spec->nnamespaces++] = (struct namespace_spec){names[i].type, *path ? path : NULL};
            return 0;
        }
    return -1;
}

/* "private", "rslave", ... as MS_* flags for the root. */
static unsigned long parse_propagation(const char *v)
{
    struct mount_spec m = {0};
    char word[32];
    snprintf(word, sizeof word, "%s", v);
    if (parse_mount_flags(word, &m) < 0 || !m.propagation || m.attrs || m.bind || m.copyup)
        return 0;
    return m.propagation | (m.propagation_recursive ? MS_REC : 0);
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
    spec->mounts = calloc(max / 6 + 1, sizeof(struct mount_spec));
    spec->devices_made = calloc(max / 8 + 1, sizeof(struct device_spec));
    spec->sysctls = calloc(max, sizeof(char *));
    spec->private_binds = calloc(max / 3 + 1, sizeof(struct private_bind));
    spec->security.umask = -1;
    size_t nsysctls = 0;
    if (!spec->mounts || !spec->devices_made || !spec->sysctls || !spec->private_binds) {
        errno = ENOMEM;
        return -1;
    }
    if (!spec->argv || !spec->envp || !spec->exit_argv || !spec->exit_envp || !spec->cgroups || !spec->masked || !spec->readonly || !spec->tmpfs) {
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
            struct security *sec = &spec->security;
            unsigned long long *sets[] = {&sec->bounding, &sec->effective, &sec->permitted, &sec->inheritable, &sec->ambient};
            for (size_t i = 0; i < 5; i++)
                if ((i > 0 && !(v = next(&p, end))) || number(v, 16, sets[i]) < 0)
                    goto bad;
            sec->caps_set = 1;
        } else if (!strcmp(key, "mount")) {
            struct mount_spec *m = &spec->mounts[spec->nmounts++];
            char *flags;
            m->type = v;
            if (!(m->source = next(&p, end)) || !(m->destination = next(&p, end)) || !(flags = next(&p, end))
                || !(m->data = next(&p, end)) || parse_mount_flags(flags, m) < 0 || *m->destination != '/'
                || (m->copyup && (m->bind || strcmp(m->type, "tmpfs")))) /* a copy-up fills a new tmpfs only */
                goto bad;
        } else if (!strcmp(key, "device")) {
            struct device_spec *d = &spec->devices_made[spec->ndevices++];
            char *type = next(&p, end), *values[5];
            unsigned long long n[5];
            for (size_t i = 0; i < 5; i++)
                if (!(values[i] = next(&p, end)) || number(values[i], i == 2 ? 8 : 10, &n[i]) < 0)
                    goto bad;
            if (!type || *v != '/' || strlen(type) != 1 || !strchr("cbp", *type) || n[2] > 07777)
                goto bad;
            *d = (struct device_spec){.path = v, .type = *type == 'c' ? S_IFCHR : *type == 'b' ? S_IFBLK : S_IFIFO,
                                      .major = n[0], .minor = n[1], .mode = n[2], .uid = n[3], .gid = n[4]};
        } else if (!strcmp(key, "namespace")) {
            char *ns_path = next(&p, end);
            if (!ns_path || parse_namespace(v, ns_path, spec) < 0)
                goto bad;
        } else if (!strcmp(key, "sysctl")) {
            char *value = next(&p, end);
            if (!value)
                goto bad;
            spec->sysctls[nsysctls++] = v;
            spec->sysctls[nsysctls++] = value;
        } else if (!strcmp(key, "oomscoreadj")) {
            char *e;
            long n = strtol(v, &e, 10);
            if (e == v || *e || n < -1000 || n > 1000)
                goto bad;
            spec->oom_score_adj = n, spec->oom_score_adj_set = 1;
        } else if (!strcmp(key, "umask")) {
            unsigned long long n;
            if (number(v, 8, &n) < 0 || n > 0777)
                goto bad;
            spec->security.umask = n;
        } else if (!strcmp(key, "consolesocket"))
            spec->console_socket = v;
        else if (!strcmp(key, "consolesize")) {
            char *columns = next(&p, end);
            unsigned long long rows, cols;
            if (!columns || number(v, 10, &rows) < 0 || number(columns, 10, &cols) < 0 || rows > 65535 || cols > 65535)
                goto bad;
            spec->console_rows = rows, spec->console_columns = cols;
        } else if (!strcmp(key, "rootpropagation")) {
            if (!(spec->root_propagation = parse_propagation(v)))
                goto bad;
        } else if (!strcmp(key, "nopivot"))
            spec->no_pivot = !strcmp(v, "1");
        else if (!strcmp(key, "preservefds")) {
            unsigned long long n;
            if (number(v, 10, &n) < 0 || n > 1024)
                goto bad;
            spec->preserve_fds = n;
        } else if (!strcmp(key, "privatebind")) {
            struct private_bind *b = &spec->private_binds[spec->nprivate_binds++];
            b->source = v;
            if (!(b->destination = next(&p, end)) || *b->source != '/' || *b->destination != '/')
                goto bad;
        } else if (!strcmp(key, "detach"))
            spec->detach = !strcmp(v, "1");
        else if (!strcmp(key, "nonewprivs"))
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
        else
            goto bad;
    }
    if (nargs == 0)
        goto bad;
    return 0;
bad:
    errno = EINVAL;
    return -1;
}

int spec_new_namespaces(const struct spec *spec)
{
    if (spec->nnamespaces == 0)
        return NAMESPACES;
    int flags = 0;
    for (size_t i = 0; i < spec->nnamespaces; i++)
        if (!spec->namespaces[i].path)
            flags |= spec->namespaces[i].type;
    return flags;
}
