/*
 * core/portview.h - which APPL_DB PORT_TABLE:<name> keys exist, as far as
 * keyspace notifications tell: the local view that lets a STATE_DB write of a
 * port known to be in APPL_DB be a plain pipelined HSET instead of a script
 * that checks APPL_DB first (batch.c).
 *
 * A thread of its own, with two connections of its own to the APPL_DB
 * server: a subscriber to __keyspace@<APPL_DB>__:PORT_TABLE:* and a command
 * connection. Each session subscribes first and then SCANs, so a key created
 * or deleted during the scan is told by a notification applied after it; then
 * every notification sets its key present (hset and the other commands that
 * leave a hash there) or absent (any other event: del, expired, evicted,
 * rename_from, hdel...: "absent" only sends the port's writes back to the
 * script, whose check in Redis decides). Every verify period the view
 * re-reads notify-keyspace-events and checks with EXISTS the keys it holds
 * present: FLUSHDB and SWAPDB send no keyspace events.
 *
 * The view is "unknown" (every lookup says so, and the batch takes the
 * script path as before) until a session's scan is complete; when the
 * server's notify-keyspace-events lacks K or the classes g, h, x and e (A has
 * them), said once in a WARN line; when a connection is lost (WARN once per
 * outage); and from pcd_portview_invalidate() until a new session has
 * scanned again.
 */
#ifndef PCD_PORTVIEW_H
#define PCD_PORTVIEW_H

#include <stddef.h>

#include "redis.h"

struct pcd_portview_opts {
    struct pcd_redis_endpoint appl; /* where APPL_DB is */
    int timeout_ms;                 /* connect and command timeout */
    int verify_ms;                  /* how often the settings and the present keys are checked */
};

struct pcd_portview;

/**
 * pcd_portview_start - start the view's thread (the view is unknown until its first scan)
 * @o: the options (copied; the strings must outlive the thread)
 * @err: buffer for what failed
 * @errlen: size of @err
 * Returns the view, or NULL with @err filled (no memory, no thread): the
 * writer then takes the script path for every event, as without a view.
 */
struct pcd_portview *pcd_portview_start(const struct pcd_portview_opts *o, char *err,
                                        size_t errlen);

/** pcd_portview_stop - stop the thread, close its connections, free it (NULL: nothing) */
void pcd_portview_stop(struct pcd_portview *v);

/**
 * pcd_portview_lookup - does APPL_DB PORT_TABLE:<name> exist, for each of @n names?
 * @v: the view (NULL: unknown)
 * @names: the port names
 * @n: how many
 * @present: receives 1 (the view holds the key) or 0 per name, when known
 * Returns 1 when the view is known (@present filled, all under one lock), 0
 * when it is unknown (@present untouched).
 */
int pcd_portview_lookup(struct pcd_portview *v, const char *const *names, size_t n,
                        unsigned char *present);

/**
 * pcd_portview_invalidate - forget the view and build it again from a new session
 * @v: the view (NULL: nothing)
 *
 * For the writer after it lost Redis: the server may have restarted with
 * other data while the view's own connections had not noticed yet. Lookups
 * say unknown from the return on, until the new session's scan.
 */
void pcd_portview_invalidate(struct pcd_portview *v);

#endif
