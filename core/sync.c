/*
 * core/sync.c - the Redis writer loop (see sync.h): batches of queued link
 * events applied to STATE_DB in one round trip each, reconnection with a
 * resync after a lost connection, PortInitDone and readiness once due, and the
 * drain on SIGTERM. SONiC's startup sequence before it is startup.c's.
 *
 * Each batch costs one round trip whatever its size: a pipeline of plain
 * writes for the ports the APPL_DB view holds present, or, for the others
 * and while the view is unknown, a script that checks APPL_DB PORT_TABLE
 * and writes STATE_DB per event, in order (two round trips where STATE_DB
 * has a server of its own; one more for a batch of both kinds: batch.c).
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psu/clock.h"
#include "psu/log.h"
#include "psu/notify.h"
#include "batch.h"
#include "sync.h"

#define BATCH_MAX PCD_BATCH_MAX

/* Tell systemd (Type=notify); a failure is logged, never fatal: port sync goes on. */
static void notify(const char *state)
{
    if (psu_notify_send(state) < 0)
        psu_log_warn("sd_notify to NOTIFY_SOCKET %s failed: %s (sending '%.*s')",
                     getenv("NOTIFY_SOCKET"), strerror(errno), (int)strcspn(state, "\n"), state);
}

/*
 * Apply a batch (pcd_batch_apply: check APPL_DB PORT_TABLE, write STATE_DB,
 * per event, in order; one round trip, or two when STATE_DB has its own server). Returns 0, or -1
 * when the connection was lost (nothing of the batch is accounted; the caller requeues).
 */
static int apply_batch(struct pcd_sync *s, struct pcd_event *ev, size_t n)
{
    struct pcd_state_op ops[BATCH_MAX];
    int res[BATCH_MAX];
    static char errs[BATCH_MAX][160];
    for (size_t i = 0; i < n; i++) {
        ops[i].name = ev[i].name;
        ops[i].op = ev[i].type == RTM_DELLINK ? 'D' : ev[i].del_first ? 'X' : 'N';
        ops[i].oper = (ev[i].flags & IFF_RUNNING) ? "up" : "down";
        ops[i].admin = (ev[i].flags & IFF_UP) ? "up" : "down";
        snprintf(ops[i].mtu, sizeof ops[i].mtu, "%u", ev[i].mtu);
    }
    int trips = 0;
    int rc = pcd_batch_apply(&s->db.r, s->view, ops, n, res, errs, &trips);
    if (rc < 0)
        return pcd_dbconn_lost(&s->db, pcd_redis_failed(&s->db.r), "writing STATE_DB PORT_TABLE"),
               -1;
    if (rc > 0) {
        /*
         * The script as a whole failed (BUSY, READONLY, LOADING...): nothing of the
         * batch was applied. Start over from a new connection after a pause; the
         * batch is requeued and the reconnection resynchronises.
         */
        psu_log_error("%s: reconnecting", errs[0]);
        pcd_dbconn_lost(&s->db, NULL, "applying a batch");
        pcd_linkmon_threaded(s->lm); /* netlink is read while this thread pauses */
        usleep(200 * 1000);
        return -1;
    }
    uint64_t now = psu_clock_mono_ns(), done = 0;
    for (size_t i = 0; i < n; i++) {
        done += ev[i].folded;
        if (res[i] == PCD_APPLY_ERROR) {
            psu_log_warn("STATE_DB PORT_TABLE|%s: %s", ev[i].name, errs[i]);
            psm_counter_add(s->m->events_failed, ev[i].folded);
            continue;
        }
        psm_counter_add(s->m->events_processed, ev[i].folded);
        if (res[i] == PCD_APPLY_NOT_FOUND) {
            psm_counter_add(s->m->ignored[PCD_IGN_NOT_IN_TABLE], ev[i].folded);
            psu_log_info("%s is not in APPL_DB PORT_TABLE: not published to STATE_DB", ev[i].name);
            continue;
        }
        pcd_metrics_observe_ns(s->m->event_latency, "portsyncd_event_latency_seconds",
                               now - ev[i].t_first);
        pcd_reconcile_applied(s->st.rc, &ev[i]);
        if (ev[i].type == RTM_NEWLINK) {
            pcd_startup_port_created(&s->st, ev[i].name);
            psu_log_debug("STATE_DB PORT_TABLE|%s: oper %s admin %s mtu %s", ev[i].name,
                          ops[i].oper, ops[i].admin, ops[i].mtu);
        } else {
            psu_log_debug("STATE_DB PORT_TABLE|%s deleted", ev[i].name);
        }
    }
    pcd_queue_done(s->q, done);
    /* What tests count against the server's own command log (one round trip per batch). */
    psu_log_debug("batch of %zu event%s applied in %d round trip%s", n, n == 1 ? "" : "s", trips,
                  trips == 1 ? "" : "s");
    return 0;
}

