/*
 * tests/unit/test_util_notify.c - psu_notify (shm/util/notify.c): the
 * sd_notify(3) datagram reaches a socket at a path or an abstract name, and
 * nothing is sent when there is no service manager.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "psu/notify.h"

/* A datagram socket bound to @addr ('@' for abstract), as systemd's notify socket. */
static int listen_at(const char *addr)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(addr);
    memcpy(sa.sun_path, addr, len);
    if (addr[0] == '@')
        sa.sun_path[0] = '\0';
    cr_assert_eq(
        bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
        0, "bind %s: %s", addr, strerror(errno));
    return fd;
}

static void expect_datagram(int fd, const char *want)
{
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    cr_assert_gt(n, 0, "nothing received: %s", strerror(errno));
    buf[n] = '\0';
    cr_assert_str_eq(buf, want);
}

Test(notify, the_state_reaches_a_socket_at_a_path)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/psu-notify-%d.sock", (int)getpid());
    unlink(path);
    int fd = listen_at(path);
    setenv("NOTIFY_SOCKET", path, 1);
    cr_assert_eq(psu_notify_send("READY=1\nSTATUS=initial link dump applied"), 1);
    expect_datagram(fd, "READY=1\nSTATUS=initial link dump applied");
    close(fd);
    unlink(path);
}

Test(notify, an_at_sign_names_the_abstract_namespace)
{
    char name[64];
    snprintf(name, sizeof name, "@psu-notify-%d", (int)getpid());
    int fd = listen_at(name);
    cr_assert_eq(psu_notify_send_to(name, "STOPPING=1"), 1);
    expect_datagram(fd, "STOPPING=1");
    close(fd);
}

Test(notify, without_notify_socket_nothing_is_sent)
{
    unsetenv("NOTIFY_SOCKET");
    cr_assert_eq(psu_notify_send("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    cr_assert_eq(psu_notify_send("READY=1"), 0);
    cr_assert_eq(psu_notify_send_to(NULL, "READY=1"), 0);
}

Test(notify, an_address_it_cannot_use_is_an_error)
{
    errno = 0;
    cr_assert_eq(psu_notify_send_to("vsock:2:1234", "READY=1"), -1);
    cr_assert_eq(errno, EAFNOSUPPORT);
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    cr_assert_eq(psu_notify_send_to(longp, "READY=1"), -1);
    cr_assert_eq(errno, ENAMETOOLONG);
    /* Nobody listening: the error is returned, no SIGPIPE. */
    cr_assert_eq(psu_notify_send_to("/nonexistent/notify.sock", "READY=1"), -1);
    cr_assert_eq(errno, ENOENT);
}
