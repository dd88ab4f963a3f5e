"""A CPython peer for jpipe's interoperability tests.

usage: cpython_peer.py ROLE ADDRESS KEY SCENARIO
  ROLE      listen | connect
  ADDRESS   unix:/path | unix:@name | tcp:host:port   (for listen, port 0 picks one)
  KEY       hex bytes of the authkey, "empty" for b'', or "none" for no authentication
  SCENARIO  echo-bytes   echo byte messages until b'STOP', then send generated messages
            echo-objects echo objects until the string 'STOP'
            expect-auth-failure   the handshake must fail with AuthenticationError
            client-bytes   send byte messages, expect each echoed (prints "sent: repr")
            client-objects send objects, expect each echoed (prints "sent: repr")
            print-bytes N  receive N byte messages, print "got: repr" for each
            print-objects N  receive N objects, print "got: repr" for each
A listener prints its address (in jpipe's text form) on the first line of stdout.
The last line is "OK" on success; anything else is a failure (exit status 1).
"""
import hashlib
import sys
import traceback
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Listener


def parse(text):
    if text.startswith("unix:@"):
        return "\0" + text[6:]
    if text.startswith("unix:"):
        return text[5:]
    if text.startswith("tcp:"):
        host, port = text[4:].rsplit(":", 1)
        return (host, int(port))
    raise ValueError(text)


def show(address):
    if isinstance(address, tuple):
        return "tcp:%s:%d" % address
    if isinstance(address, bytes):
        address = address.decode()
    if address.startswith("\0"):
        return "unix:@" + address[1:]
    return "unix:" + address


def generated(size, seed):
    block = hashlib.sha256(b"%d/%d" % (seed, size)).digest()
    return (block * (size // len(block) + 1))[:size]


SIZES = [0, 1, 16384, 16385, 1 << 20, 16 << 20]


def echo_bytes(conn):
    while True:
        msg = conn.recv_bytes()
        if msg == b"STOP":
            break
        conn.send_bytes(msg)
    for i, size in enumerate(SIZES):
        conn.send_bytes(generated(size, i))
    conn.send_bytes(b"DONE")


def echo_objects(conn):
    while True:
        obj = conn.recv()
        if obj == "STOP":
            break
        conn.send(obj)


BYTES = [b"hello", b"\xff\x00", b"", "\u00fcn\u00ef".encode("utf-8")]
OBJECTS = [{"a": [1, 2.5, None, True, b"xy", (1, 2)]}, "text", 12345678901234567890, {3}, None]


def client_bytes(conn):
    for m in BYTES:
        conn.send_bytes(m)
        back = conn.recv_bytes()
        assert back == m, (back, m)
        print("sent: %r" % (m,))


def client_objects(conn):
    for o in OBJECTS:
        conn.send(o)
        back = conn.recv()
        assert back == o and type(back) is type(o), (back, o)
        print("sent: %r" % (o,))


def printer(receive):
    def run(conn):
        for _ in range(int(sys.argv[5])):
            print("got: %r" % (receive(conn),), flush=True)
    return run


def main():
    role, address, key, scenario = sys.argv[1:5]
    authkey = None if key == "none" else b"" if key == "empty" else bytes.fromhex(key)
    try:
        if role == "listen":
            with Listener(parse(address), authkey=authkey) as listener:
                print(show(listener.address), flush=True)
                conn = listener.accept()
        else:
            conn = Client(parse(address), authkey=authkey)
    except AuthenticationError as e:
        if scenario == "expect-auth-failure":
            print("OK")
            return 0
        raise
    if scenario == "expect-auth-failure":
        print("authenticated, but a failure was expected")
        return 1
    with conn:
        {
            "echo-bytes": echo_bytes,
            "echo-objects": echo_objects,
            "client-bytes": client_bytes,
            "client-objects": client_objects,
            "print-bytes": printer(lambda c: c.recv_bytes()),
            "print-objects": printer(lambda c: c.recv()),
        }[scenario](conn)
    print("OK")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        traceback.print_exc(file=sys.stdout)
        sys.exit(1)
