/*
 * shm/trust.c - what a reader believes about a segment it did not make: the file
 * at the segment's path, and whether the segment's writer is alive.
 *
 * /dev/shm is world-writable, so a name there proves nothing: any local user can
 * create the file before the writer does (a FIFO that hangs an opener, a segment
 * full of invented figures). The reader therefore accepts only a regular file
 * owned by the expected writer that nobody else may write; psm__stat_trusted()
 * says why anything else is refused.
 *
 * Liveness has two methods because a pid means nothing outside its PID
 * namespace: on a SONiC switch the writer runs in the swss container and the
 * exporter in its own. The writer records its namespace (st_dev, st_ino of
 * /proc/self/ns/pid); a reader in the same namespace, whose /proc is its own, can
 * check the process itself (exists, not a zombie, same start time); any other
 * reader has only the heartbeat.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "psm/reader.h"

/* A heartbeat this far ahead of our clock was not written in this boot. */
#define FUTURE_SLACK_NS 1000000000ull

int psm_owner_parse(const char *s, uid_t *uid, char *err, size_t errlen)
{
    if (!s || !*s)
        return psm__fail(err, errlen, "owner '' is empty: expected a user name or a numeric uid");
    if (strspn(s, "0123456789") == strlen(s)) {
        /* (uid_t)-1 means "no change" to chown(2): no file is owned by it. */
        errno = 0;
        unsigned long long v = strtoull(s, NULL, 10);
        if (errno == ERANGE || v >= (unsigned long long)(uid_t)-1)
            return psm__fail(err, errlen,
                             "owner '%s' is out of range: expected a user name or a numeric uid "
                             "below %llu",
                             s, (unsigned long long)(uid_t)-1);
        *uid = (uid_t)v;
        return 0;
    }
    struct passwd pw, *res = NULL;
    char buf[4096];
    int e = getpwnam_r(s, &pw, buf, sizeof buf, &res);
    if (!res)
        return psm__fail(err, errlen,
                         "owner '%s' is not a known user%s%s: expected a user name or a numeric "
                         "uid",
                         s, e ? ": " : "", e ? strerror(e) : "");
    *uid = pw.pw_uid;
    return 0;
}

/* "uid 0 (root)", or "uid 123456" for a uid without a name here. */
static void uid_label(uid_t uid, char *out, size_t len)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
        snprintf(out, len, "uid %u (%s)", (unsigned)uid, pw.pw_name);
    else
        snprintf(out, len, "uid %u", (unsigned)uid);
}

const char *psm__file_kind(mode_t mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    return "not a regular file";
}

int psm__stat_trusted(const struct stat *st, uid_t owner, const char *where, char *err,
                      size_t errlen)
{
    if (!S_ISREG(st->st_mode)) {
        errno = S_ISLNK(st->st_mode) ? ELOOP : EPERM;
        if (S_ISLNK(st->st_mode))
            return psm__fail(err, errlen, "%s is a symbolic link: not followed", where);
        return psm__fail(err, errlen, "%s is %s, expected a regular file: not trusted", where,
                         psm__file_kind(st->st_mode));
    }
    if (st->st_uid != owner) {
        char have[300], want[300];
        uid_label(st->st_uid, have, sizeof have);
        uid_label(owner, want, sizeof want);
        errno = EPERM;
        return psm__fail(err, errlen, "%s is owned by %s, expected %s: not trusted", where, have,
                         want);
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        errno = EPERM;
        return psm__fail(err, errlen, "%s has mode %04o: group or others may write it: not trusted",
                         where, (unsigned)(st->st_mode & 07777));
    }
    return 0;
}

/*
 * The method for @in: by pid only where a pid means what the writer meant, i.e.
 * the segment records the writer's namespace, it is ours, and our /proc is ours.
 */
static enum psm_liveness_method liveness_method(const struct psm_info *in)
{
    uint64_t dev, ino;
    if (in->minor < 1 || in->writer_pidns_ino == 0)
        return PSM_LIVENESS_HEARTBEAT;
    if (psm__pidns_self(&dev, &ino) != 0 || dev != in->writer_pidns_dev ||
        ino != in->writer_pidns_ino || !psm__proc_is_own())
        return PSM_LIVENESS_HEARTBEAT;
    return PSM_LIVENESS_PID;
}

/* By pid: NULL if the process is the writer and running, else why not. */
static const char *pid_verdict(pid_t pid, uint64_t want_ticks)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return "the writer process no longer exists";
    char state;
    uint64_t have = 0;
    /* Unreadable (/proc mounted hidepid): the heartbeat still decides. */
    if (psm__proc_stat(pid, &state, &have) != 0)
        return NULL;
    if (want_ticks && have && want_ticks != have)
        return "the writer's pid now belongs to another process";
    if (state == 'Z' || state == 'X')
        return "the writer exited and was not reaped (zombie)";
    return NULL;
}

void psm_reader_liveness(const psm_reader_t *r, double max_age, struct psm_liveness *l)
{
    struct psm_info in;
    psm_reader_info(r, &in);
    uint64_t now = psm__boottime_ns();
    uint64_t hb = in.heartbeat_boottime;
    memset(l, 0, sizeof *l);
    l->pid = in.writer_pid;
    l->method = liveness_method(&in);
    l->heartbeat_age = now > hb ? (double)(now - hb) / 1e9 : 0.0;
    if (l->pid <= 0) {
        l->reason = "the writer closed the segment";
        return;
    }
    /*
     * CLOCK_BOOTTIME never goes back within a boot, so a heartbeat ahead of it was
     * written before a reboot (a segment kept on disk) or by a broken writer.
     */
    if (hb > now + FUTURE_SLACK_NS) {
        /* Its true age is unknown but at least the time since boot: say that, so a
         * caller comparing the age with a limit sees it as old, not fresh. */
        l->heartbeat_age = (double)now / 1e9;
        l->reason = "the writer's heartbeat is in the future: written before a reboot, or by "
                    "a broken writer";
        return;
    }
    if (l->method == PSM_LIVENESS_PID) {
        l->reason = pid_verdict(l->pid, in.writer_start_ticks);
        if (l->reason)
            return;
    }
    if (l->heartbeat_age > max_age) {
        l->reason = l->method == PSM_LIVENESS_PID
                        ? "the writer's heartbeat is stale"
                        : "the writer's heartbeat is stale (judged by the heartbeat alone: the "
                          "writer's PID namespace is not ours or not recorded)";
        return;
    }
    l->alive = 1;
}
