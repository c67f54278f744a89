/*
 * exporter/segment.c - the metrics segment as the exporter sees it.
 *
 * The segment may not exist yet (the exporter started first), may be replaced
 * (an incompatible writer renamed a new one into place), may be deleted, and
 * its writer may die. None of this stops the exporter: it keeps serving its
 * own metrics, reports what it sees, and picks the segment up again when it
 * reappears. Only transitions are logged, so a missing segment is one line,
 * not one per scrape.
 *
 * /dev/shm is world-writable, so the name proves nothing: the reader opens
 * without blocking or following links and maps only a regular file of the
 * expected owner (--shm-owner) without group/other write bits. Anything else
 * found at the path is logged once when found (the reader's line says what it
 * is) and counted by what it is.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "psu/clock.h"
#include "psu/log.h"
#include "segment.h"

/* A missing segment is looked for at most this often. */
#define REOPEN_INTERVAL_NS 500000000u

static const char *const refusal_label[PEX_SEG_NREFUSALS] = {
    [PEX_SEG_FIFO] = "fifo",
    [PEX_SEG_DIRECTORY] = "directory",
    [PEX_SEG_SYMLINK] = "symlink",
    [PEX_SEG_NOT_REGULAR] = "not_regular",
    [PEX_SEG_FOREIGN_OWNER] = "foreign_owner",
    [PEX_SEG_WRITABLE] = "writable_by_others",
};

const char *pex_seg_refusal_label(int r)
{
    return r >= 0 && r < PEX_SEG_NREFUSALS ? refusal_label[r] : "unknown";
}

/* The file the reader opens for s->name. */
static void seg_path(const struct pex_segment *s, char *out, size_t len)
{
    if (s->name[0] == '/')
        snprintf(out, len, "%s", s->name);
    else
        snprintf(out, len, "/dev/shm/%s", s->name);
}

/*
 * What the reader refused (errno EPERM or ELOOP: an untrusted object), for the
 * counter's label; the reader's own message says it in words. Judged again
 * with lstat(): a file changing in between only changes the label.
 */
static int classify_refusal(const struct pex_segment *s, int e)
{
    char path[4200];
    struct stat st;
    if (e != EPERM && e != ELOOP)
        return -1;
    seg_path(s, path, sizeof path);
    if (lstat(path, &st) != 0)
        return -1;
    if (S_ISFIFO(st.st_mode))
        return PEX_SEG_FIFO;
    if (S_ISDIR(st.st_mode))
        return PEX_SEG_DIRECTORY;
    if (S_ISLNK(st.st_mode))
        return PEX_SEG_SYMLINK;
    if (!S_ISREG(st.st_mode))
        return PEX_SEG_NOT_REGULAR;
    uid_t want = s->trust && s->trust->owner_set ? s->trust->owner : 0;
    if (st.st_uid != want)
        return PEX_SEG_FOREIGN_OWNER;
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return PEX_SEG_WRITABLE;
    return -1;
}

static void log_mapped(struct pex_segment *s)
{
    if (s->last_state == 1)
        return;
    psu_log_info("segment '%s' mapped read-only", s->name);
    s->last_state = 1;
    s->last_why = -1;
    s->last_refusal = -1;
}

/* Logs and counts a failed open once per state: a different errno or a
 * different kind of untrusted object is a new state. */
static void log_unavailable(struct pex_segment *s, int e, const char *why)
{
    int refusal = classify_refusal(s, e);
    if (s->last_state == 0 && s->last_why == e && s->last_refusal == refusal)
        return;
    if (refusal >= 0)
        s->refused[refusal]++;
    psu_log_warn("segment '%s' not available: %s; serving exporter metrics only", s->name, why);
    s->last_state = 0;
    s->last_why = e;
    s->last_refusal = refusal;
}

void pex_segment_failed(struct pex_segment *s, const char *why)
{
    s->errors++;
    psu_log_error("segment '%s' failed validation and was unmapped: %s", s->name, why);
    psm_reader_close(s->r);
    s->r = NULL;
    s->last_state = 0;
    s->last_why = EPROTO;
    s->last_refusal = -1;
    s->last_open_try_ns = psu_clock_mono_ns();
}

void pex_segment_poll(struct pex_segment *s, struct pex_seg_status *st)
{
    memset(st, 0, sizeof *st);
    st->live.reason = "segment not mapped";
    if (!s->r) {
        uint64_t now = psu_clock_mono_ns();
        if (s->last_state >= 0 && now - s->last_open_try_ns < REOPEN_INTERVAL_NS)
            return;
        s->last_open_try_ns = now;
        if (psm_reader_open_opts(&s->r, s->name, s->trust, s->err, sizeof s->err) != 0) {
            int e = errno;
            s->r = NULL;
            log_unavailable(s, e, s->err);
            return;
        }
    } else {
        int rc = psm_reader_refresh(s->r);
        if (rc == 1) {
            s->remaps++;
            psu_log_info("segment '%s' was replaced; mapped the new one", s->name);
        } else if (rc < 0 && s->last_state != 2) {
            /* The old mapping stays valid (segments never shrink); say so once. */
            psu_log_warn("segment '%s': %s; still serving the old mapping", s->name,
                         psm_reader_error(s->r));
            s->last_state = 2;
        } else if (rc == 0 && s->last_state == 2) {
            s->last_state = 1;
        }
    }
    if (s->last_state != 2)
        log_mapped(s);
    st->mapped = 1;
    psm_reader_liveness(s->r, s->max_age, &st->live);
}

/* Set only while pex_segment_render() runs; the loop is single-threaded. */
static sigjmp_buf *volatile bus_env;

static void on_sigbus(int sig)
{
    if (bus_env)
        siglongjmp(*bus_env, 1);
    /* Not a read of the segment: the default action, as if we had no handler. */
    signal(sig, SIG_DFL);
    raise(sig);
}

void pex_segment_guard_init(void)
{
    struct sigaction sa = {.sa_handler = on_sigbus};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

int pex_segment_render(struct pex_segment *s, enum psm_format fmt, struct psm_buf *b,
                       struct psm_render_stats *rs)
{
    /* Made once and kept across remaps, so a warm render allocates nothing. */
    if (!s->rn && !(s->rn = psm_renderer_new())) {
        b->oom = 1;
        return -1;
    }
    sigjmp_buf env;
    const size_t start = b->len;
    if (sigsetjmp(env, 1)) {
        bus_env = NULL;
        b->len = start;
        snprintf(s->err, sizeof s->err,
                 "segment '%s' shrank while it was being read (SIGBUS): truncated in place",
                 s->name);
        return -2;
    }
    bus_env = &env;
    int rc = psm_render(s->rn, s->r, fmt, b, PSM_RENDER_NO_EOF, rs);
    bus_env = NULL;
    return rc;
}

void pex_segment_close(struct pex_segment *s)
{
    psm_reader_close(s->r);
    s->r = NULL;
    psm_renderer_free(s->rn);
    s->rn = NULL;
}
