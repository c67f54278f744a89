/*
 * core/warmstart.c - see warmstart.h.
 */
#include <stdio.h>
#include <string.h>

#include "psu/log.h"
#include "reply.h"
#include "warmstart.h"

_Static_assert(PCD_WARM_STATE_COUNT == PCD_WARM_STATES, "metrics.h keeps one gauge per state");

const char *pcd_warm_state_name(enum pcd_warm_state s)
{
    static const char *const names[] = {"disabled", "initialized", "restored", "reconciled"};
    return (unsigned)s < PCD_WARM_STATE_COUNT ? names[s] : "unknown";
}

int pcd_warm_state_set(struct pcd_dbconn *db, struct pcd_metrics *m, enum pcd_warm_state s)
{
    const char *argv[] = {"HSET", "WARM_RESTART_TABLE|portsyncd", "state", pcd_warm_state_name(s)};
    redisReply *rep = pcd_dbconn_cmd(db, db->r.state, 4, argv);
    if (!rep)
        return pcd_dbconn_lost(db, db->r.state, "writing WARM_RESTART_TABLE|portsyncd state"), -1;
    if (rep->type == REDIS_REPLY_ERROR)
        psu_log_error("STATE_DB WARM_RESTART_TABLE|portsyncd state %s: %s", argv[3], rep->str);
    freeReplyObject(rep);
    for (int i = 0; i < PCD_WARM_STATE_COUNT; i++)
        psm_gauge_set(m->warm_state[i], i == (int)s);
    /* SONiC's line (swss-common WarmStart::setWarmStartState), word for word. */
    psu_log_notice("portsyncd warm start state changed to %s", argv[3]);
    return 0;
}

int pcd_warm_timer_parse(const char *v, unsigned *out, char *err, size_t errlen)
{
    *out = PCD_WARM_TIMER_DEFAULT_S;
    err[0] = '\0';
    if (!v)
        return 1;
    /* Decimal digits only: SONiC's strtoul(.., 0) would take "010" as 8 and "30s" as 30. */
    unsigned long n = 0;
    size_t len = strlen(v);
    int ok = len > 0 && len <= 4;
    for (size_t i = 0; ok && i < len; i++) {
        ok = v[i] >= '0' && v[i] <= '9';
        n = n * 10 + (unsigned long)(v[i] - '0');
    }
    if (!ok || n < 1 || n > PCD_WARM_TIMER_MAX_S) {
        snprintf(err, errlen,
                 "CONFIG_DB WARM_RESTART|swss portsyncd_timer '%.32s' is not a whole number of "
                 "seconds from 1 to %u: using the default %u s",
                 v, PCD_WARM_TIMER_MAX_S, PCD_WARM_TIMER_DEFAULT_S);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

int pcd_warm_timer_read(struct pcd_dbconn *db, unsigned *out)
{
    const char *argv[] = {"HGET", "WARM_RESTART|swss", "portsyncd_timer"};
    redisReply *rep = pcd_dbconn_cmd(db, db->r.config, 3, argv);
    if (!rep)
        return pcd_dbconn_lost(db, db->r.config, "reading WARM_RESTART|swss portsyncd_timer"), -1;
    const char *v = NULL;
    size_t len = 0;
    char err[256], val[64];
    int rc = pcd_reply_field(rep, &v, &len, err, sizeof err);
    if (rc < 0) {
        psu_log_warn("CONFIG_DB WARM_RESTART|swss portsyncd_timer: %s: using the default %u s", err,
                     PCD_WARM_TIMER_DEFAULT_S);
        *out = PCD_WARM_TIMER_DEFAULT_S;
    } else {
        if (rc == 1)
            snprintf(val, sizeof val, "%.*s", (int)strnlen(v, len > 40 ? 40 : len), v);
        rc = pcd_warm_timer_parse(rc == 1 ? val : NULL, out, err, sizeof err);
        if (rc < 0)
            psu_log_warn("%s", err);
        else
            psu_log_notice("reconcile timer %u s (CONFIG_DB WARM_RESTART|swss portsyncd_timer%s)",
                           *out, rc == 0 ? "" : " not set: the default");
    }
    freeReplyObject(rep);
    return 0;
}
