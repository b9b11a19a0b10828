"""Datasets benchmark: lineal.datasets.describe() on a large mixed pandas frame, and MLflow.

    python bench/bench_datasets.py --json bench/results/datasets.json [--quick] [--repeat N]
                                   [--rows N] [--python PATH]

Issue "datasets and models", section 4: digest + schema + profile of a DataFrame of 10 million
rows and 20 mixed columns: time, throughput in MB of frame memory per second, peak memory; and
``mlflow.data.from_pandas`` on the same frame. Targets: at least 250 MB/s, and peak extra
memory under half the frame's size.

The frame has 20 columns: integers (unique ids, small ranges, int32, nullable Int64), floats
(normal, uniform, log-normal, float32, with NaN, rounded prices), strings (5, 50 with nulls and
1,000 distinct values, a pandas Categorical, unique ids), booleans, and timestamps (naive, and
UTC with NaT).

Each measurement kind runs in its own fresh worker process (this file, ``worker KIND ROWS
REPEAT``) that builds the frame, then times REPEAT calls. Throughput is frame memory (pandas
``memory_usage(deep=True).sum()``) per second of wall time. Peak extra memory is the growth of
the worker's resident set during one call (the kernel's high-water mark, VmHWM, reset before
the call by writing 5 to /proc/self/clear_refs; where that is not allowed, /proc/self/statm
sampled every millisecond) or of the bytes allocated from Arrow's memory pool (sampled every
millisecond), whichever is larger. tracemalloc would miss Arrow's allocations. The
orchestrating half uses only the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402  (the bench folder is not a package)
    Report,
    Table,
    Target,
    arguments,
    fmt_bytes,
    fmt_seconds,
    median,
    progress,
    run_worker,
    spread,
)

SCRIPT = Path(__file__).resolve()
KINDS = ("describe", "digest+schema", "mlflow.from_pandas")
FULL_ROWS = 10_000_000
QUICK_ROWS = 200_000
TINY_ROWS = 2_000
TARGET_MB_S = 250.0
TARGET_EXTRA = 0.5


# -- the measured side (runs in the workers) ----------------------------------------------------
def make_frame(rows: int, seed: int = 0) -> Any:
    """The benchmark frame: 20 mixed columns, deterministic for a seed."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)

    def strings(vocabulary: list[str], null_fraction: float = 0.0) -> Any:
        picks = pa.array(rng.integers(0, len(vocabulary), rows))
        values = pc.take(pa.array(vocabulary, pa.large_string()), picks)
        if null_fraction:
            values = pc.if_else(pa.array(rng.random(rows) < null_fraction), None, values)
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([values])))

    ids = pc.binary_join_element_wise(
        "user_", pc.cast(pa.array(np.arange(rows)), pa.string()), ""
    ).cast(pa.large_string())
    with_nan = rng.normal(0, 1, rows)
    with_nan[rng.random(rows) < 0.05] = np.nan
    nullable = pd.array(rng.integers(0, 1000, rows), dtype="Int64")
    nullable[rng.random(rows) < 0.05] = pd.NA
    ts_utc = pd.Series(
        pd.to_datetime(1_600_000_000 + rng.integers(0, 10**8, rows), unit="s", utc=True)
    ).astype("datetime64[ns, UTC]")
    ts_utc[rng.random(rows) < 0.02] = pd.NaT
    frame = pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "age": rng.integers(0, 100, rows),
            "visits": rng.poisson(3, rows).astype(np.int32),
            "quantity": nullable,
            "score": rng.normal(0, 1, rows),
            "ratio": rng.random(rows),
            "income": rng.lognormal(10, 1, rows),
            "weight": rng.normal(70, 15, rows).astype(np.float32),
            "signal": with_nan,
            "price": np.round(rng.random(rows) * 1000, 2),
            "country": strings(["fr", "de", "us", "jp", "br"]),
            "city": strings([f"city_{i}" for i in range(1000)]),
            "plan": pd.Categorical.from_codes(rng.integers(0, 20, rows), [f"plan_{i}" for i in range(20)]),
            "device": strings([f"device_{i}" for i in range(50)], null_fraction=0.1),
            "user_id": pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([ids]))),
            "active": rng.random(rows) < 0.7,
            "churned": rng.random(rows) < 0.1,
            "created": pd.to_datetime(1_500_000_000 + rng.integers(0, 10**8, rows), unit="s").astype(
                "datetime64[ns]"
            ),
            "updated": ts_utc,
            "label": rng.integers(0, 2, rows),
        }
    )
    assert frame.shape[1] == 20
    return frame


