"""Campaign 1: SIGKILL at random points.

Each iteration starts ``kill_child.py`` on the campaign's store and kills it with SIGKILL at a
random moment: one iteration in ten while it is still opening the store, the others after a
random delay of real work. Then the store is reopened (it must open) and checked:

* **acknowledged writes lost**: every fact the child journaled after lineal returned must be
  in the store: the run and its params, metric points up to the acknowledged flush, artifact
  versions with bytes that hash to their digest, registered model versions, finished runs
  finished. Target 0.
* **corrupt stores**: SQLite ``PRAGMA integrity_check``, ``lineal verify`` and ``lineal audit
  verify`` (through the library), after every kill and once more at the end. Target 0.
* **stale runs**: runs the dead child left ``running``; at the end, if this build has
  ``lineal.close_stale_runs``, how many remain after calling it.
* **leftover files**: temp files in the blob folder; at the end, if this build has
  ``lineal gc``, how many remain after it.

One store per backend is used for every iteration, so damage would accumulate as it would in
a real project.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torture.common import (
    NOT_AVAILABLE,
    TORTURE,
    Backend,
    backend,
    close_stale,
    close_stale_available,
    gc_command,
    leftover_files,
    python_child,
    run_cli,
    sqlite_integrity,
    store_problems,
)

OPEN_TIMEOUT = 60.0  # the child must open the store within this
# Every blob is re-hashed after every REHASH_EVERY-th kill and at the end; the other checks
# re-hash the blobs the child journaled and check the others' presence and size, so that a
# 200-kill campaign does not hash the whole growing store 200 times.
REHASH_EVERY = 10
EARLY_EVERY = 10  # one iteration in this many is killed while the child is still starting


@dataclass
class KillResult:
    backend: str
    iterations: int = 0
    killed_while_opening: int = 0
    finished_before_kill: int = 0
    child_errors: int = 0
    """Children that died of an error of their own before the kill (what they hit is noted)."""
    acknowledged: int = 0
    lost: int = 0
    lost_at_end: int = 0
    """Facts of every iteration checked again once all kills are done (a later crash must not
    take an earlier acknowledged write with it)."""
    corrupt: int = 0
    reopen_failures: int = 0
    stale_runs: int = 0
    stale_after_close: int | str = NOT_AVAILABLE
    leftover: int = 0
    leftover_after_gc: int | str = NOT_AVAILABLE
    debris_reports: int = 0
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)
    skipped: str | None = None

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def campaign(name: str, iterations: int, workdir: Path, *, seed: int = 0,
             max_delay: float = 3.0, admin: str | None = None) -> KillResult:
    """``iterations`` kills on a fresh store of backend ``name``."""
    result = KillResult(name)
    started = time.monotonic()
    rng = random.Random(seed)
    with backend(name, workdir, admin) as b:
        b.open().close()  # create the schema once, so that early kills test the open path
        journals = [workdir / f"{name}-journal-{i}.jsonl" for i in range(iterations)]
        for i, journal in enumerate(journals):
            early = i % EARLY_EVERY == 1  # the 2nd, 12th, ...: a quick run has one too
            _iterate(b, journal, rng, seed * 100_000 + i, max_delay, early, result,
                     rehash=i % REHASH_EVERY == REHASH_EVERY - 1)
        _recheck(b, journals, result)
        _final_checks(b, result)
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _iterate(b: Backend, journal: Path, rng: random.Random, seed: int, max_delay: float,
             early: bool, result: KillResult, rehash: bool) -> None:
    result.iterations += 1
    child = python_child([str(TORTURE / "kill_child.py"), b.uri, b.artifacts, str(journal),
                          str(seed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if early:
        time.sleep(rng.uniform(0.0, 0.6))
    else:
        _wait_opened(child, journal)
        time.sleep(rng.uniform(0.05, max_delay))
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    else:
        result.finished_before_kill += 1
    _, stderr = child.communicate()
    facts = _read_journal(journal)
    if early and not any(f.get("t") == "opened" for f in facts):
        result.killed_while_opening += 1
    if child.returncode not in (-signal.SIGKILL, 0):
        result.child_errors += 1
        result.note(f"child exited {child.returncode}: {stderr.decode()[-300:]}")
    _check(b, facts, result, rehash)


def _wait_opened(child: subprocess.Popen[bytes], journal: Path) -> None:
    deadline = time.monotonic() + OPEN_TIMEOUT
    while time.monotonic() < deadline and child.poll() is None:
        if journal.exists() and journal.stat().st_size:
            return
        time.sleep(0.02)


def _read_journal(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    facts = []
    for line in path.read_text().splitlines():
        try:
            facts.append(json.loads(line))
        except ValueError:  # a line cut by the kill was never acknowledged
            continue
    return facts


def _check(b: Backend, facts: list[dict[str, Any]], result: KillResult, rehash: bool) -> None:
    """Reopen the store and check it against the journal."""
    integrity = sqlite_integrity(b.sqlite_file)
    if integrity:
        result.corrupt += 1
        result.note(f"integrity_check: {integrity}")
    try:
        store = b.open()
    except Exception as error:  # noqa: BLE001 - a store that does not open is the finding
        result.reopen_failures += 1
        result.corrupt += 1
        result.note(f"reopen failed: {type(error).__name__}: {error}")
        return
    try:
        result.acknowledged += sum(1 for f in facts if f.get("t") not in ("opened", "done"))
        for fact in facts:
            problem = _missing(store, fact)
            if problem:
                result.lost += 1
                result.note(f"lost {fact}: {problem}")
        damage, debris = store_problems(store, check_blobs=rehash)
        if damage:
            result.corrupt += 1
            result.note("; ".join(damage[:3]))
        result.debris_reports += bool(debris)
        result.stale_runs += _stale_of(store, facts)
    finally:
        store.close()


def _missing(store: Any, fact: dict[str, Any]) -> str | None:
    """Why ``fact`` is not in ``store``, or None when it is."""
    from lineal import registry
    from lineal.errors import LinealError

    kind = fact.get("t")
    try:
        if kind == "run":
            run = store.metadata.get_run(fact["run"])
            for key, value in fact["params"].items():
                if run.params.get(key) != value:
                    return f"param {key} is {run.params.get(key)!r}"
        elif kind == "metrics":
            points = store.metadata.metric_history(fact["run"], fact["key"])
            steps = {p.step: p.value for p in points}
            for step in range(fact["last_step"] + 1):
                if steps.get(step) != 1.0 / (step + 1):
                    return f"step {step} is {steps.get(step)!r} ({len(points)} points)"
        elif kind == "artifact":
            version = store.metadata.get_artifact_version(fact["id"])
            if version.digest != fact["digest"] or version.size != fact["size"]:
                return f"recorded {version.digest} {version.size} bytes"
            with store.blobs.open(version.digest) as stream:
                actual = "sha256:" + hashlib.sha256(stream.read()).hexdigest()
            if actual != fact["digest"]:
                return f"bytes hash to {actual}"
        elif kind == "registered":
            registry.get_version(f"{fact['model']}@v{fact['version']}", store=store)
        elif kind == "alias":
            events = registry.history(fact["model"], alias=fact["alias"], store=store)
            if not any(e.version == fact["version"] or fact["version"] in (e.after, e.before)
                       for e in events):
                return f"no event moving the alias to v{fact['version']} in the history"
        elif kind == "finished":
            status = store.metadata.get_run(fact["run"]).status
            if str(getattr(status, "value", status)) != "finished":
                return f"status is {status}"
    except LinealError as error:
        return f"{type(error).__name__}: {error}"
    return None


def _recheck(b: Backend, journals: list[Path], result: KillResult) -> None:
    """Every journaled fact again, and every blob re-hashed, once the last kill is done."""
    store = b.open()
    try:
        damage, _ = store_problems(store, check_blobs=True)
        if damage:
            result.corrupt += 1
            result.note("at the end: " + "; ".join(damage[:3]))
        for journal in journals:
            for fact in _read_journal(journal):
                problem = _missing(store, fact)
                if problem:
                    result.lost_at_end += 1
                    result.note(f"lost by the end {fact}: {problem}")
    finally:
        store.close()


def _stale_of(store: Any, facts: list[dict[str, Any]]) -> int:
    """Runs this (dead) child started that are still ``running``."""
    started = {f["run"] for f in facts if f.get("t") == "run"}
    stale = 0
    for run_id in started:
        status = store.metadata.get_run(run_id).status
        stale += str(getattr(status, "value", status)) == "running"
    return stale


def _final_checks(b: Backend, result: KillResult) -> None:
    """Stale runs after ``close_stale_runs`` and leftovers before and after ``lineal gc``."""
    import lineal

    store = b.open()
    try:
        if close_stale_available():
            try:
                close_stale(store)
                running = lineal.list_runs(status="running", limit=100_000, store=store)
                result.stale_after_close = len(running)
            except Exception as error:  # noqa: BLE001 - report, do not fail the campaign
                result.stale_after_close = f"error: {type(error).__name__}: {error}"
    finally:
        store.close()
    result.leftover = len(leftover_files(b.artifacts))
    gc = gc_command()
    if gc is not None:
        done = run_cli(["--uri", b.uri, "--artifacts", b.artifacts, *gc], timeout=600)
        if done.returncode == 0:
            result.leftover_after_gc = len(leftover_files(b.artifacts))
        else:
            line = (done.stderr.strip().splitlines() or ["?"])[0]
            result.leftover_after_gc = f"gc exited {done.returncode}: {line}"
