/*
 * core/main.c - portsyncd: command line, where the databases are
 * (database_config.json or flags), signals, and the threads (netlink reader in
 * linkmon.c, Redis writer in sync.c, heartbeat and health in monitor.c, the
 * LOGGER|portsyncd follower in logcfg.c).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dbconfig.h"
#include "logcfg.h"
#include "monitor.h"
#include "psu/log.h"
#include "reconcile.h"
#include "sync.h"

#ifndef PORTSYNCD_VERSION
#define PORTSYNCD_VERSION "0.0.0"
#endif

static const char usage[] =
    "Usage: portsyncd [OPTION]...\n"
    "Mirror the kernel's front-panel ports (netlink) into SONiC's Redis databases:\n"
    "CONFIG_DB PORT -> APPL_DB PORT_TABLE (producer-state table), link state -> STATE_DB\n"
    "PORT_TABLE, PortConfigDone/PortInitDone. Metrics go to a shared-memory segment that\n"
    "portsyncd-exporter serves and portsyncd-shmdump prints.\n"
    "\n"
    "Databases (SONiC's database_config.json; the flags after it override it):\n"
    "  --db-config PATH        database_config.json (default\n"
    "                          /var/run/redis/sonic-db/database_config.json if it exists,\n"
    "                          else the defaults below)\n"
    "  --namespace NAME        a multi-ASIC namespace (asic0, ...): its database_config.json\n"
    "                          as database_global.json includes it\n"
    "  --db-global PATH        database_global.json for --namespace (default\n"
    "                          /var/run/redis/sonic-db/database_global.json)\n"
    "  --redis-socket PATH     unix socket of all three (default /var/run/redis/redis.sock)\n"
    "  --redis-host HOST       TCP host of all three instead of a socket\n"
    "  --redis-port PORT       TCP port, with --redis-host (default 6379)\n"
    "  --appl-db N             APPL_DB number (default 0)\n"
    "  --config-db N           CONFIG_DB number (default 4)\n"
    "  --state-db N            STATE_DB number (default 6)\n"
    "  --redis-timeout MS      connect and command timeout (default 2000)\n"
    "Netlink:\n"
    "  --netlink-rcvbuf BYTES  receive buffer (default 16777216)\n"
    "  --queue-size PORTS      distinct ports the netlink->Redis queue holds (default 4096)\n"
    "  --old-interfaces MODE   Ethernet* netdevs present at a cold start: 'auto' (default:\n"
    "                          portsyncd restarted alone on a live switch takes over\n"
    "                          without touching them, else as 'sonic'), 'sonic' (always\n"
    "                          bring down and ignore for the run, as SONiC), 'ignore'\n"
    "                          (ignore for the run, leave up: their STATE_DB entries stay\n"
    "                          STALE until the netdevs are recreated), 'off' (handle like\n"
    "                          any netdev)\n"
    "  --reconcile-settle MS   warm restart or restart alone: a change after the initial\n"
    "                          dump that returns to the pre-restart state within MS is a\n"
    "                          transient, not written (default 500)\n"
    "Metrics and logs:\n"
    "  --shm-name NAME         metrics segment: an shm name or an absolute path\n"
    "                          (default portsyncd-metrics)\n"
    "  --shm-group GROUP       group that may read the segment (mode 0640)\n"
    "  --log-level LEVEL       level until CONFIG_DB LOGGER|portsyncd is read, and its\n"
    "                          LOGLEVEL when that is absent: EMERG, ALERT, CRIT, ERROR,\n"
    "                          WARN, NOTICE (default), INFO, DEBUG (SONiC's names, any\n"
    "                          case; the older error, warning still work)\n"
    "  --log-output OUTPUT     LOGGER|portsyncd LOGOUTPUT when that is absent: SYSLOG\n"
    "                          (default), STDOUT, STDERR; lines go to stderr until the\n"
    "                          entry is read, then where it says\n"
    "  -h, --help              this text\n"
    "  -V, --version           version\n";

enum {
    OPT_SOCKET = 256,
    OPT_HOST,
    OPT_PORT,
    OPT_APPL,
    OPT_CONFIG,
    OPT_STATE,
    OPT_TIMEOUT,
    OPT_RCVBUF,
    OPT_QUEUE,
    OPT_OLD,
    OPT_SETTLE,
    OPT_SHM,
    OPT_GROUP,
    OPT_LOG,
    OPT_LOG_OUTPUT,
    OPT_DB_CONFIG,
    OPT_DB_GLOBAL,
    OPT_NAMESPACE,
};

static int parse_int(const char *flag, const char *v, long lo, long hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || !end || *end || end == v || n < lo || n > hi) {
        fprintf(stderr, "portsyncd: %s '%s' is not an integer from %ld to %ld\n", flag, v, lo, hi);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* What the command line says about the databases; -1 / NULL: not given. */