/*
 * During a warm restart or a restart alone (reconcile.h): take out of the batch
 * the events the hold keeps from STATE_DB. They are handled (counted
 * processed); a held NEWLINK of a port with a STATE_DB entry counts as created
 * for PortInitDone, as its write would have. Returns how many are left, in order.
 */
static size_t hold_filter(struct pcd_sync *s, struct pcd_event *ev, size_t n, uint64_t done_ns)
{
    if (!pcd_reconcile_active(s->st.rc))
        return n;
    size_t kept = 0;
    uint64_t held = 0;
    for (size_t i = 0; i < n; i++) {
        if (pcd_reconcile_filter(s->st.rc, &ev[i], done_ns)) {
            ev[kept++] = ev[i];
            continue;
        }
        held += ev[i].folded;
        if (ev[i].type == RTM_NEWLINK)
            pcd_startup_port_created(&s->st, ev[i].name);
        psu_log_debug("STATE_DB PORT_TABLE|%s: held (reconciliation pending)", ev[i].name);
    }
    psm_counter_add(s->m->events_processed, held);
    pcd_queue_done(s->q, held);
    return kept;
}

/* Startup failed or was stopped: undo what it set up. */
static int give_up(struct pcd_sync *s)
{
    pcd_linkmon_free(s->lm);
    s->lm = NULL;
    pcd_redis_close(&s->db.r);
    pcd_startup_free(&s->st);
    return atomic_load(s->stop) ? 0 : -1;
}

/* A batch could not be applied: count it failed and put it back for the next connection. */
static void requeue(struct pcd_sync *s, const struct pcd_event *batch, size_t n)
{
    uint64_t folded = 0;
    for (size_t i = 0; i < n; i++)
        folded += batch[i].folded;
    psm_counter_add(s->m->events_failed, folded);
    if (pcd_queue_requeue(s->q, batch, n))
        pcd_linkmon_resync(s->lm, PCD_RESYNC_QUEUE_FULL);
}

/* Redis's side hook (redis.h): netlink, while its reader runs inline. */
static int side_fd(void *lm)
{
    return pcd_linkmon_fd(lm);
}

static void side_ready(void *lm)
{
    pcd_linkmon_service(lm);
}

/*
 * Once a second: an idle daemon notices a lost Redis too, so redis_connected
 * tells the truth. Each connection is its own: any of them can be lost (a
 * server of its own restarted, CLIENT KILL), and the next batch or startup step
 * would fail on it.
 */
static void ping(struct pcd_sync *s)
{
    redisContext *c[] = {s->db.r.appl, s->db.r.config, s->db.r.state};
    for (size_t i = 0; i < 3 && s->db.connected; i++) {
        redisReply *pong = pcd_dbconn_cmd(&s->db, c[i], 1, (const char *[]){"PING"});
        if (pong)
            freeReplyObject(pong);
        else
            pcd_dbconn_lost(&s->db, c[i], "checking the connection (PING)");
    }
}

