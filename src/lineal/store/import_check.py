"""Checking a bulk import batch before anything is written: keys, names, statuses, directions,
versions, digests, params as JSON, parents before children. Part of the contract, not of the SQL
store: every implementation of :meth:`MetadataStore.import_lineage` refuses the same batches with
the same :class:`~lineal.store.types.BadImport`, and a client can check a batch before sending
it. What only the stored data can tell (references to stored runs and versions, version numbers
taken meanwhile) is the implementation's to check.
"""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..canonical import canonical_json
from ..entities import ULID_ALPHABET, RunStatus
from ..refs import _NAME_RE
from ..run_data import MAX_KEY
from .lineage_base import ImportArtifact, ImportBatch, ImportRun
from .types import BadImport

__all__ = ["ImportPlan", "bulk_ids", "check_batch", "fail", "merge_run"]

_DIGEST = re.compile(r"^[a-z0-9]{2,16}:[0-9a-f]{8,64}$")
_STATUSES = {str(s) for s in RunStatus}
_DIRECTIONS = ("input", "output")
_ULID_ALPHABET = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ULID_ALPHABET)


def bulk_ids(count: int) -> list[str]:
    """``count`` fresh ULIDs made in bulk, increasing within the batch (the random part counts up
    from a random start, as the ULID spec allows within one millisecond): ordered keys make the
    inserts append to the primary-key B-trees instead of splitting pages all over them."""
    ms = time.time_ns() // 1_000_000
    prefix = "".join(ULID_ALPHABET[(ms >> s) & 31] for s in range(45, -1, -5))
    start = int.from_bytes(os.urandom(10), "big") >> 8  # leaves room to count up
    raw = b"".join([(start + i).to_bytes(10, "big") for i in range(count)])
    tails = base64.b32encode(raw).decode("ascii").translate(_ULID_ALPHABET)
    return [prefix + tails[i : i + 16] for i in range(0, 16 * count, 16)]


def fail(section: str, index: int, message: str, hint: str | None = None) -> BadImport:
    return BadImport(section, index, message, hint=hint)


def _name(value: Any, section: str, index: int, what: str, ok: set[str]) -> None:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise fail(section, index, f"invalid {what} {value!r}",
                    "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit")
    ok.add(value)  # a batch repeats few names many times: each is checked once


def _not_int(value: Any, section: str, index: int, what: str) -> BadImport:
    return fail(section, index, f"{what} must be an integer, got {value!r}")


@dataclass
class ImportPlan:
    """The batch checked and laid out for writing: every key has its id."""

    ids: dict[str, str] = field(default_factory=dict)
    runs: list[ImportRun] = field(default_factory=list)  # parents before children
    stored_runs: set[str] = field(default_factory=set)
    stored_versions: dict[str, str] = field(default_factory=dict)  # edge artifact text -> id
    params: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # run key -> JSON
    metadata: list[str] = field(default_factory=list)  # per artifact, canonical JSON
    names: set[str] = field(default_factory=set)  # names already validated


