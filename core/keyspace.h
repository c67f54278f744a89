/*
 * core/keyspace.h - what the followers of keyspace notifications share
 * (logcfg.c follows CONFIG_DB LOGGER|portsyncd, portview.c APPL_DB
 * PORT_TABLE): a connection of their own to one database's server, and
 * whether that server sends the events they need at all. Redis sends keyspace
 * events only for the classes in its notify-keyspace-events: a follower that
 * trusted a server sending none would never hear of a change.
 */
#ifndef PCD_KEYSPACE_H
#define PCD_KEYSPACE_H

#include <stddef.h>

#include "redis.h"

/**
 * pcd_keyspace_connect - a connection to @e's server, with timeouts
 * @e: where the database is
 * @timeout_ms: connect and command timeout
 * @select_db: 1 to SELECT @e->id (a command connection), 0 not to (a
 *             subscriber: channels name their database)
 * @err: buffer for what failed
 * @errlen: size of @err
 * Returns the context, or NULL with @err filled ("cannot connect: ..." or
 * "SELECT N: ...").
 */
redisContext *pcd_keyspace_connect(const struct pcd_redis_endpoint *e, int timeout_ms,
                                   int select_db, char *err, size_t errlen);

/**
 * pcd_keyspace_enabled - does the server send the keyspace events of @need?
 * @c: a command connection
 * @need: the event classes needed, in notify-keyspace-events letters ("h":
 *        hash commands; "ghxe": also DEL/RENAME, expiry and eviction); 'A'
 *        covers them all, 'K' (keyspace channels) is always needed
 * @why: receives, when not, what the server has and what was expected
 * @whylen: size of @why
 * Returns 1 yes, 0 no (also when CONFIG GET is refused: @why quotes the
 * reply), -1 when the connection failed.
 */
int pcd_keyspace_enabled(redisContext *c, const char *need, char *why, size_t whylen);

#endif