class PeakRSS:
    """Peak memory growth during a block: the resident set (VmHWM, or sampled) and, sampled
    every millisecond, the bytes allocated from Arrow's memory pool.

    Both are needed: Arrow's allocator keeps freed memory for reuse, so a call that allocates
    and frees hundreds of megabytes inside memory the process already holds (from building
    the frame) barely moves the resident set; numpy's buffers come from malloc and only show
    in the resident set.
    """

    def __init__(self) -> None:
        self.method = "VmHWM reset via /proc/self/clear_refs"
        self.baseline = 0
        self.peak = 0
        self.arrow_baseline = 0
        self.arrow_peak = 0
        self._sample_rss = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _status(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"{field} missing from /proc/self/status")

    @staticmethod
    def _statm_rss() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    @staticmethod
    def _arrow_allocated() -> int:
        pyarrow = sys.modules.get("pyarrow")
        return int(pyarrow.total_allocated_bytes()) if pyarrow is not None else 0

    def __enter__(self) -> PeakRSS:
        self.baseline = self._status("VmRSS")
        self.arrow_baseline = self.arrow_peak = self._arrow_allocated()
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.method = "sampling /proc/self/statm every 1 ms"
            self.peak = self.baseline
            self._sample_rss = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            if self._sample_rss:
                self.peak = max(self.peak, self._statm_rss())
            self.arrow_peak = max(self.arrow_peak, self._arrow_allocated())
            time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if not self._sample_rss:
            self.peak = self._status("VmHWM")

    @property
    def rss_extra(self) -> int:
        return max(0, self.peak - self.baseline)

    @property
    def arrow_extra(self) -> int:
        return max(0, self.arrow_peak - self.arrow_baseline)

    @property
    def extra(self) -> int:
        """The larger of the two growths (they overlap, so not their sum)."""
        return max(self.rss_extra, self.arrow_extra)


def worker(kind: str, rows: int, repeat: int) -> dict[str, Any]:
    """Build the frame and time ``repeat`` runs of one kind (in its own process)."""
    import gc

    frame = make_frame(rows)
    frame_bytes = int(frame.memory_usage(deep=True).sum())
    versions: dict[str, str] = {}
    if kind == "mlflow.from_pandas":
        try:
            import mlflow.data
        except ImportError:
            return {"kind": kind, "skipped": "mlflow is not installed in this interpreter"}
        import mlflow

        versions["mlflow"] = mlflow.__version__

        def call() -> str:
            return str(mlflow.data.from_pandas(frame).digest)
    else:
        import pyarrow

        import lineal
        from lineal.datasets import describe

        versions.update(lineal=lineal.__version__, pyarrow=pyarrow.__version__)
        profile = kind == "describe"

        def call() -> str:
            return describe(frame, profile=profile).digest

    import numpy
    import pandas

    versions.update(pandas=pandas.__version__, numpy=numpy.__version__)
    gc.collect()
    samples = []
    digests = []
    method = ""
    for _ in range(repeat):
        load = os.getloadavg()[0]
        with PeakRSS() as peak:
            cpu, wall = time.process_time(), time.perf_counter()
            digests.append(call())
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        method = peak.method
        samples.append({"seconds": wall, "cpu_seconds": cpu, "peak_extra_bytes": peak.extra,
                        "rss_extra_bytes": peak.rss_extra, "arrow_extra_bytes": peak.arrow_extra,
                        "load": load})
        gc.collect()
    return {
        "kind": kind,
        "rows": rows,
        "frame_bytes": frame_bytes,
        "samples": samples,
        "memory_method": method,
        "digest": digests[0],
        "digest_stable": len(set(digests)) == 1,
        "versions": versions,
    }


