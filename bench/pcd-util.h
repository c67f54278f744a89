/*
 * bench/pcd-util.h - what pcd-bench and pcd-burst share: clocks and
 * percentiles, CPU time and RSS of another process from /proc, link changes
 * through rtnetlink, and STATE_DB keyspace notifications through hiredis.
 */
#ifndef PCD_UTIL_H
#define PCD_UTIL_H

#include <hiredis/hiredis.h>
#include <libmnl/libmnl.h>
#include <stddef.h>

/**
 * pcd_now_s() - CLOCK_MONOTONIC in seconds.
 */
double pcd_now_s(void);

/**
 * pcd_pct_sort() - sort @v and return its @p quantile (0 for an empty array).
 * @v: samples, sorted in place
 * @n: number of samples
 * @p: quantile, 0..1
 */
double pcd_pct_sort(double *v, size_t n, double p);

/**
 * pcd_median() - median of @n values (sorted in place); 0 when @n is 0.
 */
double pcd_median(double *v, size_t n);

/**
 * pcd_proc_cpu_ns() - CPU time (user + system) of every thread of @pid, in ns.
 * @pid: process id
 *
 * Sums /proc/PID/task/TID/schedstat, which counts in nanoseconds (utime and
 * stime in /proc/PID/stat tick at 10 ms: too coarse for 200 changes at 100/s).
 * Return: the sum, or -1 if the process cannot be read.
 */
long long pcd_proc_cpu_ns(int pid);

/**
 * pcd_proc_rss_kb() - VmRSS of @pid in kB, or -1.
 */
long pcd_proc_rss_kb(int pid);

/**
 * pcd_nl_open() - an rtnetlink socket bound with an automatic port id.
 * @rcvbuf: receive buffer to ask for (0: the default)
 *
 * Return: the socket, or NULL with errno set.
 */
struct mnl_socket *pcd_nl_open(int rcvbuf);

/**
 * pcd_ports_ifindex() - ifindexes of Ethernet0, Ethernet4, ... Ethernet(4*(@n-1))
 * in the caller's network namespace.
 * @n: number of ports
 * @where: the namespace, for the message ("this namespace", "namespace X")
 *
 * Return: a calloc'ed array of @n ifindexes, or NULL after printing which
 * netdev is missing.
 */
int *pcd_ports_ifindex(int n, const char *where);

/**
 * pcd_nl_open_netns() - pcd_nl_open() in the namespace /run/netns/@name, and
 * pcd_ports_ifindex() there; the calling thread is back in its own namespace
 * on return.
 * @name: a namespace made by `ip netns add`
 * @n: number of ports
 * @ifindex: receives the ports' ifindexes in that namespace
 *
 * Return: the socket, or NULL after printing what failed.
 */
struct mnl_socket *pcd_nl_open_netns(const char *name, int n, int **ifindex);

/**
 * pcd_nl_put_change() - append one RTM_NEWLINK to @buf at @off.
 * @buf: message buffer
 * @off: where the message starts; advanced past it
 * @seq: sequence number
 * @ifindex: link to change
 * @up: 1 admin up (or MTU 9100 with @mtu), 0 admin down (MTU 1500)
 * @mtu: change the MTU rather than IFF_UP
 * @ack: ask for an acknowledgement
 *
 * The caller leaves room for one message (256 bytes) after @off.
 */
void pcd_nl_put_change(char *buf, size_t *off, unsigned seq, int ifindex, int up, int mtu, int ack);

/**
 * pcd_nl_read_acks() - read replies on @nl until @want acks arrived.
 * @nl: the socket the requests went out on
 * @want: acknowledgements to wait for
 *
 * Return: the number of requests the kernel refused (a non-zero error in an
 * ack), or -1 if the socket failed.
 */
int pcd_nl_read_acks(struct mnl_socket *nl, int want);

/**
 * pcd_redis_open() - connect to the unix socket @sock and SELECT @db; exits
 * the program with a message naming the socket on failure (a bench has no use
 * for a Redis it cannot reach).
 */
redisContext *pcd_redis_open(const char *sock, int db);

/**
 * pcd_notify_port() - the port number in a keyspace notification for
 * STATE_DB PORT_TABLE|EthernetN.
 * @rep: a reply read from a PSUBSCRIBE connection
 *
 * Return: N, or -1 if @rep is anything else (subscription confirmations,
 * other keys).
 */
int pcd_notify_port(const redisReply *rep);

/**
 * pcd_sub_discard() - read and discard what is waiting on @sub without
 * blocking. Return: bytes discarded. The connection is unusable afterwards
 * (a reply may have been cut): closed-loop phases use a connection of their own.
 */
size_t pcd_sub_discard(redisContext *sub);

#endif
