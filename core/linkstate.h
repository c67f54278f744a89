/*
 * core/linkstate.h - what the netlink reader makes of the messages it
 * receives: SONiC's filters that need no database, the old interfaces of a
 * cold start, flap counting, the queue to the Redis writer, and the
 * reconciliation when a dump of ours ends.
 *
 * No socket and no thread: the reader thread (linkmon.c) feeds it what recv()
 * returned and tells it when it sent a dump request; the unit tests feed it
 * messages they build, in the orders the kernel can deliver them. One thread
 * owns it, except pcd_linkstate_initial_done(), which any thread may call.
 */
#ifndef PCD_LINKSTATE_H
#define PCD_LINKSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "queue.h"

struct pcd_link;
struct pcd_linkstate;

/**
 * pcd_link_filter - SONiC's filters that need no database, in SONiC's order
 * @l: a parsed link event
 *
 * Names not starting with Ethernet or PortChannel; link kind team; DELLINK of a
 * port that has a master (taken out of a bridge, not deleted).
 * Returns the enum pcd_ignore_reason that applies, or -1 if the event passes.
 */
int pcd_link_filter(const struct pcd_link *l);

/**
 * pcd_linkstate_new - an empty model: no port known, no dump in flight, one wanted
 * @q: the queue events go to
 * @m: the metrics it counts in (flaps, oper status, ignored, resyncs, failures)
 * Returns it, or NULL with errno ENOMEM.
 */
struct pcd_linkstate *pcd_linkstate_new(struct pcd_queue *q, struct pcd_metrics *m);

/** pcd_linkstate_free - release @ls (NULL is fine) */
void pcd_linkstate_free(struct pcd_linkstate *ls);

/**
 * pcd_linkstate_add_old - ignore @name at @ifindex for the rest of the run
 * @ls: the model
 * @ifindex: the netdev's index when the cold start began
 * @name: its name
 *
 * SONiC's cold-start "old interfaces": events of that netdev are counted as
 * ignored (a netdev re-created under the name gets a new ifindex and counts).
 * Returns 0, or -1 with errno ENOMEM (the netdev is then not ignored).
 */
int pcd_linkstate_add_old(struct pcd_linkstate *ls, int ifindex, const char *name);

/**
 * pcd_linkstate_feed - process one netlink receive buffer
 * @ls: the model
 * @buf: the bytes one recv() returned
 * @len: their number
 * @t_ns: CLOCK_MONOTONIC receipt time (the event latency starts here)
 *
 * Filters, flap accounting, queueing, and the reconciliation when a dump of
 * ours ends: every port believed present that the dump neither listed nor saw
 * announced while it ran gets a synthetic DELLINK. A message of our dump
 * carries the sequence number and port id given to pcd_linkstate_dump_begin().
 * Returns 1 if a dump of ours completed in @buf (the kernel's state is known
 * again), else 0.
 */
int pcd_linkstate_feed(struct pcd_linkstate *ls, const void *buf, size_t len, uint64_t t_ns);

/**
 * pcd_linkstate_resync - a full dump is wanted, for the causes in @reasons
 * @ls: the model
 * @reasons: bits (1u << enum pcd_resync_reason); each is counted once, by the
 *           next dump that begins
 */
void pcd_linkstate_resync(struct pcd_linkstate *ls, unsigned reasons);

/**
 * pcd_linkstate_dump_wanted - should the reader request a dump now?
 * @ls: the model
 * Returns 1 when a dump is wanted and none is in flight, else 0.
 */
int pcd_linkstate_dump_wanted(const struct pcd_linkstate *ls);

/**
 * pcd_linkstate_dump_begin - the reader sent an RTM_GETLINK dump request
 * @ls: the model
 * @seq: the request's sequence number
 * @portid: the socket's netlink port id (the replies' nlmsg_pid)
 *
 * Counts the causes this dump answers (portsyncd_netlink_resyncs_total).
 */
void pcd_linkstate_dump_begin(struct pcd_linkstate *ls, uint32_t seq, uint32_t portid);

/**
 * pcd_linkstate_dump_failed - the dump wanted could not be requested, or the
 * one in flight will never complete (socket closed, no answer): want another
 * @ls: the model
 */
void pcd_linkstate_dump_failed(struct pcd_linkstate *ls);

/** pcd_linkstate_dump_active - 1 while a dump of ours is in flight */
int pcd_linkstate_dump_active(const struct pcd_linkstate *ls);

/**
 * pcd_linkstate_initial_done - has the first complete dump been queued?
 * @ls: the model
 * Any thread may ask (an atomic): the writer waits for it before READY=1.
 * Returns 1 or 0.
 */
int pcd_linkstate_initial_done(struct pcd_linkstate *ls);

/**
 * pcd_linkstate_initial_done_ns - when the first complete dump ended
 * @ls: the model
 * Any thread may ask. Returns the CLOCK_MONOTONIC receipt time of the
 * NLMSG_DONE of the first complete dump of ours, or 0 while there is none: an
 * event received at or before it (pcd_event.t_last) is the kernel's state as
 * that dump found it, one received after it is a change since.
 */
uint64_t pcd_linkstate_initial_done_ns(struct pcd_linkstate *ls);

/** pcd_linkstate_overflows - how many events the full queue has refused (each asks a resync) */
unsigned pcd_linkstate_overflows(const struct pcd_linkstate *ls);

#endif
