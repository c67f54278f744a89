/*
 * core/netlink.c - rtnetlink link messages.
 *
 * A link message as the kernel sends it (RTM_NEWLINK / RTM_DELLINK):
 *
 *  +--------------------------+  struct nlmsghdr (16 B)
 *  | len | type | flags | seq | pid
 *  +--------------------------+  struct ifinfomsg (16 B)
 *  | family | type | index | flags | change
 *  +--------------------------+  attributes, each 4-aligned:
 *  | nla_len | nla_type | payload ...        IFLA_IFNAME  NUL-terminated string
 *  +--------------------------+               IFLA_MTU     u32
 *  | ...                      |               IFLA_MASTER  u32
 *  +--------------------------+               IFLA_LINKINFO nest:
 *                                               IFLA_INFO_KIND string ("veth", "team", ...)
 *
 * Nothing here trusts a length it has not checked against the message: libmnl's
 * attribute walkers stop at the first attribute that does not fit, and each
 * attribute we use is validated for its type and size before its payload is read.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "netlink.h"

struct parse_ctx {
    const struct nlattr *tb[IFLA_MAX + 1];
};

static int attr_cb(const struct nlattr *a, void *data)
{
    struct parse_ctx *c = data;
    int type = mnl_attr_get_type(a);
    if (type > IFLA_MAX)
        return MNL_CB_OK; /* newer kernels add attributes: skip them */
    c->tb[type] = a;
    return MNL_CB_OK;
}

struct info_ctx {
    const struct nlattr *kind;
};

static int info_cb(const struct nlattr *a, void *data)
{
    struct info_ctx *c = data;
    if (mnl_attr_get_type(a) == IFLA_INFO_KIND)
        c->kind = a;
    return MNL_CB_OK;
}

/*
 * Walk attributes in [a, end) like mnl_attr_parse, but report an attribute that
 * does not fit (libmnl's walker just stops there, hiding a truncated message).
 * Returns 0, or -1 if bytes remain that do not form a whole attribute.
 */
static int walk(const struct nlattr *a, const char *end, int (*cb)(const struct nlattr *, void *),
                void *data)
{
    while (mnl_attr_ok(a, (int)(end - (const char *)a))) {
        cb(a, data);
        a = mnl_attr_next(a);
    }
    return (const char *)a < end ? -1 : 0;
}

/* Attribute payload bytes actually covered by the message. */
static int attrs_fit(const struct nlmsghdr *nlh, size_t hdrlen)
{
    return nlh->nlmsg_len >= NLMSG_LENGTH(hdrlen);
}

