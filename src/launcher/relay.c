/* The container's output: lines from its stdout and stderr pipes, each
 * written to the log file with a timestamp and the stream it came from, and
 * passed on as they are to the supervisor's own stdout and stderr when the
 * engine is attached (Start-UnicornContainer -Wait).
 *
 * Log line format (the CRI's): <RFC 3339 UTC time, ns> <stdout|stderr> <F|P> <text>
 * F ends a line; P is part of a line longer than the buffer, continued by the
 * next record of the same stream.
 *
 * Records are gathered in the log's buffer and written many to a write(2):
 * when the buffer is full, when the pipes have nothing more for now, and at
 * the end. The file is rotated as Docker's json-file driver does (log ->
 * log.1 -> ... -> log.<files-1>), between records. A write that fails (a
 * full disk) drops whole records, never a part of one: the file is cut back
 * to the last whole record, the lines are counted, and once writing works
 * again a record of the stream "unicorn" says how many were lost. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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
            return; /* a closed terminal must not stop the container */
        data += n;
        len -= n;
    }
}

/* Writes as much as it can; returns the bytes written, errno set if short. */
static size_t write_some(int fd, const char *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            break;
        }
        done += n;
    }
    return done;
}

int log_open(struct logfile *lf, const char *path, long long max_size, int max_files)
{
    /* Field by field, not memset: the buffer's pages are touched only as it fills
     * (a quiet container's supervisor stays small). */
    lf->len = 0;
    lf->lost = 0;
    lf->torn = 0;
    lf->error = 0;
    lf->unrotated = 0;
    lf->path = path;
    lf->max_size = max_size > 0 ? max_size : 0;
    lf->max_files = max_files > 0 ? max_files : 1;
    lf->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (lf->fd < 0)
        return -1;
    struct stat st;
    if (fstat(lf->fd, &st) < 0) {
        int err = errno;
        close(lf->fd);
        lf->fd = -1;
        errno = err;
        return -1;
    }
    lf->size = st.st_size;
    return 0;
}

/* The lines (F records) in data, which holds whole records. */
static unsigned long long count_lines(const char *data, size_t len)
{
    unsigned long long lines = 0;
    const char *p = data, *end = data + len, *nl;
    for (; p < end; p = nl + 1) {
        nl = memchr(p, '\n', end - p);
        if (!nl)
            break;
        const char *kind = memchr(p, ' ', nl - p);
        kind = kind ? memchr(kind + 1, ' ', nl - kind - 1) : NULL;
        lines += !kind || kind + 1 >= nl || kind[1] != 'P';
    }
    return lines;
}

/* Counts the records in data as lost (a full disk, say), and keeps the time
 * of the last of them for the marker. */
static void drop(struct logfile *lf, const char *data, size_t len)
{
    if (len == 0)
        return;
    lf->lost += count_lines(data, len);
    const char *last = data + len - 1;
    while (last > data && last[-1] != '\n')
        last--;
    memcpy(lf->lost_time, last, sizeof lf->lost_time);
}

/* Writes whole records from data; on a short write cuts the file back to the
 * last whole record written, and counts the rest as lost. 0 if all went. */
static int write_records(struct logfile *lf, const char *data, size_t len)
{
    size_t done = write_some(lf->fd, data, len);
    if (done == len) {
        lf->size += len;
        return 0;
    }
    lf->error = errno;
    size_t whole = done;
    while (whole > 0 && data[whole - 1] != '\n')
        whole--;
    if (whole < done && ftruncate(lf->fd, lf->size + whole) < 0) {
        lf->torn = 1; /* a part of a record stays: it is ended before the next */
        lf->size += done - whole;
    }
    lf->size += whole;
    drop(lf, data + whole, len - whole);
    return -1;
}

