"""Sustained metric logging through the SDK, and what one ``log_metric`` call costs the loop
while the writer works (issue: scale, 3), lineal beside MLflow.

Each measurement is a fresh interpreter of the bench virtualenv on a fresh store (capture off).
lineal logs N points with ``run.log_metric`` in one loop (explicit steps), then ``run.flush()``;
the clock covers the loop and the flush, not run start or end, so the rate is what a training
loop sees while the store keeps up, and every point is durable when the clock stops (the flush
waits for the background writer's commits). Every call is timed on its own with
``perf_counter_ns`` (about 0.1 µs of overhead each) and the tables give its p50, p99, p99.9 and
the slowest call. Afterwards the worker reads the metric history back and fails if a point is
missing. MLflow logs the same loop with ``mlflow.log_metric``, both as it does by default (one
write per call) and with ``synchronous=False`` (its background logging), on fewer points: its
rate, not its count, is compared. Both sides on SQLite with full sync (lineal: WAL,
``synchronous=FULL``; MLflow: SQLAlchemy's default, rollback journal, ``synchronous=FULL``).
The tools alternate between repeats; the tables give medians (min–max).

    python bench/bench_stream.py --json out.json [--quick] [--tiny] [--repeat N] [--lineal-only]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from array import array
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    Report,
    Table,
    Target,
    alternate,
    arguments,
    fmt_rate,
    fmt_seconds,
    progress,
    run_worker,
    scratch_dir,
)

SIZES = {  # points per process: lineal, MLflow one write per call, MLflow background logging
    "full": {"lineal": 1_000_000, "mlflow-loop": 1_000, "mlflow-async": 2_000},
    "quick": {"lineal": 200_000, "mlflow-loop": 300, "mlflow-async": 500},
    "tiny": {"lineal": 5_000, "mlflow-loop": 50, "mlflow-async": 200},
}
LABELS = {
    "lineal": "lineal `run.log_metric` (background writer)",
    "mlflow-loop": "MLflow `mlflow.log_metric` (one write per call)",
    "mlflow-async": "MLflow `mlflow.log_metric(..., synchronous=False)`",
}
RATE_TARGET = 150_000
P999_TARGET_S = 1e-3


def _percentiles(calls: array, n: int) -> dict[str, float]:
    ordered = sorted(calls)
    return {f"p{label}": ordered[min(n - 1, int(q * n))] / 1e9
            for label, q in (("50", 0.5), ("99", 0.99), ("99.9", 0.999))} | {"max": ordered[-1] / 1e9}


def worker(tool: str, n: int, folder: Path) -> dict[str, Any]:
    """Log ``n`` points and time each call; check every point is stored."""
    calls = array("q", bytes(8 * n))
    clock = time.perf_counter_ns
    if tool == "lineal":
        import lineal
        from lineal.api import metric_history
        from lineal.store import open_store, set_default_store

        store = open_store(folder / "lineal")
        with lineal.run("stream", capture=False, store=store) as run:
            log = run.log_metric
            cpu = time.process_time()
            started = clock()
            for i in range(n):
                t0 = clock()
                log("loss", 1.0 / (i + 1), i)
                calls[i] = clock() - t0
            run.flush()
            stopped = clock()
            cpu = time.process_time() - cpu
        set_default_store(store)
        stored = len(metric_history(run.id, "loss"))
    else:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
        import mlflow
        from mlflow.tracking import MlflowClient

        mlflow.set_experiment("stream")
        synchronous = tool == "mlflow-loop"
        with mlflow.start_run() as active:
            log_mlflow = mlflow.log_metric
            cpu = time.process_time()
            started = clock()
            for i in range(n):
                t0 = clock()
                log_mlflow("loss", 1.0 / (i + 1), step=i, synchronous=synchronous)
                calls[i] = clock() - t0
            if not synchronous:
                mlflow.flush_async_logging()  # MLflow's counterpart of run.flush()
            stopped = clock()
            cpu = time.process_time() - cpu
        stored = len(MlflowClient().get_metric_history(active.info.run_id, "loss"))
    if stored != n:
        raise SystemExit(f"{tool}: {stored} points stored, {n} logged")
    seconds = (stopped - started) / 1e9
    return {"tool": tool, "n": n, "seconds": seconds, "rate": n / seconds,
            "cpu_per_point": cpu / n, **_percentiles(calls, n)}


def _spread(values: list[float], fmt: Any) -> str:
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "worker":
        import argparse
        import json

        parser = argparse.ArgumentParser()
        parser.add_argument("worker")
        parser.add_argument("tool", choices=sorted(LABELS))
        parser.add_argument("--n", type=int, required=True)
        parser.add_argument("--dir", type=Path, required=True)
        args = parser.parse_args()
        print(json.dumps(worker(args.tool, args.n, args.dir)))
        return 0
    args = arguments(__doc__.splitlines()[0], argv)
    size = "tiny" if args.tiny else "quick" if args.quick else "full"
    points = SIZES[size]
    repeat = args.repeat or (1 if args.tiny else 3)
    tools = ["lineal"] if args.lineal_only else list(LABELS)
    report = Report(name="stream", title="Sustained logging through the SDK",
                    method=METHOD, quick=size != "full", repeat=repeat)
    samples: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
    loads: list[float] = []
    for index, tool in alternate(tools, repeat):
        loads.append(os.getloadavg()[0])
        progress(f"repeat {index + 1}/{repeat}: {tool}, {points[tool]:,} points")
        with scratch_dir(f"stream-{tool}-") as folder:
            samples[tool].append(run_worker(
                args.python, Path(__file__).resolve(),
                ["worker", tool, "--n", str(points[tool]), "--dir", str(folder)],
                env={"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                     "GIT_PYTHON_REFRESH": "quiet"}))
    rate = {tool: statistics.median(s["rate"] for s in runs) for tool, runs in samples.items()}
    table = Table("Metric points per second, one process",
                  ["client", "points", "points/s", "CPU per point", "lineal is x faster"])
    calls = Table("One `log_metric` call, while the writer works",
                  ["client", "p50", "p99", "p99.9", "slowest"])
    for tool, runs in samples.items():
        faster = "" if tool == "lineal" else f"{rate['lineal'] / rate[tool]:,.0f}x"
        table.rows.append([LABELS[tool], f"{points[tool]:,}",
                           _spread([s["rate"] for s in runs], lambda v: fmt_rate(v, "points")),
                           fmt_seconds(statistics.median(s["cpu_per_point"] for s in runs)), faster])
        calls.rows.append([LABELS[tool], *(fmt_seconds(statistics.median(s[key] for s in runs))
                                           for key in ("p50", "p99", "p99.9", "max"))])
    table.notes.append("Durability: lineal's SQLite in WAL mode with synchronous=FULL, every point "
                       "durable when the clock stops (flush); MLflow's SQLite with SQLAlchemy's "
                       "defaults (rollback journal, synchronous=FULL); its background logging is "
                       "flushed before the clock stops.")
    calls.notes.append(f"Per call: the median over repeats of each percentile. 1-minute load average "
                       f"before each measurement: median {statistics.median(loads):.1f}, max "
                       f"{max(loads):.1f} on {os.cpu_count()} cores (the machine may be shared).")
    report.tables += [table, calls]
    lineal_p999 = statistics.median(s["p99.9"] for s in samples["lineal"])
    full = size == "full"
    report.targets.append(Target(f"≥ {RATE_TARGET:,} points/s sustained (1,000,000 points, flush included)",
                                 fmt_rate(rate["lineal"], "points"),
                                 rate["lineal"] >= RATE_TARGET if full else None))
    report.targets.append(Target("p99.9 `log_metric` call < 1 ms while the writer works",
                                 fmt_seconds(lineal_p999), lineal_p999 < P999_TARGET_S if full else None))
    report.raw = {"samples": samples, "loads": loads}
    if not args.lineal_only:
        from bench_tracking import _versions

        report.versions = _versions(args.python)
    report.write(args.json)
    return 0


METHOD = __doc__.split("\n\n", 1)[1].split("\n    python", 1)[0].strip()

if __name__ == "__main__":
    sys.exit(main())
