#!/usr/bin/python3
"""tests/exporter/h2client.py - HTTP/2 clients for the exporter tests, built on
python3-h2 over TLS 1.3 with a client certificate: one that reports the server's
SETTINGS, one that opens more streams than the server allows, and an attacker
that opens streams and never grants them a flow-control window.

Usage: h2client.py COMMAND PORT PKI [ARGS...]; prints one line saying what it saw
and exits 0 when it could run the exchange (the shell test judges the figures).
"""
import os
import selectors
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

SC = h2.settings.SettingCodes


def tls_connect(port, pki, who="client"):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.minimum_version = ssl.TLSVersion.TLSv1_3
    c.load_verify_locations(os.path.join(pki, "ca.crt"))
    c.load_cert_chain(os.path.join(pki, who + ".crt"), os.path.join(pki, who + ".key"))
    c.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("::1", port), timeout=15)
    s = c.wrap_socket(raw, server_hostname="localhost")
    if s.selected_alpn_protocol() != "h2":
        raise RuntimeError("server did not select h2 (ALPN %r)" % s.selected_alpn_protocol())
    return s


def h2_start(sock, window=None):
    """Sends the connection preface; @window, if given, is the
    SETTINGS_INITIAL_WINDOW_SIZE of the client's first SETTINGS frame."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                header_encoding="utf-8"))
    if window is not None:
        conn.local_settings = h2.settings.Settings(
            client=True, initial_values={SC.INITIAL_WINDOW_SIZE: window})
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return conn


def get(conn, path="/metrics"):
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"),
                            (":authority", "localhost"), (":path", path)], end_stream=True)
    return sid


def cmd_settings(port, pki):
    """Prints the settings of the server's SETTINGS frame(s) as received."""
    s = tls_connect(port, pki)
    conn = h2_start(s)
    got = {}
    end = time.time() + 10
    while time.time() < end and SC.MAX_CONCURRENT_STREAMS not in got:
        data = s.recv(65536)
        if not data:
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                for code, cs in ev.changed_settings.items():
                    got[code] = cs.new_value
        s.sendall(conn.data_to_send())
    print("settings: max_concurrent_streams=%s initial_window_size=%s" %
          (got.get(SC.MAX_CONCURRENT_STREAMS, "absent"), got.get(SC.INITIAL_WINDOW_SIZE, "absent")))
    s.close()
    return 0


def cmd_burst(port, pki, n):
    """Opens @n /metrics streams at once, before the server's SETTINGS can have
    arrived, and reports how each ended: ok (200 and a body), refused
    (RST_STREAM REFUSED_STREAM) or other."""
    s = tls_connect(port, pki)
    conn = h2_start(s)
    sids = [get(conn) for _ in range(int(n))]
    s.sendall(conn.data_to_send())
    status, body, done = {}, {}, {}
    end = time.time() + 15
    while time.time() < end and len(done) < len(sids):
        data = s.recv(65536)
        if not data:
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                status[ev.stream_id] = dict(ev.headers).get(":status")
            elif isinstance(ev, h2.events.DataReceived):
                body[ev.stream_id] = body.get(ev.stream_id, 0) + len(ev.data)
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                done[ev.stream_id] = "ok" if status.get(ev.stream_id) == "200" and \
                    body.get(ev.stream_id, 0) > 0 else "status-%s" % status.get(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                done[ev.stream_id] = "refused" if ev.error_code == h2.errors.ErrorCodes.REFUSED_STREAM \
                    else "reset-%s" % ev.error_code
        s.sendall(conn.data_to_send())
    counts = {}
    for sid in sids:
        k = done.get(sid, "unanswered")
        counts[k] = counts.get(k, 0) + 1
    print("burst: %d streams: %s" % (len(sids), " ".join("%s=%d" % kv for kv in sorted(counts.items()))))
    s.close()
    return 0


def cmd_paced(port, pki, nstreams, seconds):
    """@nstreams /metrics streams on one connection that take their response at
    a steady pace: 32 KiB of window per stream every 20 ms, the way a client on
    a slow link takes data. Prints "paced: receiving" once every stream has
    data, then how much each got by the end (@seconds or the last byte)."""
    nstreams, seconds = int(nstreams), float(seconds)
    grant = 32768
    s = tls_connect(port, pki)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                header_encoding="utf-8"))
    conn.local_settings = h2.settings.Settings(client=True,
                                               initial_values={SC.INITIAL_WINDOW_SIZE: grant})
    conn.initiate_connection()
    conn.increment_flow_control_window(1 << 30)  # the connection window is not the limit
    sids = [get(conn) for _ in range(nstreams)]
    s.sendall(conn.data_to_send())
    s.settimeout(0.02)
    got = {sid: 0 for sid in sids}
    ended = set()
    announced = False
    end = time.time() + seconds
    next_grant = time.time() + 0.02
    while time.time() < end and len(ended) < len(sids):
        try:
            data = s.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.DataReceived):
                    got[ev.stream_id] += len(ev.data)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    ended.add(ev.stream_id)
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        if not announced and all(got[sid] > 0 for sid in sids):
            print("paced: receiving on %d streams" % len(sids), flush=True)
            announced = True
        if time.time() >= next_grant:
            next_grant += 0.02
            for sid in sids:
                if sid not in ended:
                    conn.increment_flow_control_window(grant, sid)
        out = conn.data_to_send()
        if out:
            s.sendall(out)
    print("paced: %s bytes, %d of %d streams ended" %
          ("/".join(str(got[sid]) for sid in sids), len(ended), len(sids)))
    s.close()
    return 0


