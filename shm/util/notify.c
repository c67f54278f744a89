/*
 * shm/util/notify.c - see psu/notify.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "psu/notify.h"

int psu_notify_send_to(const char *addr, const char *state)
{
    if (!addr || !*addr)
        return 0;
    if (addr[0] != '/' && addr[0] != '@') {
        errno = EAFNOSUPPORT;
        return -1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(addr);
    if (len > sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, addr, len);
    /* An abstract name is the bytes after a leading NUL, exactly @len of them with it. */
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* MSG_NOSIGNAL: a manager that went away must not kill the daemon with SIGPIPE. */
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    return 1;
}

int psu_notify_send(const char *state)
{
    return psu_notify_send_to(getenv("NOTIFY_SOCKET"), state);
}
