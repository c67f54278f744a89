#!/usr/bin/python3
"""tests/exporter/pyclient.py - small TLS 1.3 mTLS clients the exporter tests need
beyond curl: a keep-alive connection that survives a reload, slowloris and
connection-flood attackers, a reader that never reads its response, and the
OpenMetrics parser check.

Usage: pyclient.py COMMAND PORT PKI [ARGS...]; exit 0 when the behaviour seen
is the one the command expects, 1 otherwise, with one line saying what it saw.
"""
import os
import socket
import ssl
import sys
import time


def ctx(pki, who="client"):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.minimum_version = ssl.TLSVersion.TLSv1_3
    c.load_verify_locations(os.path.join(pki, "ca.crt"))
    c.load_cert_chain(os.path.join(pki, who + ".crt"), os.path.join(pki, who + ".key"))
    c.set_alpn_protocols(["http/1.1"])
    return c


def connect(port, pki, who="client", rcvbuf=None):
    raw = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    if rcvbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.settimeout(15)
    raw.connect(("::1", port))
    return ctx(pki, who).wrap_socket(raw, server_hostname="localhost")


def get(s, path="/metrics", keep=True):
    """One HTTP/1.1 request on @s; returns (status, headers, body)."""
    s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n"
               % (path, "" if keep else "Connection: close\r\n")).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before headers")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    n = int(hdrs.get("content-length", "0"))
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside body")
        body += chunk
    return status, hdrs, body


def peer_serial(s):
    der = s.getpeercert(binary_form=True)
    import subprocess
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"],
                         input=der, capture_output=True).stdout.decode()
    return out.strip().split("=", 1)[1]


def cmd_keepalive(port, pki, ready_file, go_file, out_file):
    """Opens one connection, scrapes, records the server serial, waits for
    @go_file, then scrapes again on the same connection."""
    s = connect(port, pki)
    st1, _, _ = get(s, "/-/healthy")
    serial = peer_serial(s)
    open(ready_file, "w").write(serial)
    deadline = time.time() + 30
    while not os.path.exists(go_file) and time.time() < deadline:
        time.sleep(0.05)
    st2, _, body = get(s, "/metrics")
    open(out_file, "w").write("%d %d %s\n" % (st1, st2, serial))
    s.close()
    return 0 if st1 == 200 and st2 == 200 and len(body) > 0 else 1


def cmd_serial(port, pki):
    s = connect(port, pki)
    print(peer_serial(s))
    s.close()
    return 0


def cmd_slowloris(port, pki, n, seconds):
    """@n connections that complete the handshake and one request, then trickle
    the next request's headers a byte at a time; reports how many the server
    closed within @seconds."""
    socks = []
    for _ in range(int(n)):
        s = connect(port, pki)
        get(s, "/-/healthy")
        s.settimeout(0.01)
        socks.append(s)
    print("slowloris: %d connections established" % len(socks), flush=True)
    line = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 100000
    end = time.time() + float(seconds)
    i = 0
    closed = set()
    while time.time() < end and len(closed) < len(socks):
        for k, s in enumerate(socks):
            if k in closed:
                continue
            try:
                s.send(line[i:i + 1])
                try:
                    if s.recv(1) == b"":
                        closed.add(k)
                except (socket.timeout, ssl.SSLWantReadError):
                    pass
            except (OSError, ssl.SSLError):
                closed.add(k)
        i += 1
        time.sleep(0.2)
    print("slowloris: %d of %d connections closed by the server" % (len(closed), len(socks)))
    return 0 if len(closed) == len(socks) else 1


