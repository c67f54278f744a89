#!/usr/bin/env python3
"""slow-proxy.py LISTEN UPSTREAM FLAG: a unix-socket proxy in front of a
redis-server that holds back one client command: while the file FLAG exists,
the first chunk a client sends that holds a SCRIPT command (SCRIPT LOAD) is
forwarded only after FLAG is removed (the test removes it, or 3 s pass).
Everything else passes straight through. Prints "ready" once listening."""
import os
import socket
import sys
import threading
import time


def pump(src, dst, hold, flag):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if hold and os.path.exists(flag) and b"SCRIPT\r\n" in data:
                t0 = time.monotonic()
                while os.path.exists(flag) and time.monotonic() - t0 < 3:
                    time.sleep(0.01)
                try:
                    os.unlink(flag)
                except FileNotFoundError:
                    pass
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    listen, upstream, flag = sys.argv[1:4]
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(listen)
    ls.listen(64)
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.connect(upstream)
        threading.Thread(target=pump, args=(c, u, True, flag), daemon=True).start()
        threading.Thread(target=pump, args=(u, c, False, flag), daemon=True).start()


main()
