"""An honest CPython client, timed: connects with the key, sends b"ping", expects it back.

usage: timed_echo_client.py ADDRESS KEY
  ADDRESS   unix:/path | unix:@name | tcp:host:port
  KEY       hex bytes of the authkey
Prints "elapsed: SECONDS" (from just before Client() to the echo's arrival), then "OK".
"""
import sys
import time
import traceback
from multiprocessing.connection import Client


def parse(text):
    if text.startswith("unix:@"):
        return "\0" + text[6:]
    if text.startswith("unix:"):
        return text[5:]
    host, port = text[4:].rsplit(":", 1)
    return (host, int(port))


def main():
    address, key = parse(sys.argv[1]), bytes.fromhex(sys.argv[2])
    start = time.monotonic()
    with Client(address, authkey=key) as conn:
        conn.send_bytes(b"ping")
        back = conn.recv_bytes()
        elapsed = time.monotonic() - start
    assert back == b"ping", back
    print("elapsed: %.6f" % elapsed)
    print("OK")


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc(file=sys.stdout)
        sys.exit(1)
