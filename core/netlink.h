/*
 * core/netlink.h - rtnetlink link messages: parsing (validated, no allocation),
 * the listening socket, dump requests and bringing a link down.
 */
#ifndef PCD_NETLINK_H
#define PCD_NETLINK_H

#include <linux/netlink.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

struct mnl_socket;

/* One parsed RTM_NEWLINK / RTM_DELLINK. */
struct pcd_link {
    uint16_t type; /* RTM_NEWLINK or RTM_DELLINK */
    int ifindex;
    unsigned flags;      /* IFF_* of ifinfomsg */
    uint32_t mtu;        /* 0 when IFLA_MTU is absent */
    uint32_t master;     /* ifindex of the master, 0 for none */
    char name[IFNAMSIZ]; /* IFLA_IFNAME, NUL-terminated */
    char kind[32];       /* IFLA_LINKINFO/IFLA_INFO_KIND, "" when absent */
};

/**
 * pcd_nlmsg_ok - does a whole message start at @nlh within @left bytes?
 * @nlh: candidate message
 * @left: bytes from @nlh to the end of the buffer
 *
 * libmnl's mnl_nlmsg_ok() compares nlmsg_len as an int, so a length above 2 GiB
 * passes as negative; this compares unsigned. Returns 1 or 0.
 */
static inline int pcd_nlmsg_ok(const struct nlmsghdr *nlh, size_t left)
{
    return left >= sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= left;
}

/**
 * pcd_nlmsg_next - the message after @nlh (which pcd_nlmsg_ok() accepted)
 * @nlh: the current message
 * @left: bytes left from @nlh; updated, 0 when the aligned length runs past the end
 */
static inline const struct nlmsghdr *pcd_nlmsg_next(const struct nlmsghdr *nlh, size_t *left)
{
    size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
    *left = step < *left ? *left - step : 0;
    return (const struct nlmsghdr *)((const char *)nlh + step);
}

/**
 * pcd_link_parse - parse and validate one rtnetlink message
 * @nlh: the message; nlh->nlmsg_len bytes must be readable (pcd_nlmsg_ok())
 * @link: receives the link
 * @err: buffer for why a malformed message was refused
 * @errlen: size of @err
 *
 * Every attribute is length-checked before use: a truncated ifinfomsg or
 * attribute, a missing IFLA_IFNAME, a name without terminator or longer than
 * IFNAMSIZ-1, an IFLA_MTU or IFLA_MASTER of the wrong size, a malformed
 * IFLA_LINKINFO nest are each refused with their own message.
 * Returns 1 for a link message, 0 for any other message type (ignored), -1 for
 * a malformed link message (@err says why).
 */
int pcd_link_parse(const struct nlmsghdr *nlh, struct pcd_link *link, char *err, size_t errlen);

/**
 * pcd_nl_open_listener - NETLINK_ROUTE socket joined to RTNLGRP_LINK
 * @rcvbuf: receive buffer to ask for (SO_RCVBUFFORCE, falling back to SO_RCVBUF)
 * @err: buffer for what failed
 * @errlen: size of @err
 *
 * Returns the socket, or NULL with @err filled.
 */
struct mnl_socket *pcd_nl_open_listener(int rcvbuf, char *err, size_t errlen);

/**
 * pcd_nl_request_dump - send an RTM_GETLINK dump request
 * @nl: the socket
 * @seq: sequence number the replies will carry
 * Returns 0, or -1 with errno.
 */
int pcd_nl_request_dump(struct mnl_socket *nl, uint32_t seq);

/**
 * pcd_nl_set_down - clear IFF_UP on @ifindex through netlink and wait for the ack
 * @ifindex: the link
 * @err: buffer for what failed
 * @errlen: size of @err
 * Returns 0, or -1 with @err filled.
 */
int pcd_nl_set_down(int ifindex, char *err, size_t errlen);

#endif
