"""Several real processes writing to one store at once: no "database is locked" reaches the
caller, version numbers of one artifact stay unique and dense, the audit chain stays one line."""

from __future__ import annotations

import multiprocessing
import queue

import pytest

from lineal.store import Store
from lineal.store.base import ArtifactFilter, RunFilter

from ._concurrent_writer import SHARED_NAME, write

PROCESSES = 4
WRITES = 200


def test_concurrent_writers(backend_store: Store) -> None:
    meta = backend_store.metadata
    url = meta.url  # type: ignore[attr-defined]
    if url.startswith("http://lineal.test"):  # in this process only
        pytest.skip("the in-process server is not reachable from other processes")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=write, args=(url, w, WRITES, barrier, results)) for w in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    outcomes = []
    try:
        for _ in procs:
            outcomes.append(results.get(timeout=240))
    except queue.Empty:
        pytest.fail(f"only {len(outcomes)} of {PROCESSES} writers reported")
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()

    errors = [f"worker {w}: {e}" for w, _, errs in outcomes for e in errs]
    assert errors == [], errors[:10]
    total = PROCESSES * WRITES
    numbers = sorted(v for _, versions, _ in outcomes for v in versions)
    assert numbers == list(range(1, total + 1)), "unique and dense, as each writer saw them"
    stored = meta.list_artifact_versions(ArtifactFilter(name=SHARED_NAME, limit=total + 10))
    assert sorted(v.version for v in stored) == list(range(1, total + 1))
    runs = meta.list_runs(RunFilter(limit=total + 10))
    assert len(runs) == total and all(r.status == "finished" for r in runs)
    assert all(len(meta.metric_history(r.id, "loss")) == 1 for r in runs[:: total // 20])

    entries = meta.ledger_entries(limit=1_000_000)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1)), "no gaps"
    for prev, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_hash == prev.hash, f"fork at {entry.seq}"
    assert len({e.hash for e in entries}) == len(entries)
    report = meta.verify_ledger()
    assert report.ok, report.problems[:5]
