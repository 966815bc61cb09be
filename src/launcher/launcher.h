/* unicorn-launcher: shared declarations. See README.md for the protocol. */
#ifndef UNICORN_LAUNCHER_H
#define UNICORN_LAUNCHER_H

#include <stddef.h>

#define FD_GO 3     /* engine -> launcher: go-ahead byte, EOF = abort */
#define FD_REPORT 4 /* launcher -> engine: report lines */

struct bind {
    const char *source;
    const char *destination;
    int readonly;
};

struct spec {
    char *data; /* the whole file; every string below points into it */
    const char *rootfs;
    const char *hostname;
    const char *cwd;
    char **argv; /* NULL-terminated */
    char **envp; /* NULL-terminated */
    struct bind *binds;
    size_t nbinds;
};

/* spec.c */
int spec_read(const char *path, struct spec *spec);

/* container.c: runs in the cloned child; never returns. */
void container_main(const struct spec *spec, int errfd);

/* util.c */
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fail(int errfd, int err, const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));
int write_file_atomic(const char *dir, const char *name, const char *content);
int mkdir_p(const char *path, int mode);

#endif