def check_batch(batch: ImportBatch) -> ImportPlan:
    """Everything that can be checked without the database. Hot loops build no message text
    unless something is wrong: this runs over every item of batches of millions."""
    plan = ImportPlan()
    keys: dict[str, str] = {}
    sections: tuple[tuple[str, Sequence[ImportRun | ImportArtifact]], ...] = (
        ("runs", batch.runs), ("artifacts", batch.artifacts))
    for section, items in sections:
        for index, item in enumerate(items):
            key = item.key
            if type(key) is not str or not key or len(key) > MAX_KEY:
                raise fail(section, index, f"{section[:-1]} #{index + 1} has no valid key: {key!r}",
                            "give every run and artifact a unique 'key' (1-250 characters)")
            if key in keys:
                raise fail(section, index, f"duplicate key {key!r} (already used by a "
                            f"{keys[key][:-1]})", "keys must be unique across runs and artifacts")
            keys[key] = section
    for index, run in enumerate(batch.runs):
        _check_run(run, index, keys, plan)
    seen_versions: dict[tuple[str, str, Any], str] = {}
    for index, art in enumerate(batch.artifacts):
        _check_artifact(art, index, plan)
        for what, value in (("digest", art.digest), ("version", art.version)):
            if value is None:
                continue
            mark = (art.project, art.name, value)
            if mark in seen_versions:
                raise fail("artifacts", index, f"artifact {art.key!r}: {art.project}/{art.name} "
                            f"has {what} {value} twice (also {seen_versions[mark]!r})")
            seen_versions[mark] = art.key
    seen_edges: dict[tuple[str, str, str, str], int] = {}
    names = plan.names
    for index, edge in enumerate(batch.edges):
        if edge.direction not in _DIRECTIONS:
            raise fail("edges", index, f"edge #{index + 1} ({edge.run} - {edge.artifact}) has "
                        f"direction {edge.direction!r}", "use 'input' or 'output'")
        if edge.role not in names:
            _name(edge.role, "edges", index, f"role of edge #{index + 1}", names)
        if type(edge.run) is not str or not edge.run:
            raise fail("edges", index, f"edge #{index + 1} has no run")
        if type(edge.artifact) is not str or not edge.artifact:
            raise fail("edges", index, f"edge #{index + 1} has no artifact")
        if keys.get(edge.run, "runs") != "runs":
            raise fail("edges", index, f"edge #{index + 1}: {edge.run!r} is an artifact key, "
                        "not a run")
        if keys.get(edge.artifact, "artifacts") != "artifacts":
            raise fail("edges", index, f"edge #{index + 1}: {edge.artifact!r} is a run key, "
                        "not an artifact")
        edge_mark = (edge.run, edge.artifact, edge.direction, edge.role)
        if edge_mark in seen_edges:
            raise fail("edges", index, f"edge #{index + 1} repeats edge "
                        f"#{seen_edges[edge_mark] + 1} "
                        f"({edge.run} {edge.direction} {edge.artifact} as {edge.role})")
        seen_edges[edge_mark] = index
    plan.runs = _parents_first(batch.runs)
    plan.ids = dict(zip(keys, bulk_ids(len(keys)), strict=True))
    explicit: dict[str, str] = {}
    for index, run in enumerate(batch.runs):
        if run.id is None:
            continue
        if type(run.id) is not str or not _ULID.fullmatch(run.id):
            raise fail("runs", index, f"run {run.key!r} has id {run.id!r}, which is not a ULID",
                        "give 26 Crockford base-32 characters, or leave the id out")
        if run.id in explicit:
            raise fail("runs", index, f"runs {explicit[run.id]!r} and {run.key!r} have the same "
                        f"id {run.id}", "give a run once per batch")
        explicit[run.id] = run.key
        plan.ids[run.key] = run.id
    return plan


_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
_TERMINAL = {str(RunStatus.FINISHED), str(RunStatus.FAILED), str(RunStatus.KILLED)}


def merge_run(stored: Mapping[str, Any], run: ImportRun, index: int,
              parent_id: str | None) -> dict[str, Any]:
    """The columns of the stored run ``stored`` (a row of ``runs``) to change so that it also
    says what ``run`` (batch item ``index``, its parent resolved to ``parent_id``) says. The
    same rules for every implementation, so events may arrive twice or out of order:

    - project and name identify the run: a different one is an error;
    - a placeholder changes nothing; otherwise ``kind`` is the latest given;
    - the start is the earliest known; the parent is set once;
    - an ended status (finished, failed, killed) is never taken back by ``running``; between
      two ended statuses the later end wins, with its error.
    """
    if run.placeholder:
        return {}
    if (stored["project"], stored["name"]) != (run.project, run.name):
        raise fail("runs", index, f"run {run.key!r}: id {run.id} is stored as "
                    f"{stored['project']}/{stored['name']}, not {run.project}/{run.name}",
                    "a run id names one job")
    changes: dict[str, Any] = {}
    if run.kind != stored["kind"]:
        changes["kind"] = run.kind
    if run.started_at_us < stored["started_at"]:
        changes["started_at"] = run.started_at_us
    if stored["parent_id"] is None and parent_id is not None:
        changes["parent_id"] = parent_id
    if run.status in _TERMINAL and (
        stored["status"] not in _TERMINAL or (run.ended_at_us or 0) >= (stored["ended_at"] or 0)
    ):
        changes.update(status=run.status, ended_at=run.ended_at_us)
        if run.error is not None:
            changes.update(error_type=run.error.type, error_message=run.error.message,
                           error_traceback=run.error.traceback)
    return {key: value for key, value in changes.items() if stored.get(key) != value}


