/*
 * core/keyspace.c - see keyspace.h: the notification check of the keyspace
 * followers.
 */
#include <stdio.h>
#include <string.h>

#include "keyspace.h"
#include "reply.h"

int pcd_keyspace_enabled(redisContext *c, const char *need, char *why, size_t whylen)
{
    redisReply *rep = redisCommand(c, "CONFIG GET notify-keyspace-events");
    if (!rep)
        return -1;
    int on = 0;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[1]->type == REDIS_REPLY_STRING) {
        const char *f = rep->element[1]->str;
        int all = 1;
        for (const char *n = need; *n; n++)
            all &= strchr(f, *n) != NULL;
        on = strchr(f, 'K') && (strchr(f, 'A') || all);
        if (strlen(need) == 1)
            snprintf(why, whylen, "notify-keyspace-events is '%.32s': no K, or neither %s nor A", f,
                     need);
        else
            snprintf(why, whylen,
                     "notify-keyspace-events is '%.32s': no K, or neither A nor all of %s", f,
                     need);
    } else {
        char d[160];
        snprintf(why, whylen, "CONFIG GET notify-keyspace-events answered %s",
                 pcd_reply_describe(rep, d, sizeof d));
    }
    freeReplyObject(rep);
    return on;
}
