/* The container's output: lines from its stdout and stderr pipes, each
 * written to the log file with a timestamp and the stream it came from, and
 * passed on as they are to the supervisor's own stdout and stderr when the
 * engine is attached (Start-UnicornContainer -Wait).
 *
 * Log line format (the CRI's): <RFC 3339 UTC time, ns> <stdout|stderr> <F|P> <text>
 * F ends a line; P is part of a line longer than the buffer, continued by the
 * next record of the same stream. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "launcher.h"

static void write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* a full disk or a closed terminal must not stop the container */
        data += n;
        len -= n;
    }
}

static void log_record(const struct stream *s, const char *text, size_t len, char kind)
{
    if (s->log < 0)
        return;
    struct timespec now;
    struct tm tm;
    char head[64];
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(head + n, sizeof head - n, ".%09ldZ %s %c ", now.tv_nsec, s->name, kind);

    char line[sizeof head + RELAY_BUFFER + 1];
    memcpy(line, head, n);
    memcpy(line + n, text, len);
    line[n + len] = '\n';
    write_all(s->log, line, n + len + 1); /* one write per record: O_APPEND keeps records whole */
}

/* Reads what is there; returns 0 at EOF (the stream is done), 1 otherwise. */
int relay_read(struct stream *s)
{
    ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n <= 0) {
        relay_flush(s);
        return 0;
    }
    if (s->tee >= 0)
        write_all(s->tee, s->buf + s->len, n);
    s->len += n;

    char *start = s->buf, *end = s->buf + s->len, *nl;
    while ((nl = memchr(start, '\n', end - start))) {
        log_record(s, start, nl - start, 'F');
        start = nl + 1;
    }
    s->len = end - start;
    if (s->len == sizeof s->buf) { /* a line longer than the buffer: log it in parts */
        log_record(s, s->buf, s->len, 'P');
        s->len = 0;
    } else {
        memmove(s->buf, start, s->len);
    }
    return 1;
}

/* The last line of a stream that did not end with a newline. */
void relay_flush(struct stream *s)
{
    if (s->len > 0)
        log_record(s, s->buf, s->len, 'F');
    s->len = 0;
}