# -- the orchestrating side ---------------------------------------------------------------------
METHOD = """\
`describe(frame)` computes the content digest over every row and column, the schema, and the
profile (per column: missing values, distinct count, min, max, mean, std, quantiles, top values).
`describe(frame, profile=False)` is the digest and schema alone. `mlflow.data.from_pandas(frame)`
builds MLflow's dataset record (its digest, schema and row/element counts). Each kind runs in
a fresh worker process of the bench virtualenv that builds the frame first, untimed; throughput
is the frame's pandas memory (`memory_usage(deep=True)`) over the median wall time, and peak
extra memory is the growth of the worker's memory during one call (resident set or Arrow's
allocations, whichever is larger; see the notes). CPU time is the worker's, all threads.
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        kind, rows, repeat = argv[1], int(argv[2]), int(argv[3])
        print(json.dumps(worker(kind, rows, repeat)))
        return 0

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--rows", type=int, default=None,
                            help=f"frame rows (default {FULL_ROWS:,}; {QUICK_ROWS:,} with --quick)")
        parser.add_argument("--kinds", default=",".join(KINDS),
                            help="comma-separated subset of: " + ", ".join(KINDS))

    args = arguments(__doc__.splitlines()[0], argv, configure)
    rows = args.rows or (TINY_ROWS if args.tiny else QUICK_ROWS if args.quick else FULL_ROWS)
    repeat = args.repeat or (1 if args.tiny else 3)
    kinds = args.kinds.split(",")
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise SystemExit(f"unknown kind {', '.join(unknown)}; choose from {', '.join(KINDS)}")
    if args.lineal_only:
        kinds = [kind for kind in kinds if not kind.startswith("mlflow")]
    results: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        # MLflow's from_pandas maps type() over every cell of the frame (see the notes): one
        # call at full size takes long enough that a single repeat is the fair use of the time.
        times = 1 if kind == "mlflow.from_pandas" and rows >= FULL_ROWS else repeat
        progress(f"{kind}: {rows:,} rows x {times}")
        results[kind] = run_worker(args.python, SCRIPT, ["worker", kind, str(rows), str(times)],
                                   timeout=4 * 3600)
    report = Report(name="datasets", title="Datasets: describe() a 20-column frame, and MLflow",
                    method=METHOD, quick=args.quick or args.tiny, repeat=repeat)
    table = Table(
        title=f"{rows:,} rows x 20 columns",
        columns=["measurement", "wall time, median (min–max)", "CPU time", "MB/s of frame",
                 "peak extra memory", "extra / frame"],
    )
    rates: dict[str, float] = {}
    extras: dict[str, float] = {}
    frame_bytes = 0
    for kind, result in results.items():
        if "skipped" in result:
            table.rows.append([kind, f"skipped: {result['skipped']}", "", "", "", ""])
            continue
        samples = result["samples"]
        frame_bytes = result["frame_bytes"]
        wall = median([s["seconds"] for s in samples])
        extra = median([s["peak_extra_bytes"] for s in samples])
        rates[kind] = frame_bytes / 1e6 / wall
        extras[kind] = extra / frame_bytes
        table.rows.append([
            kind, spread(samples, "seconds"), fmt_seconds(median([s["cpu_seconds"] for s in samples])),
            f"{rates[kind]:,.0f}", fmt_bytes(extra), f"{extras[kind]:.2f}",
        ])
        report.versions.update(result.get("versions", {}))
        if not result["digest_stable"]:
            table.notes.append(f"{kind}: the digest changed between repeats")
    if frame_bytes:
        table.notes.append(f"Frame memory: {fmt_bytes(frame_bytes)} (pandas, deep).")
    table.notes.append(
        "MLflow's digest covers only the first 10,000 rows (`MAX_ROWS` in "
        "`mlflow/data/digest_utils.py`) of the string and numeric columns, and its profile is "
        "the row and element counts; describe() hashes every row of every column and profiles "
        "each column. Identical rows after the first 10,000 changed do not change MLflow's digest."
    )
    if "describe" in rates:
        report.targets.append(Target(f"describe() ≥ {TARGET_MB_S:.0f} MB/s of frame memory",
                                     f"{rates['describe']:,.0f} MB/s",
                                     rates["describe"] >= TARGET_MB_S))
        report.targets.append(Target(f"peak extra memory < {TARGET_EXTRA:.0%} of the frame",
                                     f"{extras['describe']:.0%} of the frame",
                                     extras["describe"] < TARGET_EXTRA))
    loads = [s["load"] for r in results.values() for s in r.get("samples", [])]
    if loads:
        report.notes.append(
            f"1-minute load average before each call: median {median(loads):.1f}, max "
            f"{max(loads):.1f} on {os.cpu_count()} cores. describe() uses one thread per core; "
            "when other work runs, wall time exceeds CPU time / cores."
        )
    methods = {r["memory_method"] for r in results.values() if "memory_method" in r}
    if methods:
        report.notes.append(
            f"Peak extra memory: the larger of the resident-set growth ({', '.join(sorted(methods))}) "
            "and the growth of bytes allocated from Arrow's memory pool (sampled every 1 ms), "
            "because Arrow reuses memory it already holds without growing the resident set."
        )
    report.tables = [table]
    report.raw = results
    report.write(args.json)
    progress(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