def cmd_hold(port, pki, n, seconds, mode):
    """@n raw TCP connections (mode tcp: no TLS bytes; mode hello: half a
    ClientHello) held for @seconds; prints how many the server closed."""
    socks = []
    for _ in range(int(n)):
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            s.connect(("::1", port))
        except OSError:
            s.close()
            continue
        if mode == "hello":
            s.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        s.setblocking(False)
        socks.append(s)
    end = time.time() + float(seconds)
    closed = set()
    while time.time() < end:
        for k, s in enumerate(socks):
            if k in closed:
                continue
            try:
                if s.recv(4096) == b"":
                    closed.add(k)
            except BlockingIOError:
                pass
            except OSError:
                closed.add(k)
        time.sleep(0.1)
    print("hold: %d of %d connections closed by the server" % (len(closed), len(socks)))
    for s in socks:
        s.close()
    return 0


def cmd_stall(port, pki, n, seconds):
    """@n connections each request /metrics and never read the response, so
    their requests stay in flight; holds them for @seconds."""
    socks = []
    for _ in range(int(n)):
        s = connect(port, pki, rcvbuf=4096)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        socks.append(s)
    print("stall: %d requests sent, not reading" % len(socks), flush=True)
    time.sleep(float(seconds))
    for s in socks:
        s.close()
    return 0


def cmd_nonreader(port, pki, n, period, seconds):
    """@n connections (4 KB receive buffer) each send GET /metrics and never
    read; every @period seconds all of them are replaced by new ones, as an
    attacker would once the server gives up on them, until @seconds."""
    n, period, seconds = int(n), float(period), float(seconds)
    end = time.time() + seconds
    sent = rounds = failed = 0
    while time.time() < end:
        socks = []
        for _ in range(n):
            try:
                s = connect(port, pki, rcvbuf=4096)
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
                socks.append(s)
                sent += 1
            except (OSError, ssl.SSLError):
                failed += 1
        rounds += 1
        if rounds == 1:
            print("nonreader: %d requests sent, not reading" % len(socks), flush=True)
        time.sleep(max(0.0, min(period, end - time.time())))
        for s in socks:
            s.close()
    print("nonreader: %d rounds, %d requests sent, %d connections failed" % (rounds, sent, failed))
    return 0


def cmd_idle(port, pki, limit):
    """Handshakes, sends nothing; prints after how long the server closed."""
    s = connect(port, pki)
    t = time.time()
    s.settimeout(float(limit))
    try:
        r = s.recv(1)
    except (socket.timeout, ssl.SSLError, OSError) as e:
        r = repr(e).encode()
    took = time.time() - t
    print("idle: server closed after %.1f s (%r)" % (took, r))
    return 0 if r in (b"",) or b"EOF" in r or b"Reset" in r else 1


def cmd_keepidle(port, pki, pause):
    """One request, @pause seconds of silence, a second request on the same connection."""
    s = connect(port, pki)
    st1 = get(s, "/-/healthy")[0]
    time.sleep(float(pause))
    st2 = get(s, "/-/healthy")[0]
    print("keepidle: %d then %d after %s s idle" % (st1, st2, pause))
    return 0 if st1 == st2 == 200 else 1


def cmd_openmetrics(path):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
    fams = {f.name: f for f in text_string_to_metric_families(open(path).read())}
    need = ["portsyncd_exporter_scrapes", "portsyncd_exporter_writer_up",
            "portsyncd_exporter_scrape_duration_seconds", "process_cpu_seconds"]
    missing = [n for n in need if n not in fams]
    if missing:
        print("missing families:", missing)
        return 1
    assert fams["portsyncd_exporter_scrape_duration_seconds"].unit == "seconds"
    assert fams["portsyncd_exporter_scrapes"].type == "counter"
    print("OpenMetrics parser accepted %d families" % len(fams))
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "openmetrics":
        return cmd_openmetrics(sys.argv[2])
    port, pki, args = int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    return {"keepalive": cmd_keepalive, "serial": cmd_serial, "slowloris": cmd_slowloris,
            "hold": cmd_hold, "stall": cmd_stall, "nonreader": cmd_nonreader, "idle": cmd_idle,
            "keepidle": cmd_keepidle}[cmd](port, pki, *args)


if __name__ == "__main__":
    sys.exit(main())
