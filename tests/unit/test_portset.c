/*
 * tests/unit/test_portset.c - the "not yet created" set that gates
 * PortInitDone: a name it could not store must never let PortInitDone through,
 * and every stored name waits until it is deleted. Allocation failures are
 * injected through the set's allocator.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef PSM_MINICR
#include "minicr.h"
#else
#include <criterion/criterion.h>
#endif

#include "portset.h"

TestSuite(portset, .timeout = 30);

static int allocs_left; /* allocations that succeed before every later one fails */

static void *failing_realloc(void *p, size_t n)
{
    if (allocs_left <= 0) {
        errno = ENOMEM;
        return NULL;
    }
    allocs_left--;
    return realloc(p, n);
}

static void port_name(char *buf, size_t len, int i)
{
    snprintf(buf, len, "Ethernet%d", i);
}

Test(portset, a_name_that_cannot_be_stored_is_reported_and_blocks_port_init_done)
{
    struct pcd_portset s;
    allocs_left = 0;
    pcd_portset_init(&s, failing_realloc);
    errno = 0;
    cr_assert_eq(pcd_portset_add(&s, "Ethernet0"), -1, "a failed insert must say so");
    cr_assert_eq(errno, ENOMEM, "errno %d, expected ENOMEM", errno);
    cr_assert_eq(pcd_portset_all_created(&s), 0,
                 "Ethernet0 could not be stored, yet the set says every port was created");
    pcd_portset_free(&s);
}

Test(portset, a_failure_after_many_names_blocks_port_init_done_after_they_are_created)
{
    struct pcd_portset s;
    allocs_left = 1; /* the first table (64 slots, 32 names), never a bigger one */
    pcd_portset_init(&s, failing_realloc);
    char name[16];
    int failed = 0;
    for (int i = 0; i < 200; i++) {
        port_name(name, sizeof name, i);
        int rc = pcd_portset_add(&s, name);
        cr_assert(rc == 0 || (rc == -1 && errno == ENOMEM), "add %s: %d errno %d", name, rc, errno);
        failed += rc < 0;
    }
    cr_assert_eq(failed, 200 - 32, "%d inserts failed, expected %d", failed, 200 - 32);
    for (int i = 0; i < 200; i++) {
        port_name(name, sizeof name, i);
        pcd_portset_del(&s, name);
    }
    cr_assert_eq(pcd_portset_all_created(&s), 0,
                 "168 of the 200 names were never stored, yet the set says all were created");
    pcd_portset_free(&s);
}

Test(portset, a_rebuilt_set_is_complete_again)
{
    struct pcd_portset s;
    allocs_left = 0;
    pcd_portset_init(&s, failing_realloc);
    cr_assert_eq(pcd_portset_add(&s, "Ethernet0"), -1);
    pcd_portset_free(&s);
    pcd_portset_init(&s, NULL);
    cr_assert_eq(pcd_portset_add(&s, "Ethernet0"), 0);
    cr_assert_eq(pcd_portset_all_created(&s), 0, "Ethernet0 waits");
    cr_assert_eq(pcd_portset_del(&s, "Ethernet0"), 1);
    cr_assert_eq(pcd_portset_all_created(&s), 1, "the rebuilt set is complete and empty");
    pcd_portset_free(&s);
}

Test(portset, names_that_cannot_be_netdevs_are_refused_and_block_port_init_done)
{
    struct pcd_portset s;
    pcd_portset_init(&s, NULL);
    errno = 0;
    cr_assert_eq(pcd_portset_add(&s, ""), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(pcd_portset_add(&s, "Ethernet0123456789"), -1, "16 bytes do not fit IFNAMSIZ");
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(pcd_portset_add(&s, "Ethernet0123456"), 0, "15 bytes fit");
    cr_assert_eq(pcd_portset_del(&s, "Ethernet0123456"), 1);
    cr_assert_eq(pcd_portset_all_created(&s), 0, "a refused name never counts as created");
    pcd_portset_free(&s);
}

Test(portset, names_wait_until_each_is_created)
{
    struct pcd_portset s;
    pcd_portset_init(&s, NULL);
    cr_assert_eq(pcd_portset_all_created(&s), 1, "an empty set waits for nothing");
    cr_assert_eq(pcd_portset_del(&s, "Ethernet0"), 0, "nothing to delete");
    char name[16];
    for (int i = 0; i < 500; i++) {
        port_name(name, sizeof name, i);
        cr_assert_eq(pcd_portset_add(&s, name), 0, "add %s", name);
    }
    cr_assert_eq(pcd_portset_add(&s, "Ethernet7"), 1, "twice: still one name");
    for (int i = 499; i >= 0; i--) {
        cr_assert_eq(pcd_portset_all_created(&s), 0, "%d names still wait", i + 1);
        port_name(name, sizeof name, i);
        cr_assert_eq(pcd_portset_del(&s, name), 1, "%s was waiting", name);
        cr_assert_eq(pcd_portset_del(&s, name), 0, "a second NEWLINK of %s", name);
    }
    cr_assert_eq(pcd_portset_del(&s, "Ethernet9999"), 0, "never added");
    cr_assert_eq(pcd_portset_all_created(&s), 1, "every name was created");
    pcd_portset_free(&s);
}

/* Random adds and deletes against a plain array: the table (count, membership) agrees at every
 * step. */
Test(portset, agrees_with_a_reference_under_random_adds_and_deletes)
{
    enum { NAMES = 3000, STEPS = 200000 };
    static unsigned char in[NAMES];
    memset(in, 0, sizeof in);
    struct pcd_portset s;
    pcd_portset_init(&s, NULL);
    unsigned seed = 12345, count = 0;
    char name[16];
    for (int step = 0; step < STEPS; step++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 8) % NAMES);
        port_name(name, sizeof name, i);
        if ((seed >> 4) & 1) {
            cr_assert_eq(pcd_portset_add(&s, name), in[i] ? 1 : 0, "step %d add %s", step, name);
            count += !in[i];
            in[i] = 1;
        } else {
            cr_assert_eq(pcd_portset_del(&s, name), in[i], "step %d del %s", step, name);
            count -= in[i];
            in[i] = 0;
        }
        cr_assert_eq(s.count, count, "step %d: %u held, expected %u", step, s.count, count);
        cr_assert_eq(pcd_portset_has(&s, name), in[i], "step %d has %s", step, name);
    }
    cr_assert_eq(pcd_portset_has(&s, ""), 0, "an empty name is never there");
    cr_assert_eq(pcd_portset_has(&s, "Ethernet0123456789"), 0, "nor one too long for a netdev");
    for (int i = 0; i < NAMES; i++) {
        port_name(name, sizeof name, i);
        cr_assert_eq(pcd_portset_has(&s, name), in[i], "final has %s", name);
        cr_assert_eq(pcd_portset_del(&s, name), in[i], "final del %s", name);
    }
    cr_assert_eq(pcd_portset_all_created(&s), 1);
    pcd_portset_free(&s);
}
