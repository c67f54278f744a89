/*
 * core/linkmon_int.h - what linkmon.c (the socket and one turn of reading) and
 * linkmon_run.c (who takes the turns: the reader's thread or the writer's
 * loop) share; not for other files.
 */
#ifndef PCD_LINKMON_INT_H
#define PCD_LINKMON_INT_H

#include <libmnl/libmnl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "linkmon.h"

#define RECV_BUF 65536 /* holds many messages; the kernel never splits one across reads */

struct pcd_linkmon {
    struct pcd_linkmon_opts o;
    struct pcd_queue *q;
    struct pcd_metrics *m;
    struct pcd_linkstate *ls;
    int ctl_fd; /* eventfd: stop and resync requests */
    pthread_t thread;
    int running;            /* started and not stopped; only the starting thread changes it */
    int threaded;           /* the reader thread runs (else the caller's loop reads: inline) */
    atomic_int stop;        /* the thread is to return (pcd_linkmon_stop(), _inline()) */
    atomic_int congested;   /* the queue overflowed since the last dump that fitted in it */
    atomic_uint resync_req; /* bit per enum pcd_resync_reason, from other threads */
    /* The writer's: when pcd_linkmon_threaded() may try again, and log again, after a failure. */
    uint64_t thread_retry_at, thread_log_at;
    /* Owned by the thread, or by the writer's loop while inline. */
    /*
     * The receive buffer, one for both ways of running: on a stack, the thread's
     * and the writer's would each keep the pages a dump touched resident; as
     * _Thread_local, glibc would allocate and clear it for every thread
     * (tests/core/t_thread_memory.sh).
     */
    char *buf;
    struct mnl_socket *nl;
    unsigned portid;
    uint32_t seq;
    uint64_t dump_started;   /* CLOCK_MONOTONIC ns of the dump in flight */
    unsigned dump_overflows; /* pcd_linkstate_overflows() when it began */
    /* While the socket is closed after a failure: when to try again, and how long to wait next. */
    uint64_t retry_at;
    unsigned retry_ms, failures;
    char last_failure[384]; /* the last failure logged, to log a repeat only every 5 s */
};

/**
 * pcd_linkmon_step - one turn of the reader: requests, the socket's reopening
 * and dump timeout, a dump due, then at most @max_ms waiting for the socket and
 * up to @reads reads of what it holds; touches only what the reader owns
 * (lm->threaded is the writer's)
 * @lm: the reader
 * @max_ms: the longest wait
 * @reads: the most reads
 */
void pcd_linkmon_step(struct pcd_linkmon *lm, int max_ms, int reads);

/** pcd_linkmon_receive - up to @reads reads of what the socket @fd holds, handed to the model */
void pcd_linkmon_receive(struct pcd_linkmon *lm, int fd, int reads);

/** pcd_linkmon_kick - wake the thread (or the inline wait) out of poll() */
void pcd_linkmon_kick(struct pcd_linkmon *lm);

/** pcd_linkmon_thread_start - start the reader thread; returns 0 or pthread_create()'s error */
int pcd_linkmon_thread_start(struct pcd_linkmon *lm);

/** pcd_linkmon_thread_join - stop the reader thread, if it runs: its turns are the caller's */
void pcd_linkmon_thread_join(struct pcd_linkmon *lm);

#endif
