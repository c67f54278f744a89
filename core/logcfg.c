/*
 * core/logcfg.c - see logcfg.h: the LOGGER|<daemon> follower thread.
 *
 * One session per connection: connect, register what is absent, apply, then
 * either listen to the entry's keyspace channel or poll it. A lost connection
 * ends the session; the next one begins after a capped backoff and registers
 * again if a restarted Redis lost the entry (SONiC registers once, at start).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "keyspace.h"
#include "logcfg.h"
#include "psu/log.h"
#include "reply.h"

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
#define POLL_MS      1000
/* A field value kept for comparison; longer ones are invalid anyway. */
#define VALUE_MAX 64

struct pcd_logcfg {
    struct pcd_logcfg_opts o;
    char key[160];     /* LOGGER|<daemon> */
    char channel[200]; /* __keyspace@<id>__:LOGGER|<daemon> */
    char where[320];
    pthread_t thread;
    atomic_int stop;
    int wake_fd; /* eventfd: pcd_logcfg_stop() ends any wait at once */
    redisContext *cmd, *sub;
    /* The values last applied, as read ("" when never read). */
    char level[VALUE_MAX + 1], output[VALUE_MAX + 1];
    int have_level, have_output;
    int polling_said, lost_said;
};

static const char levels_expected[] = "EMERG, ALERT, CRIT, ERROR, WARN, NOTICE, INFO, DEBUG";

int pcd_logcfg_level_parse(const char *s, size_t len)
{
    /* Exactly SONiC's priorityStringMap: no aliases, no other case. */
    for (int i = PSU_LOG_EMERG; i <= PSU_LOG_DEBUG; i++) {
        const char *n = psu_log_level_name(i);
        if (len == strlen(n) && memcmp(s, n, len) == 0)
            return i;
    }
    return -1;
}

int pcd_logcfg_output_parse(const char *s, size_t len)
{
    for (int i = PSU_LOG_STDERR; i <= PSU_LOG_SYSLOG; i++) {
        const char *n = psu_log_output_name(i);
        if (len == strlen(n) && memcmp(s, n, len) == 0)
            return i;
    }
    return -1;
}

/* Printable copy of a value for messages. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t o = 0;
    for (; *s && o + 5 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
    }
    buf[o] = '\0';
    return buf;
}

/*
 * Remember @v (@len bytes) in @slot; returns 1 if it differs from what was
 * there, so a value is acted on (and an invalid one reported) once, not on
 * every poll. Values longer than VALUE_MAX compare by their first VALUE_MAX
 * bytes: they are invalid whatever follows.
 */
static int changed(char slot[VALUE_MAX + 1], int *have, const char *v, size_t len)
{
    char now[VALUE_MAX + 1];
    size_t n = len > VALUE_MAX ? VALUE_MAX : len;
    memcpy(now, v, n);
    now[n] = '\0';
    if (*have && memcmp(now, slot, n + 1) == 0)
        return 0;
    memcpy(slot, now, n + 1);
    *have = 1;
    return 1;
}

static void apply_level(struct pcd_logcfg *lc, const char *v, size_t len)
{
    if (!changed(lc->level, &lc->have_level, v, len))
        return;
    char s[4 * VALUE_MAX + 8];
    int level = len <= VALUE_MAX ? pcd_logcfg_level_parse(v, len) : -1;
    if (level < 0) {
        /* SONiC's words, so what operators grep for finds this too. */
        psu_log_error("CONFIG_DB %s LOGLEVEL '%s' is not one of %s: Invalid loglevel. Setting to "
                      "NOTICE.",
                      lc->key, shown(lc->level, s, sizeof s), levels_expected);
        level = PSU_LOG_NOTICE;
    }
    int was = psu_log_level_get();
    if (level == was)
        return;
    /* Said at NOTICE where it shows: after raising the level, before lowering it. */
    if (level >= PSU_LOG_NOTICE)
        psu_log_level_set(level);
    psu_log_notice("CONFIG_DB %s: LOGLEVEL %s (was %s)", lc->key, psu_log_level_name(level),
                   psu_log_level_name(was));
    psu_log_level_set(level);
}

static void apply_output(struct pcd_logcfg *lc, const char *v, size_t len)
{
    if (!changed(lc->output, &lc->have_output, v, len))
        return;
    char s[4 * VALUE_MAX + 8];
    int out = len <= VALUE_MAX ? pcd_logcfg_output_parse(v, len) : -1;
    if (out < 0) {
        psu_log_error("CONFIG_DB %s LOGOUTPUT '%s' is not one of SYSLOG, STDOUT, STDERR: Invalid "
                      "logoutput. Setting to SYSLOG.",
                      lc->key, shown(lc->output, s, sizeof s));
        out = PSU_LOG_SYSLOG;
    }
    int was = psu_log_output_get();
    if (out == was)
        return;
    /* One line where the lines went so far, saying where they go now; one there. */
    psu_log_notice("CONFIG_DB %s: LOGOUTPUT %s: the following lines go to %s", lc->key,
                   psu_log_output_name(out),
                   out == PSU_LOG_SYSLOG   ? "syslog (ident portsyncd)"
                   : out == PSU_LOG_STDOUT ? "stdout"
                                           : "stderr");
    psu_log_output_set(out);
    psu_log_notice("CONFIG_DB %s: LOGOUTPUT %s (was %s)", lc->key, psu_log_output_name(out),
                   psu_log_output_name(was));
}

