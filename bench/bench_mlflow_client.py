#!/usr/bin/env python3
"""The official MLflow client logging metrics to `lineal server` and to `mlflow server`.

    python bench/bench_mlflow_client.py --json OUT [--quick|--tiny] [--repeat N] [--python PATH]
        [--workers N]

Issue 16 asks what a team gets by pointing unchanged MLflow code at lineal: the same client
(``mlflow`` 3.17.2), the same calls, 8 concurrent client processes, once against each server on
loopback, both over SQLite files on local disk:

    mlflow-loop    ``mlflow.log_metric`` in a loop: one request per point (most training scripts)
    mlflow-batch   ``MlflowClient.log_batch`` with 1,000 points per call (its limit)

The client processes, the clock and the check that every point is stored are those of
``bench_server.py`` (its ``worker log``): each process imports and connects, then all start
together; the clock runs from the first run started to the last run ended; afterwards each
process reads its metric history back and fails if a point is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import (  # noqa: E402  (the bench folder is not a package)
    CLIENTS,
    FULL,
    QUICK,
    TINY,
    Bench,
    _versions,
    servers,
)
from common import (  # noqa: E402
    Report,
    Table,
    Target,
    arguments,
    fmt_rate,
    fmt_seconds,
    progress,
    scratch_dir,
    sync_disks,
)

MODES = {
    "mlflow-loop": ("`mlflow.log_metric` loop (one request per point)", "mlflow_loop_points"),
    "mlflow-batch": ("`MlflowClient.log_batch`, 1,000 points per call", "mlflow_batch_points"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                            help="worker processes of each server (default: the core count)")

    args = arguments(__doc__.splitlines()[0], argv, configure)
    if args.lineal_only:
        raise SystemExit("this benchmark is the MLflow client against both servers: "
                         "it has no lineal-only form")
    sizes = dict(TINY if args.tiny else QUICK if args.quick else FULL)
    repeat = args.repeat or sizes["repeat"]
    bench = Bench(args, sizes, repeat)
    report = Report(name="mlflow_client",
                    title="The MLflow client: `lineal server` vs `mlflow server`",
                    method=__doc__.split("\n\n", 2)[2], quick=args.quick or args.tiny,
                    repeat=repeat)
    samples: dict[str, list[dict[str, Any]]] = {}
    with scratch_dir("mlflow-client-") as folder, \
            servers(["lineal", "mlflow"], args.python, folder, args.workers) as running:
        tools = [f"{mode}{at}" for mode in MODES for at in ("@lineal", "")]
        for index in range(repeat):
            for tool in bench.order(tools, index):
                server = running["lineal" if tool.endswith("@lineal") else "mlflow"]
                sync_disks()
                bench.loads.append(os.getloadavg()[0])
                n = sizes[MODES[tool.split("@")[0]][1]]
                sample = bench._clients(tool, server.url, n)
                progress(f"{tool}: {sample['rate']:,.0f} points/s")
                samples.setdefault(tool, []).append(sample)
    table = Table(f"Metric points per second, {CLIENTS} concurrent MLflow client processes",
                  ["MLflow client call", "points per process", "to lineal server",
                   "to mlflow server", "lineal server is x faster"])
    targets = []
    for mode, (label, key) in MODES.items():
        ours = median(s["rate"] for s in samples[f"{mode}@lineal"])
        theirs = median(s["rate"] for s in samples[mode])
        table.rows.append([label, f"{sizes[key]:,}", fmt_rate(ours, "points"),
                           fmt_rate(theirs, "points"), f"{ours / theirs:.1f}x"])
        targets.append(Target(f"the MLflow client is not slower against lineal ({label})",
                              f"{ours / theirs:.1f}x", ours >= theirs))
    table.notes.append(
        "Durability: lineal's SQLite in WAL mode with synchronous=FULL, and each request's "
        "writes recorded with its idempotency key in the same transaction; MLflow's SQLite with "
        "its defaults (rollback journal, synchronous=FULL). Times per run: "
        + "; ".join(f"{tool} {fmt_seconds(median(s['seconds'] for s in runs))}"
                    for tool, runs in samples.items()) + ".")
    report.tables.append(table)
    report.targets = targets
    report.notes.append(
        f"Load: the 1-minute load average before each measurement was "
        f"{median(bench.loads):.1f} (median), {max(bench.loads):.1f} (max) on "
        f"{os.cpu_count()} cores.")
    report.raw = {"metrics": samples}
    report.versions = _versions(args.python, True)
    report.write(args.json)
    progress(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
