"""Sustained metric logging through the SDK, and the latency of one ``log_metric`` call.

    PYTHONPATH=src python bench/sdk_stream.py [--points 1000000] [--keys 1] [--store DIR]

Logs ``--points`` points with ``run.log_metric`` in one loop (keys taken in turn, explicit
steps), then ``run.flush()``; the clock covers the loop and the flush (not run start or end),
so the rate is what a training loop sees while the store keeps up. Each call is timed on its
own with ``perf_counter_ns`` (about 0.1 us of overhead each): the report gives p50, p99, p99.9
and the slowest call. The load average before and after is printed because the machine may be
shared: compare runs made in the same conditions. A standalone script, not a test, and not one
of `make bench`'s (whose case (a) in bench_tracking.py logs the same loop beside MLflow).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from array import array
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=1)
    parser.add_argument("--store", type=Path, default=None, help="a fresh folder (default: temp)")
    parser.add_argument("--no-call-timing", action="store_true",
                        help="do not time each call (the loop of bench_tracking.py case (a))")
    args = parser.parse_args()

    import lineal
    from lineal.store import open_store

    folder = args.store or Path(tempfile.mkdtemp(prefix="lineal-stream-"))
    store = open_store(folder / "lineal")
    keys = [f"metric_{k}" for k in range(args.keys)]
    n = args.points
    calls = array("q", bytes(8 * n))
    load_before = os.getloadavg()
    clock = time.perf_counter_ns
    with lineal.run("stream", capture=False, store=store) as run:
        log = run.log_metric
        cpu_started = time.process_time()
        started = clock()
        if args.no_call_timing:
            key = keys[0]
            for i in range(n):
                log(key, 1.0 / (i + 1), i)
        else:
            for i in range(n):
                t0 = clock()
                log(keys[i % len(keys)], 1.0 / (i + 1), i)
                calls[i] = clock() - t0
        loop_done = clock()
        run.flush()
        flushed = clock()
        cpu = time.process_time() - cpu_started
    load_after = os.getloadavg()
    ordered = sorted(calls)

    def pct(p: float) -> float:
        return ordered[min(n - 1, int(p * n))] / 1000

    total_s = (flushed - started) / 1e9
    print(f"lineal {lineal.__file__}")
    print(f"points {n:,} keys {args.keys}")
    print(f"sustained {n / total_s:,.0f} points/s (loop {(loop_done - started) / 1e9:.2f} s "
          f"+ flush {(flushed - loop_done) / 1e9:.2f} s); process CPU {cpu / n * 1e6:.2f} us "
          "per point (all threads: less sensitive to a noisy machine than the rate)")
    if not args.no_call_timing:
        print(f"log_metric call: p50 {pct(0.5):.1f} us  p99 {pct(0.99):.1f} us  "
              f"p99.9 {pct(0.999):.1f} us  max {ordered[-1] / 1000:.0f} us")
    print(f"load average before {load_before[0]:.2f} after {load_after[0]:.2f}")


if __name__ == "__main__":
    main()