/* log -> log.1 -> ... -> log.<max_files-1>, the oldest dropped; a new log. */
static void log_rotate(struct logfile *lf)
{
    char from[4096], to[4096];
    if (lf->max_files == 1) {
        if (ftruncate(lf->fd, 0) == 0)
            lf->size = lf->unrotated = 0;
        else
            lf->unrotated = lf->size;
        return;
    }
    /* The oldest goes first: a rename onto an existing file would make ext4 write
     * the renamed one out at once (auto_da_alloc), which costs more than the log. */
    snprintf(to, sizeof to, "%s.%d", lf->path, lf->max_files - 1);
    if (unlink(to) < 0 && errno != ENOENT)
        lf->error = errno;
    for (int i = lf->max_files - 1; i >= 1; i--) {
        if (i == 1)
            snprintf(from, sizeof from, "%s", lf->path);
        else
            snprintf(from, sizeof from, "%s.%d", lf->path, i - 1);
        snprintf(to, sizeof to, "%s.%d", lf->path, i);
        if (rename(from, to) < 0 && errno != ENOENT && i == 1) {
            /* The log stays as it is and grows (better than losing it); the next
             * try is after another max_size, not at every record. */
            lf->error = errno;
            lf->unrotated = lf->size;
            return;
        }
    }
    int fd = open(lf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) { /* keep writing where we were, under its old name */
        lf->error = errno;
        lf->unrotated = lf->size;
        if (rename(to, lf->path) < 0)
            lf->error = errno;
        return;
    }
    lf->unrotated = 0;
    close(lf->fd);
    lf->fd = fd;
    lf->size = 0;
    lf->torn = 0;
}

void log_flush(struct logfile *lf)
{
    if (!lf || lf->fd < 0 || lf->len == 0)
        return;
    size_t len = lf->len;
    lf->len = 0;
    if (lf->torn) {
        if (write_some(lf->fd, "\n", 1) != 1) {
            drop(lf, lf->buf, len);
            return;
        }
        lf->torn = 0;
        lf->size++;
    }
    if (lf->lost > 0) {
        char marker[256];
        int n = snprintf(marker, sizeof marker, "%.30s unicorn F %llu line%s lost: %s\n", lf->lost_time, lf->lost,
                         lf->lost == 1 ? "" : "s",
                         lf->error == ENOSPC || lf->error == EDQUOT ? "no space left on the log's disk" : strerror(lf->error));
        unsigned long long lost = lf->lost;
        lf->lost = 0;
        if (write_records(lf, marker, n) < 0) {
            lf->lost = lost; /* the marker is no line of the container's; it waits */
            drop(lf, lf->buf, len);
            return;
        }
    }
    write_records(lf, lf->buf, len);
}

/* Appends one record, head ("<time> <stream> <kind> ") then text and a
 * newline, rotating first if it would take the file past its size. */
static void log_record(struct logfile *lf, const char *head, size_t head_len, const char *text, size_t len)
{
    size_t need = head_len + len + 1;
    long long used = lf->size - lf->unrotated + (long long)lf->len;
    if (lf->max_size > 0 && used + (long long)need > lf->max_size && used > 0) {
        log_flush(lf);
        log_rotate(lf);
    }
    if (lf->len + need > sizeof lf->buf)
        log_flush(lf);
    char *p = lf->buf + lf->len;
    memcpy(p, head, head_len);
    memcpy(p + head_len, text, len);
    p[head_len + len] = '\n';
    lf->len += need;
}

/* "<now> <stream> F " into head (64 bytes); returns its length. The kind is
 * at head[length - 2]. */
static size_t record_head(char *head, const char *name)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(head, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(head + n, 64 - n, ".%09ldZ %s F ", now.tv_nsec, name);
    return n < 64 ? n : 63;
}

/* Reads what is there (the lines of one read share its time); returns 0 at
 * EOF (the stream is done), 1 when the pipe had no more for now, 2 when the
 * read filled the buffer (there may be more). */
int relay_read(struct stream *s)
{
    size_t want = sizeof s->buf - s->len;
    ssize_t n = read(s->fd, s->buf + s->len, want);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n <= 0) {
        relay_flush(s);
        return 0;
    }
    if (s->tee >= 0)
        write_all(s->tee, s->buf + s->len, n);
    s->len += n;
    if (!s->log) {
        s->len = 0;
        return (size_t)n == want ? 2 : 1;
    }

    char head[64];
    size_t head_len = record_head(head, s->name);
    char *start = s->buf, *end = s->buf + s->len, *nl;
    while ((nl = memchr(start, '\n', end - start))) {
        log_record(s->log, head, head_len, start, nl - start);
        start = nl + 1;
    }
    s->len = end - start;
    if (s->len == sizeof s->buf) { /* a line longer than the buffer: log it in parts */
        head[head_len - 2] = 'P';
        log_record(s->log, head, head_len, s->buf, s->len);
        s->len = 0;
    } else if (start != s->buf) {
        memmove(s->buf, start, s->len);
    }
    return (size_t)n == want ? 2 : 1;
}

/* The last line of a stream that did not end with a newline. */
void relay_flush(struct stream *s)
{
    if (s->len > 0 && s->log) {
        char head[64];
        size_t head_len = record_head(head, s->name);
        log_record(s->log, head, head_len, s->buf, s->len);
    }
    s->len = 0;
}
