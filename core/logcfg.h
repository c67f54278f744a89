/*
 * core/logcfg.h - CONFIG_DB LOGGER|portsyncd, as every swss daemon keeps it
 * (sonic-swss-common Logger::linkToDbNative and its setting thread): what
 * `swssloglevel -l DEBUG -c portsyncd` changes on a live switch.
 *
 *   CONFIG_DB  LOGGER|portsyncd  LOGLEVEL   EMERG ALERT CRIT ERROR WARN NOTICE INFO DEBUG
 *                                LOGOUTPUT  SYSLOG STDOUT STDERR
 *
 * On every connection: the entry is read; if either field is absent both are
 * written, a present one keeping its value, an absent one getting the
 * default (the command line's --log-level and --log-output); the values are
 * applied to psu_log. Then changes are followed: a subscriber connection
 * listens to __keyspace@<CONFIG_DB>__:LOGGER|portsyncd and re-reads the entry
 * on every event but "del" (SONiC keeps the level when the entry goes). A
 * server whose notify-keyspace-events lacks K, or both h and A, sends no such
 * events: that is said once, and the entry is read every second instead.
 * A value that is not one of SONiC's names gives one ERROR line and NOTICE
 * (or SYSLOG), as SONiC does; the entry itself is left as it is.
 *
 * All of it runs in a thread of its own with its own connections: it never
 * waits on, or makes wait, the netlink reader or the Redis writer. It changes
 * only psu_log's level and output, which are atomics.
 */
#ifndef PCD_LOGCFG_H
#define PCD_LOGCFG_H

#include <stddef.h>

#include "redis.h"

struct pcd_logcfg_opts {
    struct pcd_redis_endpoint config; /* where CONFIG_DB is */
    int timeout_ms;                   /* connect and command timeout */
    const char *daemon;               /* the key is LOGGER|<daemon> */
    int default_level;                /* enum psu_log_level written when LOGLEVEL is absent */
    int default_output;               /* enum psu_log_output written when LOGOUTPUT is absent */
};

struct pcd_logcfg;

/**
 * pcd_logcfg_level_parse - a LOGLEVEL value as SONiC reads it
 * @s: the value (@len bytes, not NUL-terminated)
 * @len: its length
 * Returns the enum psu_log_level for exactly EMERG, ALERT, CRIT, ERROR, WARN,
 * NOTICE, INFO or DEBUG (SONiC's spelling, upper case), else -1.
 */
int pcd_logcfg_level_parse(const char *s, size_t len);

/**
 * pcd_logcfg_output_parse - a LOGOUTPUT value as SONiC reads it
 * @s: the value (@len bytes)
 * @len: its length
 * Returns the enum psu_log_output for exactly SYSLOG, STDOUT or STDERR, else -1.
 */
int pcd_logcfg_output_parse(const char *s, size_t len);

/**
 * pcd_logcfg_start - start following LOGGER|<daemon>
 * @o: the options (copied; the strings must outlive the thread)
 * @err: buffer for what failed
 * @errlen: size of @err
 * Returns the follower, or NULL with @err filled (no memory, no thread): the
 * logger then keeps the command line's level and output.
 */
struct pcd_logcfg *pcd_logcfg_start(const struct pcd_logcfg_opts *o, char *err, size_t errlen);

/** pcd_logcfg_stop - stop the thread, close its connections, free it (NULL: nothing) */
void pcd_logcfg_stop(struct pcd_logcfg *lc);

#endif