/*
 * HMGET the entry and apply what is there; with @reg, first write both fields
 * if either is absent. Returns 0, -1 when the connection failed.
 */
static int read_entry(struct pcd_logcfg *lc, int reg)
{
    redisReply *rep = redisCommand(lc->cmd, "HMGET %s LOGLEVEL LOGOUTPUT", lc->key);
    if (!rep)
        return -1;
    const char *v[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    char err[256];
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
        psu_log_warn("CONFIG_DB HMGET %s: %s: expected two fields; trying again later", lc->key,
                     pcd_reply_describe(rep, err, sizeof err));
        freeReplyObject(rep);
        return 0;
    }
    for (int i = 0; i < 2; i++)
        if (pcd_reply_field(rep->element[i], &v[i], &len[i], err, sizeof err) != 1)
            v[i] = NULL;
    if (reg && (!v[0] || !v[1])) {
        /*
         * Only the absent fields, each with HSETNX: a swssloglevel run between
         * the HMGET above and this write keeps its value (its keyspace event
         * then makes us read the entry again).
         */
        static const char *const field[2] = {"LOGLEVEL", "LOGOUTPUT"};
        const char *dflt[2] = {psu_log_level_name(lc->o.default_level),
                               psu_log_output_name(lc->o.default_output)};
        int written = 0;
        for (int i = 0; i < 2; i++) {
            if (v[i])
                continue;
            const char *argv[] = {"HSETNX", lc->key, field[i], dflt[i]};
            size_t lens[] = {6, strlen(lc->key), strlen(field[i]), strlen(dflt[i])};
            redisReply *w = redisCommandArgv(lc->cmd, 4, argv, lens);
            if (!w) {
                freeReplyObject(rep);
                return -1;
            }
            if (w->type == REDIS_REPLY_ERROR)
                psu_log_error("CONFIG_DB HSETNX %s %s: %s", lc->key, field[i], w->str);
            else
                written = 1;
            freeReplyObject(w);
            v[i] = dflt[i], len[i] = strlen(dflt[i]);
        }
        if (written)
            psu_log_notice("CONFIG_DB %s registered: LOGLEVEL %.*s, LOGOUTPUT %.*s", lc->key,
                           (int)(len[0] > VALUE_MAX ? VALUE_MAX : len[0]), v[0],
                           (int)(len[1] > VALUE_MAX ? VALUE_MAX : len[1]), v[1]);
    }
    /* Level first: the output line then shows at the new level. */
    if (v[0])
        apply_level(lc, v[0], len[0]);
    if (v[1])
        apply_output(lc, v[1], len[1]);
    freeReplyObject(rep);
    return 0;
}

/* Wait @ms or until told to stop; returns 1 when told to stop. */
static int pause_ms(struct pcd_logcfg *lc, int ms)
{
    struct pollfd p = {.fd = lc->wake_fd, .events = POLLIN};
    if (!atomic_load(&lc->stop))
        poll(&p, 1, ms);
    return atomic_load(&lc->stop);
}

static redisContext *connect_config(struct pcd_logcfg *lc, int select_db, char *err, size_t errlen)
{
    return pcd_redis_endpoint_connect(&lc->o.config, "CONFIG_DB", lc->o.timeout_ms, select_db, err,
                                      errlen);
}

/* Events on the subscriber connection until it fails (-1) or we are told to stop (0). */
static int listen_events(struct pcd_logcfg *lc)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = lc->sub->fd, .events = POLLIN},
                              {.fd = lc->wake_fd, .events = POLLIN}};
        int n = poll(p, 2, POLL_MS);
        if (atomic_load(&lc->stop))
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
        if (n <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (redisBufferRead(lc->sub) != REDIS_OK)
            return -1;
        void *v = NULL;
        int reread = 0;
        while (redisReaderGetReply(lc->sub->reader, &v) == REDIS_OK && v) {
            redisReply *m = v;
            /* ["message", channel, event]: "del" keeps the level, as in SONiC. */
            if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
                m->element[2]->type == REDIS_REPLY_STRING && strcmp(m->element[2]->str, "del") != 0)
                reread = 1;
            freeReplyObject(m);
            v = NULL;
        }
        if (reread && read_entry(lc, 0) != 0)
            return -1;
    }
}

