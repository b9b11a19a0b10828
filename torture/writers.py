"""Campaign 2: N writer processes at once on one store, per backend.

Each writer (``python torture/writers.py URI ARTIFACTS GO_FILE WORKER COUNT``) waits for the
start file so that all start together, then ``COUNT`` times: a run with params, 50 metric points,
a new version of an artifact every writer shares, a model version registered under one shared
model, and a compare-and-set move of the model's one shared alias ``prod``. The only error
allowed is the documented ``Conflict`` of a compare-and-set that lost. It prints a JSON summary
of what lineal acknowledged; the parent then counts the store: every acknowledged run finished
with all its points, every acknowledged version present, one alias event per acknowledged move,
and both ``lineal verify`` and ``lineal audit verify`` clean.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POINTS = 50
MODEL = "torture-shared"
ALIAS = "prod"


@dataclass
class WritersResult:
    backend: str
    writers: int = 0
    per_writer: int = 0
    runs: int = 0
    versions: int = 0
    alias_moves: int = 0
    conflicts: int = 0
    errors: int = 0
    lost: int = 0
    verify_ok: bool | None = None
    audit_ok: bool | None = None
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)
    skipped: str | None = None

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def writer(uri: str, artifacts: str, go: Path, worker: int, count: int) -> dict[str, Any]:
    """The body of one writer process; returns what lineal acknowledged."""
    import lineal
    from lineal import registry
    from lineal.errors import Conflict
    from lineal.store import open_store

    done: dict[str, Any] = {"worker": worker, "runs": [], "versions": [], "moves": [],
                            "conflicts": 0, "errors": []}
    store = open_store(uri, artifacts)
    scratch = Path(tempfile.mkdtemp(prefix="lineal-torture-writer-"))
    deadline = time.monotonic() + 120
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    for i in range(count):
        try:
            with lineal.run(f"writer-{worker}-{i}", kind="train", capture=False, store=store,
                            params={"worker": worker, "i": i}) as run:
                for step in range(POINTS):
                    run.log_metric("loss", 1.0 / (step + 1), step)
                path = scratch / f"w{worker}-{i}.bin"
                path.write_bytes(f"writer {worker} item {i}".encode())
                shared = run.log_artifact(path, name="torture-shared-data")
                model_file = scratch / f"m{worker}-{i}.bin"
                model_file.write_bytes(f"model {worker} {i}".encode())
                model = run.log_artifact(model_file, name="torture-shared-model", kind="model")
            done["runs"].append(run.id)
            done["versions"] += [shared.id, model.id]
            mv = registry.register_model(MODEL, model, store=store)
            current = registry.get_model(MODEL, store=store).aliases.get(ALIAS)
            try:
                registry.set_alias(f"{MODEL}@v{mv.version}", ALIAS, expected=current, store=store)
                done["moves"].append(mv.version)
            except Conflict:
                done["conflicts"] += 1
        except Exception as error:  # noqa: BLE001 - every error other than Conflict is a finding
            done["errors"].append(f"{type(error).__name__}: {error}")
    store.close()
    return done


def campaign(name: str, writers: int, per_writer: int, workdir: Path,
             admin: str | None = None) -> WritersResult:
    """``writers`` processes writing ``per_writer`` items each on a fresh store of ``name``."""
    from torture.common import TORTURE, backend, python_child

    result = WritersResult(name, writers, per_writer)
    started = time.monotonic()
    with backend(name, workdir, admin) as b:
        b.open().close()  # the schema exists before the writers race
        go = workdir / f"{name}-go"
        children = [python_child([str(TORTURE / "writers.py"), b.uri, b.artifacts, str(go),
                                  str(w), str(per_writer)],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
                    for w in range(writers)]
        time.sleep(0.5)
        go.touch()
        reports = []
        for child in children:
            out, err = child.communicate(timeout=900)
            try:
                reports.append(json.loads(out.decode().strip().splitlines()[-1]))
            except (ValueError, IndexError):
                result.errors += 1
                result.note(f"writer exited {child.returncode}: {err.decode()[-400:]}")
        _count(b, reports, result)
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _count(b: Any, reports: list[dict[str, Any]], result: WritersResult) -> None:
    from lineal import registry
    from lineal.errors import LinealError
    from torture.common import store_problems

    for report in reports:
        result.runs += len(report["runs"])
        result.versions += len(report["versions"])
        result.alias_moves += len(report["moves"])
        result.conflicts += report["conflicts"]
        result.errors += len(report["errors"])
        for error in report["errors"][:2]:
            result.note(f"writer {report['worker']}: {error}")
    store = b.open()
    try:
        for report in reports:
            for run_id in report["runs"]:
                try:
                    run = store.metadata.get_run(run_id)
                    points = store.metadata.metric_history(run_id, "loss")
                except LinealError as error:
                    result.lost += 1
                    result.note(f"run {run_id}: {error}")
                    continue
                if str(getattr(run.status, "value", run.status)) != "finished" or len(points) != POINTS:
                    result.lost += 1
                    result.note(f"run {run_id}: {run.status}, {len(points)} points")
            for version_id in report["versions"]:
                try:
                    store.metadata.get_artifact_version(version_id)
                except LinealError as error:
                    result.lost += 1
                    result.note(f"version {version_id}: {error}")
        moves = registry.history(MODEL, alias=ALIAS, store=store) if result.alias_moves else []
        moved = [e for e in moves if e.action in ("alias.set", "alias.move")]
        if len(moved) != result.alias_moves:
            result.lost += abs(result.alias_moves - len(moved))
            result.note(f"{result.alias_moves} alias moves acknowledged, {len(moved)} in history")
        damage, _ = store_problems(store)
        result.verify_ok = not any(d.startswith("verify") for d in damage)
        result.audit_ok = not any(d.startswith("audit") for d in damage)
        for problem in damage[:3]:
            result.note(problem)
    finally:
        store.close()


if __name__ == "__main__":
    summary = writer(sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]),
                     int(sys.argv[5]))
    print(json.dumps(summary))