def _check_run(run: ImportRun, index: int, keys: dict[str, str], plan: ImportPlan) -> None:
    names = plan.names
    if run.project not in names:
        _name(run.project, "runs", index, f"project of run {run.key!r}", names)
    if run.name not in names:
        _name(run.name, "runs", index, f"name of run {run.key!r}", names)
    if type(run.kind) is not str or not run.kind or len(run.kind) > 64:
        raise fail("runs", index, f"run {run.key!r} has an invalid kind {run.kind!r}")
    if run.status not in _STATUSES:
        raise fail("runs", index, f"run {run.key!r} has status {run.status!r}",
                    f"use one of {', '.join(sorted(_STATUSES))}")
    if type(run.started_at_us) is not int:
        raise _not_int(run.started_at_us, "runs", index, f"start time of run {run.key!r}")
    if run.ended_at_us is not None and type(run.ended_at_us) is not int:
        raise _not_int(run.ended_at_us, "runs", index, f"end time of run {run.key!r}")
    error = run.error
    if error is not None and not (isinstance(error.type, str) and 0 < len(error.type) <= 256
                                  and isinstance(error.message, str)
                                  and isinstance(error.traceback, str)):
        raise fail("runs", index, f"run {run.key!r} has an invalid error {error!r}",
                    "an error has a type (1-256 characters), a message and a traceback (text)")
    if run.parent is not None and keys.get(run.parent, "runs") != "runs":
        raise fail("runs", index, f"run {run.key!r}: parent {run.parent!r} is an artifact key")
    if run.params or run.tags or run.metrics:
        _check_run_values(run, index, plan)


def _check_run_values(run: ImportRun, index: int, plan: ImportPlan) -> None:
    label = f"run {run.key!r}"
    for mapping, what in ((run.params, "param"), (run.tags, "tag"), (run.metrics, "metric")):
        for key in mapping:
            if not isinstance(key, str) or not key or len(key) > MAX_KEY:
                raise fail("runs", index, f"{label} has an invalid {what} key {key!r}")
    for key, value in run.metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("runs", index, f"{label}: metric {key!r} is not a number: {value!r}")
    texts = []
    for key, value in run.params.items():
        try:
            texts.append((key, canonical_json(value)))
        except (TypeError, ValueError):
            raise fail("runs", index, f"{label}: param {key!r} is not JSON: {value!r}") from None
    plan.params[run.key] = texts


def _check_artifact(art: ImportArtifact, index: int, plan: ImportPlan) -> None:
    names = plan.names
    if art.project not in names:
        _name(art.project, "artifacts", index, f"project of artifact {art.key!r}", names)
    if art.name not in names:
        _name(art.name, "artifacts", index, f"name of artifact {art.key!r}", names)
    if type(art.kind) is not str or not art.kind or len(art.kind) > 64:
        raise fail("artifacts", index, f"artifact {art.key!r} has an invalid kind {art.kind!r}")
    if type(art.digest) is not str or len(art.digest) > 71 or not _DIGEST.fullmatch(art.digest):
        raise fail("artifacts", index, f"artifact {art.key!r} has digest {art.digest!r}",
                    "give the content digest as 'sha256:' and lowercase hex")
    if type(art.uri) is not str:
        raise fail("artifacts", index, f"artifact {art.key!r} has a non-text uri {art.uri!r}")
    if type(art.size) is not int or art.size < 0:
        raise fail("artifacts", index, f"size of artifact {art.key!r} must be a whole number "
                    f"of bytes, got {art.size!r}")
    if type(art.created_at_us) is not int:
        raise _not_int(art.created_at_us, "artifacts", index, f"creation time of {art.key!r}")
    if art.version is not None and (type(art.version) is not int or art.version < 1):
        raise fail("artifacts", index, f"artifact {art.key!r} has version {art.version!r}",
                    "versions are whole numbers from 1")
    if not art.metadata:
        plan.metadata.append("{}")
        return
    try:
        plan.metadata.append(canonical_json(dict(art.metadata)))
    except (TypeError, ValueError):
        raise fail("artifacts", index, f"artifact {art.key!r}: metadata is not JSON") from None


def _parents_first(runs: Sequence[ImportRun]) -> list[ImportRun]:
    """Runs ordered so that a parent in the batch is inserted before its children (foreign keys
    are checked row by row on MySQL); a cycle of parents is an error."""
    by_key = {run.key: run for run in runs}
    index = {run.key: i for i, run in enumerate(runs)}
    ordered: list[ImportRun] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: placed
    for run in runs:
        chain = []
        current: ImportRun | None = run
        while current is not None and state.get(current.key) != 2:
            if state.get(current.key) == 1:
                raise fail("runs", index[current.key],
                            f"run {current.key!r} is its own ancestor (parent cycle)")
            state[current.key] = 1
            chain.append(current)
            current = by_key.get(current.parent) if current.parent is not None else None
        for item in reversed(chain):
            state[item.key] = 2
            ordered.append(item)
    return ordered
