/*
 * core/linkmon_run.c - who takes the netlink reader's turns (see linkmon.h):
 * its own thread, or the writer's loop (inline), and the switch between the
 * two: inline while Redis is connected and the queue is not congested,
 * threaded otherwise; congested with no thread to be had, reads held back to
 * an empty queue.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "linkmon_int.h"
#include "psu/clock.h"
#include "psu/log.h"

void pcd_linkmon_kick(struct pcd_linkmon *lm)
{
    uint64_t one = 1;
    ssize_t w = write(lm->ctl_fd, &one, sizeof one);
    (void)w;
}

static void *thread_main(void *arg)
{
    struct pcd_linkmon *lm = arg;
    while (!atomic_load(&lm->stop))
        pcd_linkmon_step(lm, 1000, 64);
    return NULL;
}

int pcd_linkmon_thread_start(struct pcd_linkmon *lm)
{
    atomic_store(&lm->stop, 0);
    int rc = pthread_create(&lm->thread, NULL, thread_main, lm);
    if (rc == 0) {
        pthread_setname_np(lm->thread, "netlink");
        lm->threaded = 1;
    }
    return rc;
}

void pcd_linkmon_thread_join(struct pcd_linkmon *lm)
{
    if (!lm->threaded)
        return;
    atomic_store(&lm->stop, 1);
    pcd_linkmon_kick(lm);
    pthread_join(lm->thread, NULL);
    lm->threaded = 0;
}

int pcd_linkmon_inline(struct pcd_linkmon *lm)
{
    if (!lm->running)
        return 0;
    if (atomic_load(&lm->congested)) {
        /* The writer drains the queue while the thread reads the dump. */
        if (!lm->threaded)
            pcd_linkmon_threaded(lm);
        return !lm->threaded;
    }
    if (lm->threaded) {
        pcd_linkmon_thread_join(lm);
        pcd_queue_set_wake_fd(lm->q, lm->ctl_fd);
    }
    return 1;
}

int pcd_linkmon_threaded(struct pcd_linkmon *lm)
{
    if (!lm->running || lm->threaded)
        return 0;
    /*
     * After a failure, try again once a second and say so every 5 s: called each
     * turn of the writer's loop while congested, a failing pthread_create() was
     * thousands of ERROR lines a second (tests/core/t_thread_start_fails.sh).
     */
    uint64_t now = psu_clock_mono_ns();
    if (now < lm->thread_retry_at)
        return -1;
    pcd_queue_set_wake_fd(lm->q, -1);
    int rc = pcd_linkmon_thread_start(lm);
    if (rc == 0) {
        lm->thread_retry_at = lm->thread_log_at = 0;
        return 0;
    }
    pcd_queue_set_wake_fd(lm->q, lm->ctl_fd); /* still inline: SIGTERM wakes its poll */
    lm->thread_retry_at = now + 1000000000ull;
    if (now >= lm->thread_log_at) {
        lm->thread_log_at = now + 5000000000ull;
        psu_log_error("cannot start the netlink thread: %s: link events are read between Redis "
                      "commands only until it can (retrying every second)",
                      strerror(rc));
    }
    return -1;
}

/*
 * Congested and still inline: the thread could not be started. Then netlink is
 * read only into an empty queue, one read at a time and never during a reply,
 * so the writer drains the queue between the parts of a dump, as the thread
 * would have let it; read as usual, every dump larger than the queue
 * overflowed it again, for ever (tests/core/t_thread_start_fails.sh). The
 * kernel's buffer holds what waits meanwhile.
 */
static int held_back(const struct pcd_linkmon *lm)
{
    return atomic_load(&lm->congested) && pcd_queue_ports(lm->q) > 0;
}

int pcd_linkmon_wait(struct pcd_linkmon *lm, int max_ms)
{
    if (!lm->running || lm->threaded)
        return -1;
    if (!held_back(lm))
        pcd_linkmon_step(lm, max_ms < 0 ? 0 : max_ms, 1);
    return 0;
}

int pcd_linkmon_fd(const struct pcd_linkmon *lm)
{
    /* Congested: not during a reply either, when the batch's ports are out of the queue. */
    return lm->running && !lm->threaded && lm->nl && !atomic_load(&lm->congested)
               ? mnl_socket_get_fd(lm->nl)
               : -1;
}

void pcd_linkmon_service(struct pcd_linkmon *lm)
{
    if (lm->running && !lm->threaded && lm->nl)
        pcd_linkmon_receive(lm, mnl_socket_get_fd(lm->nl), 64);
}
