/*
 * psu/notify.h - readiness and state for systemd, without libsystemd.
 *
 * The sd_notify(3) protocol is one datagram of "KEY=value" lines sent to the
 * AF_UNIX socket named by $NOTIFY_SOCKET: a path ("/run/systemd/notify") or,
 * when it starts with '@', a name in the abstract namespace. That is all the
 * daemons need (READY=1, RELOADING=1, STOPPING=1, STATUS=...), so they do not
 * link libsystemd for it.
 */
#ifndef PSU_NOTIFY_H
#define PSU_NOTIFY_H

/**
 * psu_notify_send - tell the service manager about a state change
 * @state: newline-separated assignments, e.g. "READY=1\nSTATUS=serving"
 *
 * Does nothing when NOTIFY_SOCKET is unset or empty (not started by systemd,
 * or by a unit without Type=notify). Never raises SIGPIPE.
 * Returns 1 when sent, 0 when there is nobody to tell, or -1 with errno:
 * EAFNOSUPPORT for an address that is neither a path nor '@' (e.g. systemd's
 * vsock:), ENAMETOOLONG for one too long for sun_path, or the socket's error.
 */
int psu_notify_send(const char *state);

/**
 * psu_notify_send_to - psu_notify_send() to the socket @addr
 * @addr: a socket path, or '@' and an abstract name; NULL or "" sends nothing
 * @state: the assignments
 *
 * Returns as psu_notify_send().
 */
int psu_notify_send_to(const char *addr, const char *state);

#endif