struct db_flags {
    const char *db_config, *db_global, *ns;
    const char *socket, *host;
    int port, id[PCD_DB_COUNT];
};

/* SONiC's layout when the file is there: a dangling link counts as there (and fails to load). */
static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/*
 * Where the databases are: the namespace's database_config.json through
 * database_global.json, the one --db-config names, SONiC's when it exists, or
 * the defaults; then the flags over it. @cfg keeps the strings @o points to;
 * @from receives where it came from, for the starting line. Returns 0, or -1
 * after one line on stderr (a usage error: exit 2).
 */
static int dbs_resolve(const struct db_flags *f, struct pcd_dbconfig *cfg, struct pcd_redis_opts *o,
                       char *from, size_t fromlen)
{
    static const int defaults[PCD_DB_COUNT] = {0, 4, 6};
    char err[2048];
    int rc = 1, file = 1;
    if (f->ns && f->db_config) {
        fprintf(stderr, "portsyncd: --namespace and --db-config exclude each other (with "
                        "--namespace, database_global.json names the database_config.json; "
                        "--db-global names that file)\n");
        return -1;
    }
    if (f->db_global && !f->ns) {
        fprintf(stderr,
                "portsyncd: --db-global '%s' needs --namespace (it only says where each "
                "namespace's database_config.json is)\n",
                f->db_global);
        return -1;
    }
    if (f->port >= 0 && !f->host) {
        fprintf(stderr, "portsyncd: --redis-port needs --redis-host (a unix socket has no port)\n");
        return -1;
    }
    if (f->ns) {
        const char *global = f->db_global ? f->db_global : PCD_DBCONFIG_GLOBAL_DEFAULT;
        rc = pcd_dbconfig_load_namespace(cfg, global, f->ns, err, sizeof err);
        snprintf(from, fromlen, "%s (namespace %s of %s)", cfg->file, f->ns, global);
    } else if (f->db_config) {
        rc = pcd_dbconfig_load(cfg, f->db_config, err, sizeof err);
        snprintf(from, fromlen, "%s", f->db_config);
    } else if (exists(PCD_DBCONFIG_DEFAULT)) {
        rc = pcd_dbconfig_load(cfg, PCD_DBCONFIG_DEFAULT, err, sizeof err);
        snprintf(from, fromlen, "%s", PCD_DBCONFIG_DEFAULT);
    } else {
        snprintf(from, fromlen, "the defaults (no %s)", PCD_DBCONFIG_DEFAULT);
        file = 0;
        for (int i = 0; i < PCD_DB_COUNT; i++)
            o->db[i] = (struct pcd_redis_endpoint){
                .socket = "/var/run/redis/redis.sock", .port = 6379, .id = defaults[i]};
        rc = 0;
    }
    if (rc != 0) {
        fprintf(stderr, "portsyncd: %s\n", err);
        return -1;
    }
    if (file)
        pcd_dbconfig_endpoints(cfg, o);
    for (int i = 0; i < PCD_DB_COUNT; i++) {
        if (f->socket)
            o->db[i].socket = f->socket, o->db[i].host = NULL;
        if (f->host)
            o->db[i].socket = NULL, o->db[i].host = f->host,
            o->db[i].port = f->port >= 0 ? f->port : 6379;
        if (f->id[i] >= 0)
            o->db[i].id = f->id[i];
    }
    return 0;
}

static atomic_int stop;
static atomic_int exiting; /* main() is done with the queue: the signal thread may end */
static struct pcd_queue *stop_queue;

