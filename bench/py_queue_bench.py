"""CPython's multiprocessing Queue and Event on the workload that `jpipe bench` measures.

  queue_items_per_s    64-byte bytes items, one producer process -> one consumer (the parent),
                       through multiprocessing.Queue (spawn context); 100,000 items after warm-up
  event_roundtrip_us   parent sets event A, child waits on A, clears it and sets B, parent waits
                       on B and clears it: one round trip; median over 2,000 after warm-up
Prints one JSON line. Median of 3 runs each.
(jpipe's copy of shared/bench/py_queue_bench.py, unchanged)
"""
import json, multiprocessing as mp, statistics, sys, time

N = 100_000
ITEM = b"x" * 64

def producer(q, n):
    for _ in range(n):
        q.put(ITEM)
    q.put(None)

def queue_rate(ctx):
    q = ctx.Queue()
    p = ctx.Process(target=producer, args=(q, 1000))
    p.start()
    while q.get() is not None:  # warm-up, and the child is up
        pass
    p.join()
    p = ctx.Process(target=producer, args=(q, N))
    p.start()
    first = q.get()
    t = time.perf_counter()
    got = 1
    while q.get() is not None:
        got += 1
    dt = time.perf_counter() - t
    p.join()
    assert first == ITEM and got == N
    return (N - 1) / dt

def ponger(a, b, n):
    for _ in range(n):
        a.wait(); a.clear(); b.set()

def event_rtt(ctx):
    a, b = ctx.Event(), ctx.Event()
    n, warm = 2000, 200
    p = ctx.Process(target=ponger, args=(a, b, n + warm))
    p.start()
    times = []
    for i in range(n + warm):
        t = time.perf_counter()
        a.set(); b.wait(); b.clear()
        if i >= warm:
            times.append(time.perf_counter() - t)
    p.join()
    return statistics.median(times) * 1e6

if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    med = lambda f: statistics.median(f(ctx) for _ in range(3))
    print(json.dumps({
        "queue_items_per_s": round(med(queue_rate), 1),
        "event_roundtrip_us": round(med(event_rtt), 3),
        "python": sys.version.split()[0],
    }))
