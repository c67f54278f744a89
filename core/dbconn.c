/*
 * core/dbconn.c - see dbconn.h.
 */
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "dbconn.h"
#include "psu/log.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000

int pcd_dbconn_pause(struct pcd_dbconn *db, int ms)
{
    /* 50 ms steps: SIGTERM while waiting ends the wait promptly. */
    for (int waited = 0; waited < ms && !atomic_load(db->stop); waited += 50)
        usleep(50 * 1000);
    return atomic_load(db->stop) ? -1 : 0;
}

int pcd_dbconn_connect(struct pcd_dbconn *db)
{
    int delay_ms = RETRY_MIN_MS, attempts = 0;
    char err[512];
    while (!atomic_load(db->stop)) {
        int rc = pcd_redis_connect(&db->r, err, sizeof err);
        if (rc == 0 && pcd_batch_load(&db->r, err, sizeof err) != 0) {
            pcd_redis_close(&db->r);
            rc = -1;
        }
        if (rc == 0) {
            char where[1100];
            db->connected = 1;
            psm_gauge_set(db->gauge, 1);
            psu_log_notice("redis %s: connected%s",
                           pcd_redis_opts_describe(&db->r.o, where, sizeof where),
                           db->r.split ? " (STATE_DB on a server of its own: two round trips "
                                         "per batch of link events)"
                                       : "");
            return 0;
        }
        if (attempts++ == 0 || delay_ms >= RETRY_MAX_MS)
            psu_log_error("%s; retrying every %.1f s at most", err, RETRY_MAX_MS / 1000.0);
        pcd_dbconn_pause(db, delay_ms);
        delay_ms = delay_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay_ms * 2;
    }
    return -1;
}

void pcd_dbconn_lost(struct pcd_dbconn *db, redisContext *c, const char *doing)
{
    if (db->connected)
        psu_log_error("redis %s: connection lost while %s: %s", pcd_redis_where(&db->r, c), doing,
                      c && c->errstr[0] ? c->errstr : "no reply");
    db->connected = 0;
    psm_gauge_set(db->gauge, 0);
    pcd_redis_close(&db->r);
}

redisReply *pcd_dbconn_cmd(struct pcd_dbconn *db, redisContext *c, int argc, const char **argv)
{
    size_t lens[16];
    if (argc > 16)
        return NULL;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return pcd_redis_cmd(&db->r, c, argc, argv, lens);
}
