/*
 * tests/fuzz/fuzz_netlink.c - libFuzzer target: arbitrary bytes as one netlink
 * receive buffer, walked message by message and parsed as portsyncd's reader
 * does. Any crash or sanitizer report is a bug.
 */
#include <libmnl/libmnl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Netlink buffers are 4-aligned; copy so misaligned inputs are not a finding. */
    void *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    size_t left = size;
    const struct nlmsghdr *nlh = buf;
    for (; pcd_nlmsg_ok(nlh, left); nlh = pcd_nlmsg_next(nlh, &left)) {
        struct pcd_link l;
        char err[256];
        pcd_link_parse(nlh, &l, err, sizeof err);
    }
    free(buf);
    return 0;
}
