/*
 * tests/unit/test_netlink_parse.c - the netlink link parser on crafted messages:
 * every malformed form is refused with its own message, nothing is read past
 * the message (these also run under ASan/UBSan).
 */
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef PSM_MINICR
#include "minicr.h"
#else
#include <criterion/criterion.h>
#endif

#include "linkstate.h"
#include "netlink.h"

TestSuite(nlparse, .timeout = 30);

static char buf[4096];

static struct nlmsghdr *start(uint16_t type, int ifindex, unsigned flags)
{
    memset(buf, 0, sizeof buf);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_index = ifindex;
    ifi->ifi_flags = flags;
    return nlh;
}

/*
 * Parse from a heap copy of exactly nlmsg_len bytes, so that ASan sees any read
 * past the message (the static buffer would hide it).
 */
static int parse_exact(const struct nlmsghdr *nlh, struct pcd_link *l, char *err, size_t errlen)
{
    void *copy = malloc(nlh->nlmsg_len);
    memcpy(copy, nlh, nlh->nlmsg_len);
    int rc = pcd_link_parse(copy, l, err, errlen);
    free(copy);
    return rc;
}

static void expect_error(const struct nlmsghdr *nlh, const char *needle)
{
    struct pcd_link l;
    char err[256] = "";
    cr_assert_eq(parse_exact(nlh, &l, err, sizeof err), -1, "accepted; wanted '%s'", needle);
    cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
}

Test(nlparse, a_full_newlink_is_parsed)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 7, IFF_UP | IFF_RUNNING);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "Ethernet4");
    mnl_attr_put_u32(nlh, IFLA_MTU, 9100);
    mnl_attr_put_u32(nlh, IFLA_MASTER, 3);
    struct nlattr *nest = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    mnl_attr_nest_end(nlh, nest);
    struct pcd_link l;
    char err[256];
    cr_assert_eq(parse_exact(nlh, &l, err, sizeof err), 1, "%s", err);
    cr_assert_str_eq(l.name, "Ethernet4");
    cr_assert_eq(l.ifindex, 7);
    cr_assert_eq(l.mtu, 9100);
    cr_assert_eq(l.master, 3);
    cr_assert_str_eq(l.kind, "veth");
    cr_assert_eq(l.flags, IFF_UP | IFF_RUNNING);
    cr_assert_eq(l.type, RTM_NEWLINK);
}

Test(nlparse, other_message_types_are_not_link_events)
{
    struct nlmsghdr *nlh = start(RTM_NEWADDR, 1, 0);
    struct pcd_link l;
    char err[64];
    cr_assert_eq(pcd_link_parse(nlh, &l, err, sizeof err), 0);
}

Test(nlparse, attributes_newer_than_this_build_are_skipped)
{
    struct nlmsghdr *nlh = start(RTM_DELLINK, 2, 0);
    mnl_attr_put_u32(nlh, IFLA_MAX + 5, 1);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "Ethernet0");
    struct pcd_link l;
    char err[256];
    cr_assert_eq(parse_exact(nlh, &l, err, sizeof err), 1, "%s", err);
    cr_assert_eq(l.mtu, 0);
    cr_assert_str_eq(l.kind, "");
}

Test(nlparse, a_message_shorter_than_ifinfomsg_is_refused)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 1, 0);
    nlh->nlmsg_len = NLMSG_LENGTH(8);
    expect_error(nlh, "shorter than its ifinfomsg header");
}

Test(nlparse, a_missing_ifname_is_refused)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 9, 0);
    mnl_attr_put_u32(nlh, IFLA_MTU, 1500);
    expect_error(nlh, "ifindex 9: no IFLA_IFNAME attribute");
}

Test(nlparse, a_name_without_terminator_is_refused)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 1, 0);
    mnl_attr_put(nlh, IFLA_IFNAME, 8, "Ethernet");
    expect_error(nlh, "not NUL-terminated");
}

Test(nlparse, an_oversize_name_is_refused)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 1, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "Ethernet1234567890ab");
    expect_error(nlh, "interface name of 20 bytes, expected 1 to 15");
}

Test(nlparse, an_empty_name_is_refused)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 1, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "");
    expect_error(nlh, "interface name of 0 bytes");
}

Test(nlparse, an_mtu_of_the_wrong_size_is_refused)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 1, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "Ethernet0");
    mnl_attr_put_u16(nlh, IFLA_MTU, 1500);
    expect_error(nlh, "IFLA_MTU is 2 bytes, expected 4");
}

Test(nlparse, a_master_of_the_wrong_size_is_refused)
{
    struct nlmsghdr *nlh = start(RTM_DELLINK, 1, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "Ethernet0");
    mnl_attr_put_u8(nlh, IFLA_MASTER, 1);
    expect_error(nlh, "IFLA_MASTER is 1 bytes");
}

Test(nlparse, a_truncated_attribute_is_refused)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 1, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "Ethernet0");
    /* The attribute claims more bytes than the message holds. */
    struct nlattr *a =
        (struct nlattr *)((char *)nlh + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg)));
    a->nla_len = 200;
    expect_error(nlh, "truncated attribute");
}

/*
 * Found by fuzz_netlink: a message whose length is not a multiple of 4, with a last
 * attribute that ends in the alignment padding past nlmsg_len. The attribute walk
 * ended at the aligned length, so the name was read from beyond the message.
 */
Test(nlparse, an_attribute_past_an_unaligned_message_length_is_refused)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 1, 0);
    mnl_attr_put_strz(nlh, IFLA_QDISC, "xyz"); /* so the name is not the first attribute */
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "%o"); /* nla_len 7 */
    nlh->nlmsg_len -= 3;                       /* cut inside it: 4 header bytes + 'x' remain */
    cr_assert_neq(nlh->nlmsg_len % 4, 0);
    expect_error(nlh, "truncated attribute");
}

