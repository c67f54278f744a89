/*
 * tests/unit/test_portset.c - the "not yet created" set that gates
 * PortInitDone: a name it could not store must never let PortInitDone through.
 * Allocation failures are injected through the set's allocator.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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

Test(portset, a_name_whose_array_cannot_grow_blocks_port_init_done)
{
    struct pcd_portset s;
    allocs_left = 0;
    pcd_portset_init(&s, failing_realloc);
    pcd_portset_add(&s, "Ethernet0");
    cr_assert_eq(pcd_portset_all_created(&s), 0,
                 "Ethernet0 could not be stored, yet the set says every port was created");
    pcd_portset_free(&s);
}

Test(portset, a_name_that_cannot_be_copied_blocks_port_init_done)
{
    struct pcd_portset s;
    allocs_left = 1; /* the array grows, the copy of the name fails */
    pcd_portset_init(&s, failing_realloc);
    pcd_portset_add(&s, "Ethernet0");
    cr_assert_eq(pcd_portset_all_created(&s), 0,
                 "Ethernet0 could not be stored, yet the set says every port was created");
    pcd_portset_free(&s);
}

Test(portset, a_failure_after_many_names_blocks_port_init_done_after_they_are_created)
{
    struct pcd_portset s;
    allocs_left = 70; /* enough for some names, not for all */
    pcd_portset_init(&s, failing_realloc);
    char name[16];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "Ethernet%d", i);
        pcd_portset_add(&s, name);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "Ethernet%d", i);
        pcd_portset_del(&s, name);
    }
    cr_assert_eq(pcd_portset_all_created(&s), 0,
                 "some of the 200 names were never stored, yet the set says all were created");
    pcd_portset_free(&s);
}

Test(portset, names_wait_until_each_is_created)
{
    struct pcd_portset s;
    pcd_portset_init(&s, NULL);
    cr_assert_eq(pcd_portset_all_created(&s), 1, "an empty set waits for nothing");
    char name[16];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "Ethernet%d", i);
        pcd_portset_add(&s, name);
    }
    pcd_portset_add(&s, "Ethernet7"); /* twice: still one name */
    for (int i = 499; i >= 0; i--) {
        cr_assert_eq(pcd_portset_all_created(&s), 0, "%d names still wait", i + 1);
        snprintf(name, sizeof name, "Ethernet%d", i);
        pcd_portset_del(&s, name);
        pcd_portset_del(&s, name); /* a second NEWLINK of the same port */
    }
    pcd_portset_del(&s, "Ethernet9999"); /* never added */
    cr_assert_eq(pcd_portset_all_created(&s), 1, "every name was created");
    pcd_portset_free(&s);
}
