"""Hostile clients of `jpipe serve --codec pickle --echo`, one connection each, one after another.

usage: hostile_client.py unix:/path
Each scenario prints "NAME: OUTCOME SECONDS", where OUTCOME is "echoed" (the server sent the
message back, byte for byte) or "closed" (the server closed the connection). A scenario waits for
the server's answer before the next one connects, so the server numbers the connections in this
order. The last line is "OK".
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from multiprocessing.connection import Client
from multiprocessing.reduction import ForkingPickler

ADDRESS = sys.argv[1][len("unix:"):]


def answer(conn, sent):
    """The server's answer: its echo (which must be what was sent) or end of file."""
    try:
        back = conn.recv_bytes()
    except (EOFError, OSError):
        return "closed"
    assert back == sent, "the echo differs from the message"
    return "echoed"


def framed(payload):
    """One message on a multiprocessing connection."""
    conn = Client(ADDRESS)
    try:
        conn.send_bytes(payload)
        return answer(conn, payload)
    finally:
        conn.close()


def raw(data):
    """Bytes on a raw socket, then wait for the server to close it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(ADDRESS)
    try:
        s.sendall(data)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
        return "closed"
    finally:
        s.close()


def self_reference():
    x = []
    x.append(x)
    return framed(bytes(ForkingPickler.dumps(x)))


def nested():
    # 100,000 lists, each inside the one before: CPython cannot even pickle this itself
    n = 100_000
    return framed(b"\x80\x04" + b"]" * n + b"a" * (n - 1) + b".")


def billion_laughs():
    # 40 levels of a list holding the level below twice: 2**40 leaves by sharing, 300 bytes
    parts = [b"\x80\x04", b"K\x01"]
    for i in range(40):
        parts.append(b"q" + bytes([i]) + b"(h" + bytes([i]) + b"h" + bytes([i]) + b"l")
    parts.append(b".")
    return framed(b"".join(parts))


def huge_int():
    return framed(bytes(ForkingPickler.dumps(1 << (2 * 1024 * 1024 * 8))))  # 2 MiB of digits


def garbage():
    return framed(b"\x80\x04this is not a pickle")


def lying_length():
    return raw(struct.pack("!i", 1 << 30) + b"only a few bytes")


def lying_long_length():
    return raw(struct.pack("!i", -1) + struct.pack("!Q", 1 << 40) + b"x")


def negative_length():
    return raw(struct.pack("!i", -5) + b"x")


def killed_mid_message():
    child = (
        "import os, signal, socket, struct, sys\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "s.connect(sys.argv[1])\n"
        "s.sendall(struct.pack('!i', 1000) + b'x' * 10)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    code = subprocess.run([sys.executable, "-c", child, ADDRESS]).returncode
    assert code == -signal.SIGKILL, code
    return "killed"


def honest():
    return framed(bytes(ForkingPickler.dumps({"a": [1, 2.5]})))


SCENARIOS = [
    ("self-reference", self_reference),
    ("nested", nested),
    ("billion-laughs", billion_laughs),
    ("huge-int", huge_int),
    ("garbage", garbage),
    ("lying-length", lying_length),
    ("lying-long-length", lying_long_length),
    ("negative-length", negative_length),
    ("killed-mid-message", killed_mid_message),
    ("honest", honest),
]

if __name__ == "__main__":
    for name, scenario in SCENARIOS:
        start = time.monotonic()
        outcome = scenario()
        print("%s: %s %.3f" % (name, outcome, time.monotonic() - start), flush=True)
    print("OK")