Test(nlparse, a_malformed_linkinfo_is_refused)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 1, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "Ethernet0");
    mnl_attr_put_u16(nlh, IFLA_LINKINFO, 1);
    expect_error(nlh, "malformed IFLA_LINKINFO");
}

Test(nlparse, an_oversize_kind_is_refused)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 1, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "Ethernet0");
    struct nlattr *nest = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "a-kind-name-much-longer-than-thirty-two-bytes");
    mnl_attr_nest_end(nlh, nest);
    expect_error(nlh, "IFLA_INFO_KIND of");
}

Test(nlparse, a_length_beyond_the_buffer_is_not_a_message)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 1, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "Ethernet0");
    size_t len = nlh->nlmsg_len;
    cr_assert(pcd_nlmsg_ok(nlh, len));
    cr_assert_not(pcd_nlmsg_ok(nlh, len - 1));
    nlh->nlmsg_len = 0xd9d90000u; /* negative as an int: libmnl's check passes it */
    cr_assert_not(pcd_nlmsg_ok(nlh, sizeof buf));
    nlh->nlmsg_len = 8;
    cr_assert_not(pcd_nlmsg_ok(nlh, sizeof buf));
    cr_assert_not(pcd_nlmsg_ok(nlh, 10));
}

Test(nlparse, walking_stops_at_a_truncated_second_message)
{
    struct nlmsghdr *nlh = start(RTM_NEWLINK, 1, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "Ethernet0");
    size_t one = NLMSG_ALIGN(nlh->nlmsg_len);
    memcpy(buf + one, buf, one);
    size_t left = one + one / 2, n = 0;
    for (const struct nlmsghdr *m = nlh; pcd_nlmsg_ok(m, left); m = pcd_nlmsg_next(m, &left))
        n++;
    cr_assert_eq(n, 1);
    cr_assert_eq(left, one / 2);
}

Test(nlparse, random_messages_never_crash)
{
    uint64_t x = 0x2545F4914F6CDD1Dull;
    struct pcd_link l;
    char err[256];
    for (int round = 0; round < 200000; round++) {
        struct nlmsghdr *nlh = start(round & 1 ? RTM_NEWLINK : RTM_DELLINK, 1, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, "Ethernet0");
        mnl_attr_put_u32(nlh, IFLA_MTU, 1500);
        struct nlattr *nest = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        mnl_attr_nest_end(nlh, nest);
        uint32_t len = nlh->nlmsg_len;
        for (int k = 0; k < 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[NLMSG_HDRLEN + x % (len - NLMSG_HDRLEN)] = (char)(x >> 40);
        }
        /* Any verdict is fine; a read past the message is not (ASan, exact-size copy). */
        int rc = parse_exact(nlh, &l, err, sizeof err);
        cr_assert(rc == 1 || rc == -1);
        if (rc == 1)
            cr_assert(strlen(l.name) >= 1 && strlen(l.name) < IFNAMSIZ);
    }
}

/* ---- SONiC's filters on parsed events ---- */

static struct pcd_link link_of(uint16_t type, const char *name, const char *kind, uint32_t master)
{
    struct pcd_link l = {.type = type, .ifindex = 5, .master = master};
    snprintf(l.name, sizeof l.name, "%s", name);
    snprintf(l.kind, sizeof l.kind, "%s", kind);
    return l;
}

Test(nlparse, names_other_than_ethernet_and_portchannel_are_ignored)
{
    struct pcd_link a = link_of(RTM_NEWLINK, "eth0", "", 0);
    struct pcd_link b = link_of(RTM_NEWLINK, "Ethernet0", "veth", 0);
    struct pcd_link c = link_of(RTM_NEWLINK, "PortChannel5", "bond", 0);
    struct pcd_link d = link_of(RTM_NEWLINK, "ethernet0", "", 0);
    cr_assert_eq(pcd_link_filter(&a), PCD_IGN_NAME);
    cr_assert_eq(pcd_link_filter(&b), -1);
    cr_assert_eq(pcd_link_filter(&c), -1);
    cr_assert_eq(pcd_link_filter(&d), PCD_IGN_NAME);
}

Test(nlparse, team_links_are_ignored)
{
    struct pcd_link a = link_of(RTM_NEWLINK, "PortChannel1", "team", 0);
    struct pcd_link b = link_of(RTM_DELLINK, "Ethernet8", "team", 0);
    cr_assert_eq(pcd_link_filter(&a), PCD_IGN_TEAM);
    cr_assert_eq(pcd_link_filter(&b), PCD_IGN_TEAM);
}

Test(nlparse, only_dellink_with_a_master_is_ignored)
{
    struct pcd_link del = link_of(RTM_DELLINK, "Ethernet4", "veth", 7);
    struct pcd_link add = link_of(RTM_NEWLINK, "Ethernet4", "veth", 7);
    struct pcd_link plain = link_of(RTM_DELLINK, "Ethernet4", "veth", 0);
    cr_assert_eq(pcd_link_filter(&del), PCD_IGN_DELLINK_MASTER);
    cr_assert_eq(pcd_link_filter(&add), -1);
    cr_assert_eq(pcd_link_filter(&plain), -1);
}

Test(nlparse, filters_apply_in_sonic_order)
{
    /* A non-Ethernet team DELLINK with a master is counted under the first filter. */
    struct pcd_link l = link_of(RTM_DELLINK, "team0", "team", 3);
    cr_assert_eq(pcd_link_filter(&l), PCD_IGN_NAME);
    struct pcd_link t = link_of(RTM_DELLINK, "PortChannel1", "team", 3);
    cr_assert_eq(pcd_link_filter(&t), PCD_IGN_TEAM);
}
