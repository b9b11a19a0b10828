"""The body of one writer process of the concurrency tests (a module of its own, so that
``multiprocessing`` with the spawn start method can import it in a fresh interpreter)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from lineal.entities import MetricPoint, Run, RunStatus, Storage, new_id, now_us
from lineal.store.base import NewArtifactVersion
from lineal.store.http import open_http_store
from lineal.store.sql import SqlMetadataStore

SHARED_NAME = "shared-model"


def write(url: str, worker: int, count: int, barrier: Any, results: Any) -> None:
    """``count`` times: a run with a param and metrics, a new version of the SHARED artifact it
    produced, the run finished. Every error is reported, not just the first."""
    errors: list[str] = []
    versions: list[int] = []
    try:
        meta = open_http_store(url).metadata if url.startswith("http") else SqlMetadataStore(url)
        actor = f"worker-{worker}"
        barrier.wait(timeout=60)  # start together: maximum contention
        for i in range(count):
            try:
                run = Run(new_id(), "default", f"w{worker}", "train", RunStatus.RUNNING,
                          datetime.now(UTC), params={"worker": worker, "i": i})
                meta.create_run(run, actor)
                meta.log_batch(run.id, actor, metrics=[
                    MetricPoint("loss", 1.0 / (i + 1), i, now_us()), MetricPoint("i", i, i, now_us()),
                ], tags={"worker": str(worker)})
                digest = "sha256:" + hashlib.sha256(f"{worker}-{i}".encode()).hexdigest()
                version, created = meta.create_artifact_version(NewArtifactVersion(
                    project="default", name=SHARED_NAME, kind="model", digest=digest,
                    uri=f"file:///{worker}/{i}", size=i, storage=Storage.STORED,
                    producer_run_id=run.id,
                ), actor)
                if not created:
                    errors.append(f"version of new content {digest} reported as existing")
                versions.append(version.version)
                meta.finish_run(run.id, RunStatus.FINISHED, now_us(), None, actor)
            except Exception as exc:  # every failure is what the test is about
                errors.append(f"{type(exc).__name__}: {exc}")
        meta.close()
    except Exception as exc:
        errors.append(f"setup {type(exc).__name__}: {exc}")
    results.put((worker, versions, errors))
