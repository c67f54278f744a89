/*
 * tests/unit/test_reconcile.c - the hold of a warm restart or restart alone
 * (core/reconcile.c), the part that needs no Redis: the timer's bounds, and
 * what pcd_reconcile_filter() decides for an event against the baseline,
 * before and after the end of the initial dump. The writes themselves (the
 * settle window's, reconciliation's) are the scenario tests' business
 * (tests/core/t_warm_*.sh), against a real redis-server.
 */
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef PSM_MINICR
#include "minicr.h"
#else
#include <criterion/criterion.h>
#endif

#include "metrics.h"
#include "reconcile.h"

#define DONE_NS 1000000000ull /* the initial dump's NLMSG_DONE, received at 1 s */

static struct pcd_metrics m;
static struct pcd_dbconn db; /* never connected: the filter does not use Redis */
static struct pcd_reconcile *rc;
static char seg[64];

static void setup(void)
{
    snprintf(seg, sizeof seg, "pcd-test-reconcile-%d", (int)getpid());
    cr_assert_eq(pcd_metrics_open(&m, seg, NULL), 0);
    cr_assert_not_null(rc = pcd_reconcile_new(&db, &m, PCD_RESTART_WARM, 30, 500, 0));
    cr_assert_eq(pcd_reconcile_add_config_port(rc, "Ethernet0"), 0);
    cr_assert_eq(pcd_reconcile_baseline_add(rc, "Ethernet0", "ok", "up", "up", "9100"), 0);
}

static void teardown(void)
{
    char path[80];
    pcd_reconcile_free(rc);
    pcd_metrics_close(&m);
    snprintf(path, sizeof path, "/%s", seg);
    shm_unlink(path);
}

static struct pcd_event ev(const char *name, int type, unsigned flags, uint32_t mtu, uint64_t t)
{
    struct pcd_event e = {.type = (uint16_t)type, .flags = flags, .mtu = mtu, .folded = 1};
    snprintf(e.name, sizeof e.name, "%s", name);
    e.t_first = e.t_last = t;
    return e;
}

#define UP_RUNNING (IFF_UP | IFF_RUNNING)

TestSuite(timer, .timeout = 30);
TestSuite(hold, .init = setup, .fini = teardown, .timeout = 30);

Test(timer, whole_seconds_from_1_to_9999_are_taken)
{
    unsigned t;
    char err[256];
    cr_assert_eq(pcd_warm_timer_parse("1", &t, err, sizeof err), 0);
    cr_assert_eq(t, 1);
    cr_assert_eq(pcd_warm_timer_parse("9999", &t, err, sizeof err), 0);
    cr_assert_eq(t, 9999);
    cr_assert_eq(pcd_warm_timer_parse("010", &t, err, sizeof err), 0);
    cr_assert_eq(t, 10, "decimal, not octal as SONiC's strtoul(.., 0) reads it");
    cr_assert_eq(err[0], '\0', "%s", err);
}

Test(timer, absent_is_the_default)
{
    unsigned t = 0;
    char err[256];
    cr_assert_eq(pcd_warm_timer_parse(NULL, &t, err, sizeof err), 1);
    cr_assert_eq(t, PCD_WARM_TIMER_DEFAULT_S);
}

Test(timer, anything_else_is_refused_with_the_value_and_the_bounds)
{
    static const char *const bad[] = {"0", "10000", "abc", "-5", " 7", "30s", "0x10", "", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned t = 1;
        char err[256], want[64];
        cr_assert_eq(pcd_warm_timer_parse(bad[i], &t, err, sizeof err), -1, "'%s'", bad[i]);
        cr_assert_eq(t, PCD_WARM_TIMER_DEFAULT_S, "'%s' gives the default", bad[i]);
        snprintf(want, sizeof want, "portsyncd_timer '%s' is not", bad[i]);
        cr_assert_not_null(strstr(err, want), "'%s': %s", bad[i], err);
        cr_assert_not_null(strstr(err, "from 1 to 9999"), "%s", err);
    }
}

Test(hold, a_state_equal_to_the_baseline_is_held)
{
    struct pcd_event e = ev("Ethernet0", RTM_NEWLINK, UP_RUNNING, 9100, DONE_NS - 5);
    cr_assert_eq(pcd_reconcile_filter(rc, &e, 0), 0, "listed by the dump, unchanged");
    e.t_last = DONE_NS + 5;
    cr_assert_eq(pcd_reconcile_filter(rc, &e, DONE_NS), 0, "announced after it, unchanged");
}

