/*
 * shm/trust.c - which file at a segment's path a reader (and a re-attaching
 * writer) may believe, and who may own it.
 *
 * /dev/shm is world-writable, so a name there proves nothing: any local user can
 * create the file before the writer does (a FIFO that hangs an opener, a segment
 * full of invented figures). The reader therefore accepts only a regular file
 * owned by the expected writer that nobody else may write; psm__stat_trusted()
 * says why anything else is refused. Whether the writer behind a trusted file is
 * still alive is liveness.c's question.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "psm/reader.h"

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
void psm__uid_label(uid_t uid, char *out, size_t len)
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
        psm__uid_label(st->st_uid, have, sizeof have);
        psm__uid_label(owner, want, sizeof want);
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
