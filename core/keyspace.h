/*
 * core/keyspace.h - what the followers of keyspace notifications share
 * (logcfg.c follows CONFIG_DB LOGGER|portsyncd, portview.c APPL_DB
 * PORT_TABLE), besides their connections of their own
 * (pcd_redis_endpoint_connect()): whether that server sends the events they
 * need at all. Redis sends keyspace
 * events only for the classes in its notify-keyspace-events: a follower that
 * trusted a server sending none would never hear of a change.
 */
#ifndef PCD_KEYSPACE_H
#define PCD_KEYSPACE_H

#include <stddef.h>

#include "redis.h"

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