class Stalled:
    """One attacker connection: SETTINGS_INITIAL_WINDOW_SIZE 0, @streams /metrics
    requests, and never a WINDOW_UPDATE. It keeps reading (SETTINGS, PING, HEADERS
    are answered by h2 as a real client would), so only flow control is frozen."""

    def __init__(self, port, pki, streams):
        self.sock = tls_connect(port, pki)
        self.conn = h2_start(self.sock, window=0)
        for _ in range(streams):
            get(self.conn)
        self.sock.sendall(self.conn.data_to_send())
        self.sock.setblocking(False)
        self.headers = 0
        self.data = 0

    def pump(self):
        """Returns False once the server closed the connection."""
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLWantReadError, BlockingIOError):
            return True
        except (OSError, ssl.SSLError):
            return False
        if not data:
            return False
        try:
            for ev in self.conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    self.headers += 1
                elif isinstance(ev, h2.events.DataReceived):
                    self.data += len(ev.data)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    return False
            out = self.conn.data_to_send()
            if out:
                self.sock.sendall(out)
        except (h2.exceptions.ProtocolError, OSError, ssl.SSLError):
            return False
        return True


def cmd_stall(port, pki, nconn, streams, seconds):
    """@nconn Stalled connections of @streams streams each, for @seconds; a
    connection the server closes is replaced at once, as a determined attacker
    would. Prints how many were opened and closed by the server."""
    nconn, streams, seconds = int(nconn), int(streams), float(seconds)
    sel = selectors.DefaultSelector()
    opened = closed = headers = data = failed = 0
    end = time.time() + seconds

    def add():
        nonlocal opened, failed
        try:
            a = Stalled(port, pki, streams)
        except (OSError, ssl.SSLError, RuntimeError):
            failed += 1
            return
        opened += 1
        sel.register(a.sock, selectors.EVENT_READ, a)

    for _ in range(nconn):
        add()
    print("stall: %d connections x %d streams open, window 0" % (opened, streams), flush=True)
    while time.time() < end:
        for key, _ in sel.select(timeout=0.1):
            a = key.data
            if not a.pump():
                closed += 1
                headers += a.headers
                data += a.data
                sel.unregister(a.sock)
                a.sock.close()
                if time.time() < end:
                    add()
    for key in list(sel.get_map().values()):
        headers += key.data.headers
        data += key.data.data
        key.data.sock.close()
    print("stall: opened=%d closed_by_server=%d connect_failures=%d responses_started=%d data_bytes=%d"
          % (opened, closed, failed, headers, data))
    return 0


def main():
    cmd, port, pki, args = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    return {"settings": cmd_settings, "burst": cmd_burst, "stall": cmd_stall,
            "paced": cmd_paced}[cmd](port, pki, *args)


if __name__ == "__main__":
    sys.exit(main())
