/*
 * exporter/segment.c - the metrics segment as the exporter sees it.
 *
 * The segment may not exist yet (the exporter started first), may be replaced
 * (an incompatible writer renamed a new one into place), may be deleted, and
 * its writer may die. None of this stops the exporter: it keeps serving its
 * own metrics, reports what it sees, and picks the segment up again when it
 * reappears. Only transitions are logged, so a missing segment is one line,
 * not one per scrape.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "pex.h"

/* A missing segment is looked for at most this often (seconds). */
#define REOPEN_INTERVAL 0.5

static void log_transition(struct pex_segment *s, int mapped, const char *why)
{
    if (s->last_state == mapped)
        return;
    if (mapped)
        pex_log(PEX_LOG_INFO, "segment '%s' mapped read-only", s->name);
    else
        pex_log(PEX_LOG_WARN, "segment '%s' not available: %s; serving exporter metrics only",
                s->name, why);
    s->last_state = mapped;
}

void pex_segment_failed(struct pex_segment *s, const char *why)
{
    s->errors++;
    pex_log(PEX_LOG_ERROR, "segment '%s' failed validation and was unmapped: %s", s->name, why);
    psm_reader_close(s->r);
    s->r = NULL;
    s->last_state = 0;
    s->last_open_try = pex_now_mono();
}

void pex_segment_poll(struct pex_segment *s, struct pex_seg_status *st)
{
    memset(st, 0, sizeof *st);
    st->live.reason = "segment not mapped";
    if (!s->r) {
        double now = pex_now_mono();
        if (s->last_state >= 0 && now - s->last_open_try < REOPEN_INTERVAL)
            return;
        s->last_open_try = now;
        if (psm_reader_open(&s->r, s->name, s->err, sizeof s->err) != 0) {
            s->r = NULL;
            log_transition(s, 0, s->err);
            return;
        }
    } else {
        int rc = psm_reader_refresh(s->r);
        if (rc == 1) {
            s->remaps++;
            pex_log(PEX_LOG_INFO, "segment '%s' was replaced; mapped the new one", s->name);
        } else if (rc < 0 && s->last_state != 2) {
            /* The old mapping stays valid (segments never shrink); say so once. */
            pex_log(PEX_LOG_WARN, "segment '%s': %s; still serving the old mapping", s->name,
                    psm_reader_error(s->r));
            s->last_state = 2;
        } else if (rc == 0 && s->last_state == 2) {
            s->last_state = 1;
        }
    }
    if (s->last_state != 2)
        log_transition(s, 1, NULL);
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