int pcd_sync_run(struct pcd_sync *s)
{
    s->db.gauge = s->m->redis_connected;
    s->db.stop = s->stop;
    s->db.r.rtt = s->m->redis_latency;
    pcd_startup_init(&s->st, &s->db, s->m);
    s->st.settle_ms = s->settle_ms;
    if (!(s->lm = pcd_linkmon_new(s->q, s->m))) {
        psu_log_error("out of memory for the netlink reader");
        return give_up(s);
    }
    if (pcd_startup_run(&s->st, s->lm, &s->lm_opts) != 0)
        return give_up(s);

    /*
     * From here on the netlink reader runs inline, in this loop, while Redis is
     * connected: a change goes from the socket to Redis with no thread hand-off,
     * and a Redis reply is waited for with the socket polled too. It has its
     * thread back while this loop waits on something else (a reconnection).
     */
    s->db.r.side = (struct pcd_redis_side){side_fd, side_ready, s->lm};
    struct pcd_event batch[BATCH_MAX];
    uint64_t last_tick = 0;
    int draining = 0;
    for (;;) {
        if (atomic_load(s->stop) && !draining) {
            /* No new events from here on: apply what is queued, then leave. */
            psu_log_notice("stopping: draining %llu queued events",
                           (unsigned long long)pcd_queue_pending(s->q));
            pcd_linkmon_stop(s->lm);
            draining = 1;
        }
        if (!s->db.connected) {
            pcd_linkmon_threaded(s->lm);
            /*
             * A server that restarted may hold other APPL_DB keys than the view
             * does, and the view's own connections may not have noticed yet: the
             * resync after this reconnection takes the script until it rescans.
             */
            pcd_portview_invalidate(s->view);
            if (draining || pcd_dbconn_connect(&s->db) != 0)
                break;
            psm_counter_inc(s->m->redis_reconnects);
            pcd_linkmon_resync(s->lm, PCD_RESYNC_REDIS);
            /*
             * During the hold, the baseline is what STATE_DB held when it was
             * read. A server that restarted (without persistence, or from an
             * older snapshot) holds something else now: held against the old
             * baseline, the resync dump would write nothing and STATE_DB would
             * stay as the restart left it. Read it again, as at the start.
             */
            if (pcd_reconcile_active(s->st.rc) && pcd_reconcile_load_baseline(s->st.rc) != 0)
                continue;
        }
        int wait = draining ? 0 : pcd_reconcile_wait_ms(s->st.rc, psu_clock_mono_ns(), 200);
        if (!draining) {
            /* Inline: read netlink here, waiting only when nothing is queued. */
            pcd_linkmon_inline(s->lm);
            if (pcd_linkmon_wait(s->lm, pcd_queue_ports(s->q) ? 0 : wait) == 0)
                wait = 0;
        }
        /* Read before the pop: every event of a dump that ended by now is queued. */
        uint64_t done_ns = pcd_linkmon_initial_done_ns(s->lm);
        size_t n = pcd_queue_pop(s->q, batch, BATCH_MAX, wait);
        int drained = n < BATCH_MAX;
        n = hold_filter(s, batch, n, done_ns);
        if (n && apply_batch(s, batch, n) != 0) {
            requeue(s, batch, n);
            continue;
        }
        if (pcd_reconcile_tick(s->st.rc, psu_clock_mono_ns(), done_ns, drained) != 0)
            continue;
        if (pcd_startup_port_init_done(&s->st) != 0)
            continue;
        /*
         * The dump had ended before this pop, and the pop emptied the queue: every
         * event of the dump was in this batch or an earlier one, and is applied.
         * (Not "nothing pending": while changes keep coming, read during each
         * reply, the queue is seldom empty, and ready would wait for a lull.)
         */
        if (!s->ready_sent && done_ns && drained) {
            s->ready_sent = 1;
            notify("READY=1\nSTATUS=initial link dump applied");
            psu_log_notice("ready: initial link dump applied (%.1f ms after start)",
                           (double)(psu_clock_mono_ns() - s->st.started_ns) / 1e6);
        }
        if (draining && n == 0)
            break;
        if (psu_clock_mono_ns() - last_tick >= 1000000000ull) {
            last_tick = psu_clock_mono_ns();
            if (s->db.connected && !draining)
                ping(s);
        }
    }
    /* On every way out: the thread uses the queue and the metrics. */
    pcd_linkmon_free(s->lm);
    s->lm = NULL;
    uint64_t left = pcd_queue_pending(s->q);
    if (left)
        psu_log_warn("exiting with %llu events not applied (Redis unavailable)",
                     (unsigned long long)left);
    pcd_redis_close(&s->db.r);
    pcd_startup_free(&s->st);
    notify("STOPPING=1");
    return 0;
}
