# The Python side of SharedMemoryTest. Layout of every block: an int64 flag at 0, then N values
# from byte 8. Modes:
#   create N           create a block of int64 values v[i] = i*i - 7, print "NAME <name>", wait
#                      for the flag to become 1, check v[i] == 7 - i*i (Java negated them), then
#                      close and unlink (the creator unlinks).
#   attach NAME N      attach as a well-behaved peer (no resource tracker: see attach()), check
#                      doubles v[i] == i / 2, write v[i] = 2*v[i] + 1, set the flag to 1, close.
#   attach-naive NAME  attach with the defaults and close: on 3.11/3.12 the resource tracker then
#                      unlinks the block when this process ends.
import struct
import sys
import time
from multiprocessing import resource_tracker, shared_memory


def attach(name):
    """Attach without handing the block to this process's resource tracker."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name, track=False)
    shm = shared_memory.SharedMemory(name)
    resource_tracker.unregister(shm._name, "shared_memory")
    return shm


def main():
    mode = sys.argv[1]
    if mode == "create":
        n = int(sys.argv[2])
        shm = shared_memory.SharedMemory(create=True, size=8 + 8 * n)
        try:
            for i in range(n):
                struct.pack_into("<q", shm.buf, 8 + 8 * i, i * i - 7)
            print("NAME " + shm.name, flush=True)
            deadline = time.monotonic() + 120
            while struct.unpack_from("<q", shm.buf, 0)[0] != 1:
                if time.monotonic() > deadline:
                    raise SystemExit("Java never set the flag")
                time.sleep(0.005)
            got = [struct.unpack_from("<q", shm.buf, 8 + 8 * i)[0] for i in range(n)]
            assert got == [7 - i * i for i in range(n)], got[:10]
            print("SIZE %d" % shm.size)
        finally:
            shm.close()
            shm.unlink()
    elif mode == "attach":
        name, n = sys.argv[2], int(sys.argv[3])
        shm = attach(name)
        try:
            assert shm.size >= 8 + 8 * n, shm.size
            got = [struct.unpack_from("<d", shm.buf, 8 + 8 * i)[0] for i in range(n)]
            assert got == [i / 2 for i in range(n)], got[:10]
            for i in range(n):
                struct.pack_into("<d", shm.buf, 8 + 8 * i, 2 * got[i] + 1)
            struct.pack_into("<q", shm.buf, 0, 1)
            print("SIZE %d" % shm.size)
        finally:
            shm.close()
    elif mode == "attach-naive":
        shm = shared_memory.SharedMemory(sys.argv[2])
        shm.close()
    else:
        raise SystemExit("unknown mode " + mode)
    print("OK", flush=True)


main()
