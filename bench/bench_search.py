"""Searching runs by params, metrics and tags, and the cost of a run as the store grows,
side by side with MLflow (issue: scale).

Two measurements:

- **search**: a store of N runs, each with 20 params, 10 metrics and 2 tags (N = 10,000 and
  100,000 in the full run), is generated once per tool and size: lineal's with its bulk import (``import_lineage``),
  MLflow's by inserting the same rows into the tables of MLflow's own SQLite schema (created by
  MLflow itself), since logging 100,000 runs through MLflow's client would take hours. Each tool
  then answers the same searches in a fresh worker process: the first page (100 runs), filtered
  and sorted, with every run's params, metrics and tags, as objects. lineal through
  ``lineal.search_runs``, MLflow through ``MlflowClient.search_runs``. Each search runs twice
  untimed (once if its first call took more than a fifth of the time budget), then repeatedly.
- **write curve**: the cost of one run with 20 params and 5 metrics (started, logged, ended,
  through each tool's SDK, capture off) on stores that already hold 0, 10,000, 100,000 and
  1,000,000 runs (each prefilled the way its search store is built). The prefilled runs carry
  5 params and 2 metrics each, which is what makes their tables and indexes grow.

    python bench/bench_search.py --json out.json [--quick] [--tiny] [--lineal-only]
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    Report,
    Table,
    Target,
    arguments,
    fmt_seconds,
    progress,
    run_worker,
    scratch_dir,
    sync_disks,
)

SCRIPT = Path(__file__).resolve()
PARAMS, METRICS = 20, 10
PREFILL_PARAMS, PREFILL_METRICS = 5, 2
TEAMS = ("ml", "data", "infra", "research")
BASE_US = 1_700_000_000_000_000

# (name, lineal filter, lineal order, MLflow filter, MLflow order). The data makes each filter
# select a few percent of the runs, so the first page is full and the sort matters.
QUERIES: list[tuple[str, str, list[str], str, list[str]]] = [
    ("metric and param, by metric",
     "metrics.m0 > 0.9 and params.p1 = 'v3'", ["metrics.m1 DESC"],
     "metrics.m0 > 0.9 and params.p1 = 'v3'", ["metrics.m1 DESC"]),
    ("tag and status, newest first",
     "tags.team = 'ml' and attributes.status = 'finished'", ["attributes.start_time DESC"],
     "tags.team = 'ml' and attributes.status = 'FINISHED'", ["attributes.start_time DESC"]),
    ("param LIKE, by metric",
     "params.p0 LIKE 'a1%'", ["metrics.m2 ASC"],
     "params.p0 LIKE 'a1%'", ["metrics.m2 ASC"]),
    ("no filter, newest first", "", ["attributes.start_time DESC"],
     "", ["attributes.start_time DESC"]),
]


# ============================================================================================
# Data: the same runs for both tools, generated from the run's index.
# ============================================================================================
def run_data(i: int, params: int, metrics: int) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    rng = random.Random(i)
    p = {"p0": f"a{rng.randrange(100)}", "p1": f"v{rng.randrange(10)}"}
    p.update({f"p{k}": str(rng.randrange(1000)) for k in range(2, params)})
    m = {f"m{k}": rng.random() for k in range(metrics)}
    tags = {"team": TEAMS[i % len(TEAMS)], "source": "bench"}
    return p, m, tags


def status_of(i: int) -> str:
    return "failed" if i % 17 == 0 else "finished"


# ============================================================================================
# Workers
# ============================================================================================
def build_lineal(folder: Path, n: int, params: int, metrics: int) -> dict[str, Any]:
    from lineal.store import open_store
    from lineal.store.lineage_base import ImportBatch, ImportRun

    store = open_store(folder / "lineal")
    start = time.perf_counter()
    chunk = 5000
    for first in range(0, n, chunk):
        runs = []
        for i in range(first, min(n, first + chunk)):
            p, m, tags = run_data(i, params, metrics)
            runs.append(ImportRun(key=f"r{i}", project="default", name=f"run-{i}", kind="train",
                                  status=status_of(i), started_at_us=BASE_US + i * 1_000_000,
                                  ended_at_us=BASE_US + i * 1_000_000 + 500_000,
                                  params=p, metrics=m, tags=tags))
        store.metadata.import_lineage(ImportBatch(runs=runs), "bench")
        progress(f"lineal: {min(n, first + chunk):,} of {n:,} runs")
    store.close()
    return {"seconds": time.perf_counter() - start, "runs": n}


def build_mlflow(folder: Path, n: int, params: int, metrics: int) -> dict[str, Any]:
    """MLflow's schema is created by MLflow (``SqlAlchemyStore``); the rows are then inserted
    with sqlite3 in MLflow's own column layout, which is what its server would have written."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("bench", artifact_location=str(folder / "mlruns"))
    del client
    start = time.perf_counter()
    db = sqlite3.connect(folder / "mlflow.db")
    cols = {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")]
            for t in ("runs", "params", "metrics", "latest_metrics", "tags")}
    chunk = 5000
    for first in range(0, n, chunk):
        rows: dict[str, list[dict[str, Any]]] = {t: [] for t in cols}
        for i in range(first, min(n, first + chunk)):
            p, m, tags = run_data(i, params, metrics)
            rid = uuid.UUID(int=i + 1).hex
            started = (BASE_US + i * 1_000_000) // 1000
            rows["runs"].append({
                "run_uuid": rid, "name": f"run-{i}", "source_type": "LOCAL", "source_name": "",
                "entry_point_name": "", "user_id": "bench", "status": status_of(i).upper(),
                "start_time": started, "end_time": started + 500, "source_version": "",
                "lifecycle_stage": "active", "artifact_uri": str(folder / "mlruns" / rid),
                "experiment_id": int(experiment), "deleted_time": None})
            rows["params"] += [{"key": k, "value": v, "run_uuid": rid} for k, v in p.items()]
            for k, v in m.items():
                point = {"key": k, "value": v, "timestamp": started, "run_uuid": rid, "step": 0,
                         "is_nan": False}
                rows["metrics"].append(point)
                rows["latest_metrics"].append(point)
            rows["tags"] += [{"key": k, "value": v, "run_uuid": rid} for k, v in tags.items()]
            rows["tags"].append({"key": "mlflow.runName", "value": f"run-{i}", "run_uuid": rid})
        for table, items in rows.items():
            names = [c for c in cols[table] if c in items[0]]
            db.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                [tuple(item[c] for c in names) for item in items])
        db.commit()
        progress(f"mlflow: {min(n, first + chunk):,} of {n:,} runs")
    db.close()
    return {"seconds": time.perf_counter() - start, "runs": n, "experiment": experiment}


