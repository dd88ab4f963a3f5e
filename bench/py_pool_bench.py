"""CPython's process pools on the workload that `jpipe bench` measures for a pool of child JVMs.

Workload: 2 workers; 10,000 tasks, each squaring an int and returning it; results checked.
  pool_tasks_per_s          tasks submitted one at a time (ProcessPoolExecutor.submit, chunk 1)
  pool_map_tasks_per_s      multiprocessing.Pool.map(square, range(10000), chunksize=100)
  pool_start_ms             a new pool (spawn, CPython's portable default) to its first result
  pool_start_forkserver_ms  the same with the forkserver start method (Linux default from 3.14)
Prints one JSON line. Median of 3 runs each.
(jpipe's copy of shared/bench/py_pool_bench.py, unchanged)
"""
import json, multiprocessing as mp, statistics, sys, time
from concurrent.futures import ProcessPoolExecutor

N = 10_000

def square(x):
    return x * x

def submit_rate(ctx):
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        ex.submit(square, 1).result()  # workers up
        t = time.perf_counter()
        futs = [ex.submit(square, i) for i in range(N)]
        total = sum(f.result() for f in futs)
        dt = time.perf_counter() - t
    assert total == sum(i * i for i in range(N))
    return N / dt

def map_rate(ctx):
    with ctx.Pool(2) as pool:
        pool.apply(square, (1,))
        t = time.perf_counter()
        out = pool.map(square, range(N), chunksize=100)
        dt = time.perf_counter() - t
    assert out == [i * i for i in range(N)]
    return N / dt

def start_ms(ctx):
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        ex.submit(square, 3).result()
        dt = time.perf_counter() - t
    return dt * 1e3

if __name__ == "__main__":
    spawn = mp.get_context("spawn")
    fs = mp.get_context("forkserver")
    med = lambda f, c: statistics.median(f(c) for _ in range(3))
    print(json.dumps({
        "pool_tasks_per_s": round(med(submit_rate, spawn), 1),
        "pool_map_tasks_per_s": round(med(map_rate, spawn), 1),
        "pool_start_ms": round(med(start_ms, spawn), 3),
        "pool_start_forkserver_ms": round(med(start_ms, fs), 3),
        "python": sys.version.split()[0],
    }))