/* Signals are taken by this thread (sigwait), so no handler runs inside a lock. */
static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGUSR1) {
            /* main()'s request to end, before it destroys the queue; else ignored. */
            if (atomic_load(&exiting))
                return NULL;
            psu_log_info("SIGUSR1: ignored");
            continue;
        }
        if (sig == SIGHUP) {
            psu_log_info("SIGHUP: nothing to reload");
            continue;
        }
        psu_log_notice("%s received: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        atomic_store(&stop, 1);
        pcd_queue_wake(stop_queue);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"redis-socket", required_argument, NULL, OPT_SOCKET},
        {"redis-host", required_argument, NULL, OPT_HOST},
        {"redis-port", required_argument, NULL, OPT_PORT},
        {"appl-db", required_argument, NULL, OPT_APPL},
        {"config-db", required_argument, NULL, OPT_CONFIG},
        {"state-db", required_argument, NULL, OPT_STATE},
        {"redis-timeout", required_argument, NULL, OPT_TIMEOUT},
        {"netlink-rcvbuf", required_argument, NULL, OPT_RCVBUF},
        {"queue-size", required_argument, NULL, OPT_QUEUE},
        {"old-interfaces", required_argument, NULL, OPT_OLD},
        {"reconcile-settle", required_argument, NULL, OPT_SETTLE},
        {"shm-name", required_argument, NULL, OPT_SHM},
        {"shm-group", required_argument, NULL, OPT_GROUP},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"log-output", required_argument, NULL, OPT_LOG_OUTPUT},
        {"db-config", required_argument, NULL, OPT_DB_CONFIG},
        {"db-global", required_argument, NULL, OPT_DB_GLOBAL},
        {"namespace", required_argument, NULL, OPT_NAMESPACE},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0},
    };
    struct pcd_redis_opts ro = {.timeout_ms = 2000};
    struct db_flags df = {.port = -1, .id = {-1, -1, -1}};
    struct pcd_linkmon_opts lo = {.old_mode = PCD_OLD_AUTO, .rcvbuf = 16 << 20};
    int settle_ms = PCD_SETTLE_DEFAULT_MS;
    const char *shm = "portsyncd-metrics", *group = NULL;
    int queue_size = 4096, level = PSU_LOG_NOTICE, output = PSU_LOG_SYSLOG;
    int c;
    while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case OPT_SOCKET:
            df.socket = optarg;
            break;
        case OPT_HOST:
            df.host = optarg;
            break;
        case OPT_PORT:
            bad = parse_int("--redis-port", optarg, 1, 65535, &df.port);
            break;
        case OPT_APPL:
            bad = parse_int("--appl-db", optarg, 0, INT_MAX, &df.id[PCD_APPL_DB]);
            break;
        case OPT_CONFIG:
            bad = parse_int("--config-db", optarg, 0, INT_MAX, &df.id[PCD_CONFIG_DB]);
            break;
        case OPT_STATE:
            bad = parse_int("--state-db", optarg, 0, INT_MAX, &df.id[PCD_STATE_DB]);
            break;
        case OPT_DB_CONFIG:
            df.db_config = optarg;
            break;
        case OPT_DB_GLOBAL:
            df.db_global = optarg;
            break;
        case OPT_NAMESPACE:
            if (!optarg[0]) {
                fprintf(stderr, "portsyncd: --namespace '' is empty: expected a namespace name "
                                "such as asic0 (leave the flag out for the default databases)\n");
                bad = 1;
            }
            df.ns = optarg;
            break;
        case OPT_TIMEOUT:
            bad = parse_int("--redis-timeout", optarg, 10, 600000, &ro.timeout_ms);
            break;
        case OPT_RCVBUF:
            bad = parse_int("--netlink-rcvbuf", optarg, 65536, INT_MAX, &lo.rcvbuf);
            break;
        case OPT_QUEUE:
            bad = parse_int("--queue-size", optarg, 16, 1 << 20, &queue_size);
            break;
        case OPT_OLD:
            if (strcmp(optarg, "auto") == 0)
                lo.old_mode = PCD_OLD_AUTO;
            else if (strcmp(optarg, "sonic") == 0)
                lo.old_mode = PCD_OLD_SONIC;
            else if (strcmp(optarg, "ignore") == 0)
                lo.old_mode = PCD_OLD_IGNORE;
            else if (strcmp(optarg, "off") == 0)
                lo.old_mode = PCD_OLD_OFF;
            else {
                fprintf(stderr,
                        "portsyncd: --old-interfaces '%s' is not one of auto, sonic, ignore, off\n",
                        optarg);
                bad = 1;
            }
            break;
        case OPT_SETTLE:
            bad = parse_int("--reconcile-settle", optarg, 1, 60000, &settle_ms);
            break;
        case OPT_SHM:
            shm = optarg;
            break;
        case OPT_GROUP:
            group = optarg;
            break;
        case OPT_LOG:
            level = psu_log_level_parse(optarg);
            if (level < 0) {
                fprintf(stderr,
                        "portsyncd: --log-level '%s' is not one of EMERG, ALERT, CRIT, ERROR, "
                        "WARN, NOTICE, INFO, DEBUG (any case; also error, warning)\n",
                        optarg);
                bad = 1;
            }
            break;
        case OPT_LOG_OUTPUT:
            output = psu_log_output_parse(optarg);
            if (output < 0) {
                fprintf(stderr,
                        "portsyncd: --log-output '%s' is not one of SYSLOG, STDOUT, STDERR "
                        "(any case)\n",
                        optarg);
                bad = 1;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case 'V':
            printf("portsyncd %s\n", PORTSYNCD_VERSION);
            return 0;
        default:
            fprintf(stderr, "Try 'portsyncd --help' for more information.\n");
            return 2;
        }
        if (bad)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "portsyncd: unexpected argument '%s' (portsyncd takes only options)\n",
                argv[optind]);
        return 2;
    }
    if (df.host && df.socket) {
        fprintf(stderr, "portsyncd: --redis-socket and --redis-host exclude each other\n");
        return 2;
    }
    static struct pcd_dbconfig cfg; /* static: ro points into it for the whole run */
    char from[8400];
    if (dbs_resolve(&df, &cfg, &ro, from, sizeof from) != 0)
        return 2;
    /* Stderr until LOGGER|portsyncd is read: the terminal, journald or supervisord sees it. */
    psu_log_init("portsyncd", (enum psu_log_level)level, PSU_LOG_STDERR);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread */
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    struct pcd_metrics m;
    /* Never fatal but for a bad --shm-name: it logs what went wrong and carries on. */
    if (pcd_metrics_open(&m, shm, group) == -2)
        return 2;
    struct pcd_queue *q = pcd_queue_new((uint32_t)queue_size, m.queue_depth);
    if (!q) {
        psu_log_error("cannot allocate a queue of %d ports", queue_size);
        return 1;
    }
    stop_queue = q;
    pthread_t sig_th;
    if (pthread_create(&sig_th, NULL, signal_thread, &set) == 0)
        pthread_setname_np(sig_th, "signals");
    char where[1100];
    psu_log_notice("portsyncd %s starting: redis %s from %s, metrics segment %s", PORTSYNCD_VERSION,
                   pcd_redis_opts_describe(&ro, where, sizeof where), from, shm);
    struct pcd_logcfg_opts lco = {.config = ro.db[PCD_CONFIG_DB],
                                  .timeout_ms = ro.timeout_ms,
                                  .daemon = "portsyncd",
                                  .default_level = level,
                                  .default_output = output};
    struct pcd_logcfg *lc = pcd_logcfg_start(&lco, err, sizeof err);
    if (!lc)
        psu_log_error("%s: logging stays at %s to stderr; port sync carries on", err,
                      psu_log_level_name(level));

    struct pcd_sync s = {
        .m = &m, .q = q, .stop = &stop, .lm_opts = lo, .settle_ms = (unsigned)settle_ms};
    s.db.r.o = ro;
    struct pcd_portview_opts pvo = {
        .appl = ro.db[PCD_APPL_DB], .timeout_ms = ro.timeout_ms, .verify_ms = 5000};
    if (!(s.view = pcd_portview_start(&pvo, err, sizeof err)))
        psu_log_error("%s: every STATE_DB write checks APPL_DB in the script; port sync carries on",
                      err);
    struct pcd_monitor mon = {.m = &m, .q = q, .redis_busy_since = &s.db.r.busy_since};
    if (pcd_monitor_start(&mon, err, sizeof err) != 0)
        psu_log_error("%s: no heartbeat, health or process metrics; port sync carries on", err);
    int rc = pcd_sync_run(&s);
    pcd_monitor_stop(&mon); /* before the metrics and the queue it reads go away */
    pcd_logcfg_stop(lc);
    pcd_portview_stop(s.view);
    /*
     * The signal thread wakes the queue: end it (SIGUSR1 to that thread, which
     * sigwait()s for it) and join it before the queue is destroyed under it.
     */
    atomic_store(&exiting, 1);
    pthread_kill(sig_th, SIGUSR1);
    pthread_join(sig_th, NULL);
    pcd_metrics_close(&m);
    pcd_queue_free(q);
    psu_log_notice("portsyncd exiting %s", rc == 0 ? "cleanly" : "after a fatal error");
    return rc == 0 ? 0 : 1;
}