int pcd_link_parse(const struct nlmsghdr *nlh, struct pcd_link *l, char *err, size_t errlen)
{
    if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
        return 0;
    const char *what = nlh->nlmsg_type == RTM_NEWLINK ? "RTM_NEWLINK" : "RTM_DELLINK";
    if (nlh->nlmsg_len < sizeof *nlh || !attrs_fit(nlh, sizeof(struct ifinfomsg))) {
        snprintf(err, errlen, "%s of %u bytes is shorter than its ifinfomsg header (%zu)", what,
                 nlh->nlmsg_len, (size_t)NLMSG_LENGTH(sizeof(struct ifinfomsg)));
        return -1;
    }
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    memset(l, 0, sizeof *l);
    l->type = nlh->nlmsg_type;
    l->ifindex = ifi->ifi_index;
    l->flags = ifi->ifi_flags;

    struct parse_ctx c = {0};
    /*
     * The attributes end at nlmsg_len itself, not at libmnl's payload tail: that is
     * nlmsg_len rounded up to 4, and a hostile unaligned length would let the last
     * attribute reach into bytes that are not part of the message (fuzz_netlink).
     */
    if (walk(mnl_nlmsg_get_payload_offset(nlh, sizeof *ifi), (const char *)nlh + nlh->nlmsg_len,
             attr_cb, &c) != 0) {
        snprintf(err, errlen, "%s for ifindex %d: truncated attribute", what, l->ifindex);
        return -1;
    }
    const struct nlattr *name = c.tb[IFLA_IFNAME];
    if (!name) {
        snprintf(err, errlen, "%s for ifindex %d: no IFLA_IFNAME attribute", what, l->ifindex);
        return -1;
    }
    uint16_t nlen = mnl_attr_get_payload_len(name);
    if (mnl_attr_validate(name, MNL_TYPE_NUL_STRING) < 0) {
        snprintf(err, errlen, "%s for ifindex %d: IFLA_IFNAME of %u bytes is not NUL-terminated",
                 what, l->ifindex, nlen);
        return -1;
    }
    size_t slen = strnlen(mnl_attr_get_str(name), nlen);
    if (slen == 0 || slen >= IFNAMSIZ) {
        snprintf(err, errlen, "%s for ifindex %d: interface name of %zu bytes, expected 1 to %d",
                 what, l->ifindex, slen, IFNAMSIZ - 1);
        return -1;
    }
    memcpy(l->name, mnl_attr_get_str(name), slen);
    l->name[slen] = '\0';
    if (c.tb[IFLA_MTU]) {
        if (mnl_attr_validate(c.tb[IFLA_MTU], MNL_TYPE_U32) < 0) {
            snprintf(err, errlen, "%s for %s: IFLA_MTU is %u bytes, expected 4", what, l->name,
                     mnl_attr_get_payload_len(c.tb[IFLA_MTU]));
            return -1;
        }
        l->mtu = mnl_attr_get_u32(c.tb[IFLA_MTU]);
    }
    if (c.tb[IFLA_MASTER]) {
        if (mnl_attr_validate(c.tb[IFLA_MASTER], MNL_TYPE_U32) < 0) {
            snprintf(err, errlen, "%s for %s: IFLA_MASTER is %u bytes, expected 4", what, l->name,
                     mnl_attr_get_payload_len(c.tb[IFLA_MASTER]));
            return -1;
        }
        l->master = mnl_attr_get_u32(c.tb[IFLA_MASTER]);
    }
    if (c.tb[IFLA_LINKINFO]) {
        struct info_ctx ic = {0};
        const struct nlattr *li = c.tb[IFLA_LINKINFO];
        if (mnl_attr_validate(li, MNL_TYPE_NESTED) < 0 ||
            walk(mnl_attr_get_payload(li),
                 (const char *)mnl_attr_get_payload(li) + mnl_attr_get_payload_len(li), info_cb,
                 &ic) != 0) {
            snprintf(err, errlen, "%s for %s: malformed IFLA_LINKINFO", what, l->name);
            return -1;
        }
        if (ic.kind) {
            uint16_t klen = mnl_attr_get_payload_len(ic.kind);
            const char *k = mnl_attr_get_payload(ic.kind);
            size_t kl = strnlen(k, klen);
            if (kl >= sizeof l->kind) {
                snprintf(err, errlen, "%s for %s: IFLA_INFO_KIND of %zu bytes, at most %zu", what,
                         l->name, kl, sizeof l->kind - 1);
                return -1;
            }
            memcpy(l->kind, k, kl);
            l->kind[kl] = '\0';
        }
    }
    return 1;
}

struct mnl_socket *pcd_nl_open_listener(int rcvbuf, char *err, size_t errlen)
{
    struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (!nl) {
        snprintf(err, errlen, "netlink: cannot open a NETLINK_ROUTE socket: %s", strerror(errno));
        return NULL;
    }
    if (mnl_socket_bind(nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
        snprintf(err, errlen, "netlink: cannot join RTNLGRP_LINK: %s", strerror(errno));
        mnl_socket_close(nl);
        return NULL;
    }
    /* A large buffer rides out bursts while we are busy; FORCE needs CAP_NET_ADMIN. */
    int fd = mnl_socket_get_fd(nl);
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    /* Ask the kernel to report ENOBUFS (default) and extended acks where supported. */
    int one = 1;
    mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof one);
    return nl;
}

int pcd_nl_request_dump(struct mnl_socket *nl, uint32_t seq)
{
    char buf[8192];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq;
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -1 : 0;
}

int pcd_nl_set_down(int ifindex, char *err, size_t errlen)
{
    struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        snprintf(err, errlen, "netlink: cannot open a socket to bring ifindex %d down: %s", ifindex,
                 strerror(errno));
        if (nl)
            mnl_socket_close(nl);
        return -1;
    }
    char buf[8192];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    uint32_t seq = (uint32_t)time(NULL);
    nlh->nlmsg_seq = seq;
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = 0;
    int rc = -1;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        snprintf(err, errlen, "netlink: bringing ifindex %d down: send: %s", ifindex,
                 strerror(errno));
    } else {
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
        if (n < 0 || mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), NULL, NULL) < 0)
            snprintf(err, errlen, "netlink: bringing ifindex %d down: %s", ifindex,
                     strerror(errno));
        else
            rc = 0;
    }
    mnl_socket_close(nl);
    return rc;
}