static void close_all(struct pcd_logcfg *lc)
{
    if (lc->cmd)
        redisFree(lc->cmd);
    if (lc->sub)
        redisFree(lc->sub);
    lc->cmd = lc->sub = NULL;
}

/*
 * One connection's worth; returns 0 when told to stop, -1 when the connection
 * could not be made, -2 when it was made and then lost.
 */
static int session(struct pcd_logcfg *lc)
{
    char err[512], why[256];
    int made = 0;
    if (!(lc->cmd = connect_config(lc, 1, err, sizeof err)))
        goto failed;
    made = 1;
    if (read_entry(lc, 1) != 0)
        goto lost;
    if (lc->lost_said)
        psu_log_notice("CONFIG_DB %s: following it again at %s", lc->key, lc->where);
    lc->lost_said = 0;
    int on = pcd_keyspace_enabled(lc->cmd, "h", why, sizeof why);
    if (on < 0)
        goto lost;
    if (on) {
        if (!(lc->sub = connect_config(lc, 0, err, sizeof err)))
            goto failed;
        redisReply *rep = redisCommand(lc->sub, "SUBSCRIBE %s", lc->channel);
        if (!rep)
            goto lost;
        freeReplyObject(rep);
        lc->polling_said = 0;
        /* A change between the first read and the subscription is not missed. */
        if (read_entry(lc, 0) != 0)
            goto lost;
        psu_log_info("CONFIG_DB %s: following changes through %s", lc->key, lc->channel);
        if (listen_events(lc) != 0)
            goto lost;
        return 0;
    }
    if (!lc->polling_said)
        psu_log_warn("redis %s: keyspace notifications are off (%s): reading CONFIG_DB %s every "
                     "second instead",
                     lc->where, why, lc->key);
    lc->polling_said = 1;
    while (!pause_ms(lc, POLL_MS))
        if (read_entry(lc, 0) != 0)
            goto lost;
    return 0;
lost:
    snprintf(err, sizeof err, "%s",
             lc->cmd && lc->cmd->err   ? lc->cmd->errstr
             : lc->sub && lc->sub->err ? lc->sub->errstr
                                       : "connection lost");
failed:
    if (!lc->lost_said && !atomic_load(&lc->stop))
        psu_log_warn("CONFIG_DB %s at %s: %s; retrying (logging keeps LOGLEVEL %s, LOGOUTPUT %s "
                     "meanwhile)",
                     lc->key, lc->where, err, psu_log_level_name(psu_log_level_get()),
                     psu_log_output_name(psu_log_output_get()));
    lc->lost_said = 1;
    return made ? -2 : -1;
}

static void *logcfg_thread(void *arg)
{
    struct pcd_logcfg *lc = arg;
    int delay = RETRY_MIN_MS;
    while (!atomic_load(&lc->stop)) {
        int rc = session(lc);
        close_all(lc);
        if (rc == -2)
            delay = RETRY_MIN_MS; /* it worked until now: start the backoff over */
        if (rc == 0 || pause_ms(lc, delay))
            break;
        delay = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
    }
    close_all(lc);
    return NULL;
}

struct pcd_logcfg *pcd_logcfg_start(const struct pcd_logcfg_opts *o, char *err, size_t errlen)
{
    struct pcd_logcfg *lc = calloc(1, sizeof *lc);
    if (!lc) {
        snprintf(err, errlen, "LOGGER follower: out of memory");
        return NULL;
    }
    lc->o = *o;
    snprintf(lc->key, sizeof lc->key, "LOGGER|%s", o->daemon);
    snprintf(lc->channel, sizeof lc->channel, "__keyspace@%d__:%s", o->config.id, lc->key);
    pcd_redis_endpoint_where(&o->config, lc->where, sizeof lc->where);
    lc->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (lc->wake_fd < 0) {
        snprintf(err, errlen, "LOGGER follower: eventfd: %s", strerror(errno));
        free(lc);
        return NULL;
    }
    int e = pthread_create(&lc->thread, NULL, logcfg_thread, lc);
    if (e == 0)
        pthread_setname_np(lc->thread, "logger");
    if (e != 0) {
        snprintf(err, errlen, "LOGGER follower: cannot start its thread: %s", strerror(e));
        close(lc->wake_fd);
        free(lc);
        return NULL;
    }
    return lc;
}

void pcd_logcfg_stop(struct pcd_logcfg *lc)
{
    if (!lc)
        return;
    atomic_store(&lc->stop, 1);
    uint64_t one = 1;
    if (write(lc->wake_fd, &one, sizeof one) < 0) {
        /* The counter cannot overflow from one write; the poll timeout ends the wait anyway. */
    }
    pthread_join(lc->thread, NULL);
    close(lc->wake_fd);
    free(lc);
}