def _sample(call: Any, count: int, budget: float) -> tuple[list[float], int]:
    start = time.perf_counter()
    first = call()
    if time.perf_counter() - start < budget / 5:
        call()
    times: list[float] = []
    spent = 0.0
    while len(times) < count and (spent < budget or len(times) < 5):
        start = time.perf_counter()
        got = call()
        elapsed = time.perf_counter() - start
        if got != first:
            raise SystemExit(f"the same search returned {got} runs, then {first}")
        times.append(elapsed)
        spent += elapsed
    return times, first


def search_lineal(folder: Path, count: int, budget: float) -> dict[str, Any]:
    import lineal
    from lineal.store import open_store

    store = open_store(folder / "lineal")
    lineal.store.set_default_store(store)
    out: dict[str, Any] = {}
    for name, flt, order, _mf, _mo in QUERIES:
        def call(flt: str = flt, order: list[str] = order) -> int:
            page = lineal.search_runs(filter=flt, order_by=order, limit=100)
            # Touch what a caller reads, as MLflow's Run objects carry it too.
            return sum(1 for run in page.runs if run.params is not None)
        times, found = _sample(call, count, budget)
        out[name] = {"times": times, "found": found}
    return out


def search_mlflow(folder: Path, experiment: str, count: int, budget: float) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    out: dict[str, Any] = {}
    for name, _lf, _lo, flt, order in QUERIES:
        def call(flt: str = flt, order: list[str] = order) -> int:
            runs = client.search_runs([experiment], filter_string=flt, order_by=order,
                                      max_results=100)
            return sum(1 for run in runs if run.data.params is not None)
        times, found = _sample(call, count, budget)
        out[name] = {"times": times, "found": found}
    return out


def write_lineal(folder: Path, runs: int) -> dict[str, Any]:
    import lineal
    from lineal.store import open_store

    store = open_store(folder / "lineal")
    lineal.store.set_default_store(store)
    params = {f"p{k}": k for k in range(20)}
    times = []
    for i in range(runs):
        start = time.perf_counter()
        with lineal.run(f"w{i}", kind="train", params=params, capture=False) as run:
            run.log_metrics({f"m{k}": k / 10 for k in range(5)})
        times.append(time.perf_counter() - start)
    return {"times": times}


