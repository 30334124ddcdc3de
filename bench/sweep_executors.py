"""Throughput of ``paba.Sweep.run`` on each executor against the chunk size, and the overhead of
one task (docs/sweeps.md section 3).

    python bench/sweep_executors.py [--seeds 16] [--iterations 200] [--chunks 1,2,4,8,16,32]

Sweep: workers 10, 20, 50 x bandwidth 5, 10, 20 MHz x seeds, schemes equal and joint, Rayleigh
fading. Executors: serial; a process pool of 1 and 2 processes ("spawn"); a Dask LocalCluster
of 1 and 2 single-threaded worker processes on loopback. Each executor is started and warmed up
(one task that imports paba) before it is timed; every table is checked against the serial one
(without the solve-time column) before its time counts. Prints (cell, seed) units per second
against the chunk size, and two overheads per task: an empty task's (400 ``submit(abs, 0)``
submitted at once and awaited, divided by 400) and a sweep task's (the time that chunks of one
unit add over the largest chunks, per extra task).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import logging
import math
import multiprocessing
import time

import paba
from paba.studies.sweep import TIMING_COLUMNS


def _overhead(executor, n: int = 400) -> float:
    started = time.perf_counter()
    futures = [executor.submit(abs, 0) for _ in range(n)]
    cf.wait(futures)
    return (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--chunks", default="1,2,4,8,16,32")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    args = parser.parse_args()
    chunks = [int(c) for c in args.chunks.split(",")]
    sweep = paba.Sweep({"n_workers": [10, 20, 50], "bandwidth": [5e6, 10e6, 20e6]},
                       seeds=range(args.seeds), schemes=["joint"], iterations=args.iterations)
    units = len(sweep.units())
    reference = sweep.run("serial").drop(columns=list(TIMING_COLUMNS))

    from distributed import Client, LocalCluster

    def process_pool(n):
        pool = cf.ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))
        return pool, pool.shutdown

    def dask(n):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               silence_logs=logging.ERROR)
        client = Client(cluster)

        def close():
            client.close()
            cluster.close()
        return client.get_executor(), close

    makers = [("serial", lambda: (paba.studies.sweep.SerialExecutor(), lambda: None)),
              ("process pool, 1", lambda: process_pool(1)),
              ("process pool, 2", lambda: process_pool(2)),
              ("dask, 1 worker", lambda: dask(1)),
              ("dask, 2 workers", lambda: dask(2))]
    print(f"{units} (cell, seed) units x {len(sweep.schemes)} schemes, {args.iterations} "
          f"iterations, K in 10..50; units per second, best of {args.repeat} rounds (each "
          "round times every executor and chunk size in turn, so that a busy spell of the "
          "machine does not fall on one executor only)")
    executors, closers = {}, []
    try:
        for name, make in makers:
            executor, close = make()
            closers.append(close)
            tiny = paba.Sweep({"n_workers": [4]}, schemes=["joint"], iterations=5)
            for _ in range(4):
                tiny.run(executor, chunk_size=1)  # start and warm every worker
            executors[name] = executor
        best = {(name, chunk): float("inf") for name in executors for chunk in chunks}
        overhead = {name: float("inf") for name in executors}
        for _ in range(args.repeat):
            for name, executor in executors.items():
                overhead[name] = min(overhead[name], _overhead(executor))
                for chunk in chunks:
                    started = time.perf_counter()
                    table = sweep.run(executor, chunk_size=chunk, progress=False)
                    elapsed = time.perf_counter() - started
                    if not table.drop(columns=list(TIMING_COLUMNS)).equals(reference):
                        raise AssertionError(f"{name}, chunk {chunk}: a different table")
                    best[(name, chunk)] = min(best[(name, chunk)], elapsed)
    finally:
        for close in closers:
            close()
    print(f"{'executor':<18}{'empty task':>12}{'sweep task':>12}"
          + "".join(f"{'chunk ' + str(c):>10}" for c in chunks))
    for name in executors:
        # Overhead per task in the sweep: the time chunks of one unit add over the largest
        # chunks, per extra task.
        tasks = {c: math.ceil(units / c) for c in chunks}
        first, last = chunks[0], chunks[-1]
        per_task = (best[(name, first)] - best[(name, last)]) / (tasks[first] - tasks[last])
        print(f"{name:<18}{overhead[name] * 1e3:>9.2f} ms{per_task * 1e3:>9.2f} ms"
              + "".join(f"{units / best[(name, c)]:>10.0f}" for c in chunks))


if __name__ == "__main__":
    main()