Test(hold, a_difference_found_by_the_dump_is_written_at_once)
{
    struct pcd_event e = ev("Ethernet0", RTM_NEWLINK, IFF_UP, 9100, DONE_NS - 5);
    cr_assert_eq(pcd_reconcile_filter(rc, &e, DONE_NS), 1, "carrier lost while away");
    /* The batch failed: nothing was written, so the retried event is written again. */
    cr_assert_eq(pcd_reconcile_filter(rc, &e, DONE_NS), 1, "a retry is not held");
    pcd_reconcile_applied(rc, &e);
    cr_assert_eq(pcd_reconcile_filter(rc, &e, DONE_NS), 0, "once written, the same state is held");
}

Test(hold, before_the_dump_ends_a_difference_is_the_dumps)
{
    struct pcd_event e = ev("Ethernet0", RTM_NEWLINK, UP_RUNNING, 9000, 5);
    cr_assert_eq(pcd_reconcile_filter(rc, &e, 0), 1, "no DONE yet: the state as the dump finds it");
}

Test(hold, a_change_after_the_dump_waits_the_settle_window)
{
    struct pcd_event down = ev("Ethernet0", RTM_NEWLINK, IFF_UP, 9100, DONE_NS + 10);
    cr_assert_eq(pcd_reconcile_filter(rc, &down, DONE_NS), 0, "held: maybe a transient");
    int wait = pcd_reconcile_wait_ms(rc, DONE_NS + 10, 200);
    cr_assert(wait >= 1 && wait <= 200, "the writer wakes for the window (%d ms)", wait);
    cr_assert_eq(pcd_reconcile_wait_ms(rc, DONE_NS + 10 + 300000000ull, 1000), 201,
                 "the window ends 500 ms after the change");
    struct pcd_event up = ev("Ethernet0", RTM_NEWLINK, UP_RUNNING, 9100, DONE_NS + 20);
    cr_assert_eq(pcd_reconcile_filter(rc, &up, DONE_NS), 0, "back: a transient, no write");
    cr_assert_eq(pcd_reconcile_wait_ms(rc, DONE_NS + 20, 1000), 1000,
                 "nothing in the window any more (the timer is 30 s away)");
}

Test(hold, a_deletion_waits_for_reconciliation)
{
    struct pcd_event e = ev("Ethernet0", RTM_DELLINK, 0, 0, DONE_NS + 10);
    cr_assert_eq(pcd_reconcile_filter(rc, &e, DONE_NS), 0);
}

Test(hold, a_port_without_a_baseline_entry_is_written_at_once)
{
    struct pcd_event e = ev("Ethernet4", RTM_NEWLINK, UP_RUNNING, 9100, DONE_NS + 10);
    cr_assert_eq(pcd_reconcile_filter(rc, &e, DONE_NS), 1, "not in CONFIG_DB nor in STATE_DB");
    cr_assert_eq(pcd_reconcile_add_config_port(rc, "Ethernet8"), 0);
    e = ev("Ethernet8", RTM_NEWLINK, UP_RUNNING, 9100, DONE_NS + 10);
    cr_assert_eq(pcd_reconcile_filter(rc, &e, DONE_NS), 1, "in CONFIG_DB, no STATE_DB entry yet");
}

Test(hold, a_baseline_value_that_cannot_be_ours_differs)
{
    cr_assert_eq(pcd_reconcile_baseline_add(rc, "Ethernet4", "ok", "up", "up",
                                            "1500-and-much-longer-than-an-mtu"),
                 0);
    struct pcd_event e = ev("Ethernet4", RTM_NEWLINK, UP_RUNNING, 1500, DONE_NS - 1);
    cr_assert_eq(pcd_reconcile_filter(rc, &e, DONE_NS), 1);
}

Test(hold, a_cold_start_holds_nothing)
{
    cr_assert_null(pcd_reconcile_new(&db, &m, PCD_RESTART_COLD, 30, 500, 0));
    struct pcd_event e = ev("Ethernet0", RTM_NEWLINK, UP_RUNNING, 9100, 1);
    cr_assert_eq(pcd_reconcile_filter(NULL, &e, 0), 1);
    cr_assert_eq(pcd_reconcile_active(NULL), 0);
}