def write_mlflow(folder: Path, runs: int) -> dict[str, Any]:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    mlflow.set_experiment("bench")
    params = {f"p{k}": k for k in range(20)}
    times = []
    for i in range(runs):
        start = time.perf_counter()
        with mlflow.start_run(run_name=f"w{i}"):
            mlflow.log_params(params)
            mlflow.log_metrics({f"m{k}": k / 10 for k in range(5)})
        times.append(time.perf_counter() - start)
    return {"times": times}


def worker_main(argv: list[str]) -> None:
    case, folder = argv[0], Path(argv[1])
    args = [int(a) if a.isdigit() else a for a in argv[2:]]
    if case == "build-lineal":
        result = build_lineal(folder, *args)
    elif case == "build-mlflow":
        result = build_mlflow(folder, *args)
    elif case == "search-lineal":
        result = search_lineal(folder, args[0], float(args[1]))
    elif case == "search-mlflow":
        result = search_mlflow(folder, str(args[0]), args[1], float(args[2]))
    elif case == "write-lineal":
        result = write_lineal(folder, args[0])
    elif case == "write-mlflow":
        result = write_mlflow(folder, args[0])
    else:
        raise SystemExit(f"unknown worker case {case!r}")
    print(json.dumps(result))


# ============================================================================================
# The orchestrating half
# ============================================================================================
def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _search_size(root: Path, search_n: int, tools: list[str], repeat: int, count: int,
                 budget: float, worker: Any, report: Report, loads: list[float],
                 largest: bool) -> dict[str, dict[str, list[float]]]:
    """Build both stores of ``search_n`` runs, time the searches, add their table (and, for the
    largest size, the targets) to ``report``; return the samples."""
    built: dict[str, dict[str, Any]] = {}
    for tool in tools:
        folder = root / f"search-{tool}-{search_n}"
        folder.mkdir()
        progress(f"building the {tool} store: {search_n:,} runs x {PARAMS} params x {METRICS} metrics")
        built[tool] = worker(f"build-{tool}", folder, search_n, PARAMS, METRICS, stream=True)
    samples: dict[str, dict[str, list[float]]] = {t: {} for t in tools}
    found: dict[str, dict[str, int]] = {t: {} for t in tools}
    for index in range(repeat):
        order = tools[index % len(tools):] + tools[:index % len(tools)]
        for tool in order:
            sync_disks()
            loads.append(os.getloadavg()[0])
            folder = root / f"search-{tool}-{search_n}"
            progress(f"searching {tool} ({search_n:,} runs), repeat {index + 1} of {repeat}")
            if tool == "lineal":
                got = worker("search-lineal", folder, count, budget)
            else:
                got = worker("search-mlflow", folder, built[tool]["experiment"], count, budget)
            for name, value in got.items():
                samples[tool].setdefault(name, []).extend(value["times"])
                found[tool][name] = value["found"]
    columns = ["search (first page of 100)", "runs found", "lineal p50", "lineal p99"]
    if "mlflow" in tools:
        columns += ["MLflow p50", "MLflow p99", "lineal faster by (p50)"]
    table = Table(f"Search over {search_n:,} runs (20 params, 10 metrics, 2 tags each)", columns)
    worst_ratio: float | None = None
    worst_p50 = 0.0
    for name, *_rest in QUERIES:
        mine = samples["lineal"][name]
        row = [name, f"{found['lineal'][name]}", fmt_seconds(_pct(mine, 0.5)),
               fmt_seconds(_pct(mine, 0.99))]
        worst_p50 = max(worst_p50, _pct(mine, 0.5))
        if "mlflow" in tools:
            theirs = samples["mlflow"][name]
            speedup = _pct(theirs, 0.5) / _pct(mine, 0.5)
            worst_ratio = speedup if worst_ratio is None else min(worst_ratio, speedup)
            row += [fmt_seconds(_pct(theirs, 0.5)), fmt_seconds(_pct(theirs, 0.99)), f"{speedup:,.1f}x"]
            if found["mlflow"][name] != found["lineal"][name]:
                row[1] += f" (MLflow {found['mlflow'][name]})"
        table.rows.append(row)
    table.notes.append(
        "Store build: " + ", ".join(f"{t} {fmt_seconds(built[t]['seconds'])}" for t in tools)
        + " (lineal through its bulk import; MLflow by direct inserts into its schema).")
    table.notes.append(
        "Samples per search: " + ", ".join(
            f"{t} {min(len(v) for v in samples[t].values())}-{max(len(v) for v in samples[t].values())}"
            for t in tools) + f" over {repeat} repeats.")
    table.notes.append(
        "Durability (as built; searches only read): lineal's SQLite in WAL mode with "
        "synchronous=FULL (its default); MLflow's SQLite with SQLAlchemy's default "
        "(rollback journal, synchronous=FULL).")
    report.tables.append(table)
    if largest:
        report.targets.append(Target(f"filtered and sorted first page, {search_n:,} runs, p50 < 50 ms",
                                     fmt_seconds(worst_p50) + " (slowest search)", worst_p50 < 0.050))
        if worst_ratio is not None:
            report.targets.append(Target("at least 10x faster than MLflow's search_runs",
                                         f"{worst_ratio:,.1f}x (slowest ratio)", worst_ratio >= 10))
    return samples


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0], argv)
    if args.tiny:
        sizes, curve, per_point, count, budget = [300], [0, 300], 20, 10, 2.0
    elif args.quick:
        sizes, curve, per_point, count, budget = [1_000, 10_000], [0, 10_000], 50, 30, 5.0
    else:
        sizes, curve, per_point, count, budget = ([10_000, 100_000],
                                                  [0, 10_000, 100_000, 1_000_000], 200, 50, 15.0)
    repeat = args.repeat or (1 if args.tiny else 3)
    tools = ["lineal"] if args.lineal_only else ["lineal", "mlflow"]

    def worker(*items: Any, stream: bool = False) -> dict[str, Any]:
        return run_worker(args.python, SCRIPT, ["worker", *map(str, items)],
                          stream=stream, timeout=7200)

    report = Report(name="search", title="Search runs and write cost as the store grows",
                    method=METHOD, quick=args.quick or args.tiny, repeat=repeat)
    with scratch_dir("search-") as root:
        # -- search -----------------------------------------------------------------------
        samples: dict[str, dict[str, dict[str, list[float]]]] = {}
        loads: list[float] = []
        for search_n in sizes:
            samples[str(search_n)] = _search_size(root, search_n, tools, repeat, count, budget,
                                                  worker, report, loads, search_n == sizes[-1])
        report.tables[-1].notes.append(
            f"1-minute load average before each search worker: median {statistics.median(loads):.1f},"
            f" max {max(loads):.1f} on {os.cpu_count()} cores (the machine is shared).")
        # -- write curve -----------------------------------------------------------------
        curve_rows: dict[str, dict[int, float]] = {t: {} for t in tools}
        for size in curve:
            for tool in tools:
                folder = root / f"curve-{tool}-{size}"
                folder.mkdir()
                if size:
                    progress(f"prefilling {tool} with {size:,} runs")
                    worker(f"build-{tool}", folder, size, PREFILL_PARAMS, PREFILL_METRICS, stream=True)
                elif tool == "mlflow":
                    worker("build-mlflow", folder, 0, PREFILL_PARAMS, PREFILL_METRICS)
                times: list[float] = []
                for _ in range(repeat):
                    sync_disks()
                    times += worker(f"write-{tool}", folder, per_point)["times"]
                curve_rows[tool][size] = _pct(times, 0.5)
                shutil.rmtree(folder, ignore_errors=True)
        columns = ["runs already in the store", "lineal per run (p50)", "vs empty"]
        if "mlflow" in tools:
            columns += ["MLflow per run (p50)", "vs empty", "lineal faster by"]
        curve_table = Table("Cost of one run (20 params, 5 metrics) as the store grows", columns)
        for size in curve:
            mine = curve_rows["lineal"][size]
            row = [f"{size:,}", fmt_seconds(mine), f"{mine / curve_rows['lineal'][0]:.2f}x"]
            if "mlflow" in tools:
                theirs = curve_rows["mlflow"][size]
                row += [fmt_seconds(theirs), f"{theirs / curve_rows['mlflow'][0]:.2f}x",
                        f"{theirs / mine:,.1f}x"]
            curve_table.rows.append(row)
        curve_table.notes.append(
            "Durability: lineal's SQLite runs with its default (synchronous=FULL in WAL mode, each "
            "acknowledged write survives power loss); MLflow's SQLite store with SQLAlchemy's "
            "default (synchronous=FULL, rollback journal).")
        report.tables.append(curve_table)
        largest = curve[-1]
        growth = curve_rows["lineal"][largest] / curve_rows["lineal"][0]
        report.targets.append(Target(f"per-run cost at {largest:,} runs within 1.5x of the empty store",
                                     f"{growth:.2f}x", growth <= 1.5))
    report.raw = {"samples": samples, "curve": curve_rows}
    report.write(args.json)
    return 0


METHOD = __doc__.split("\n\n", 1)[1].split("\n    python", 1)[0].strip()

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_main(sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
