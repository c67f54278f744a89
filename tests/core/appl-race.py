#!/usr/bin/env python3
"""appl-race.py SOCKET LAG PORT... : for each port, as close together as one
process can: HSET APPL_DB PORT_TABLE:<port> (waiting for Redis's reply), then
at once an RTM_NEWLINK taking the netdev admin down (waiting for the kernel's
ack). Run inside the namespace. The link event follows the APPL_DB entry by
microseconds; LAG HSETs of other PORT_TABLE keys (Lag0..Lag99), pipelined just
before, give portsyncd's view that many notifications to read before the
port's, so the event often reaches portsyncd's writer before the view knows
the port: the write must not be lost for it."""
import socket
import struct
import sys

IFF_UP = 0x1
RTM_NEWLINK = 16
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def main():
    path, lag, ports = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    r = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    r.connect(path)
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    nl.bind((0, 0))
    index = {p: socket.if_nametoindex(p) for p in ports}
    for seq, p in enumerate(ports, 1):
        burst = b"".join(resp("HSET", f"PORT_TABLE:Lag{i % 100}", "n", str(seq)) for i in range(lag))
        r.sendall(burst + resp("HSET", "PORT_TABLE:" + p, "admin_status", "up", "mtu", "9100"))
        got = b""
        while got.count(b"\r\n") < lag + 1:
            chunk = r.recv(65536)
            if not chunk:
                raise SystemExit("redis closed the connection")
            got += chunk
        last = got.rstrip(b"\r\n").split(b"\r\n")[-1]
        if not last.startswith(b":"):
            raise SystemExit(f"HSET PORT_TABLE:{p}: {last!r}, expected an integer reply")
        body = struct.pack("=BxHiII", 0, 0, index[p], 0, IFF_UP)
        hdr = struct.pack("=IHHII", 16 + len(body), RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, 0)
        nl.send(hdr + body)
        ack = nl.recv(4096)
        err = struct.unpack_from("=i", ack, 16)[0]
        if err != 0:
            raise SystemExit(f"RTM_NEWLINK {p} down: error {err}, expected 0")
    print("done", len(ports), flush=True)


main()
