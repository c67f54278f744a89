"""Split a delimited protobuf body (varint length, message, ...) as Prometheus reads it.

As a program, `delimited.py BODY OUT` writes BODY as one `Families` message (stream.proto):
a 0x0A tag before each length, so that `protoc --decode=Families` reads the whole body.
"""
import sys


def messages(data):
    """Yield each message of a delimited body; exit naming what Prometheus 2.42 would refuse."""
    pos = 0
    while pos < len(data):
        n = shift = 0
        start = pos
        while True:
            if pos >= len(data):
                sys.exit("a length runs past the end of the body")
            b = data[pos]
            n |= (b & 0x7F) << shift
            pos += 1
            shift += 7
            if b < 0x80:
                break
        if pos - start > 5:
            sys.exit("a length of more than 5 bytes: Prometheus 2.42 refuses it")
        if pos + n > len(data):
            sys.exit("a family runs past the end of the body")
        yield data[start:pos], data[pos:pos + n]
        pos += n


if __name__ == "__main__":
    body = open(sys.argv[1], "rb").read()
    with open(sys.argv[2], "wb") as out:
        for length, msg in messages(body):
            out.write(b"\x0a" + length + msg)
