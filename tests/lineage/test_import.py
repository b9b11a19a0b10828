"""Bulk import: all or nothing, references resolved, every row vouched for by the audit ledger."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from lineal import lineage
from lineal.entities import RunError
from lineal.errors import InvalidArgument, NotFound
from lineal.store import Store
from lineal.store.import_check import bulk_ids as _ids
from lineal.store.lineage_base import ImportArtifact, ImportBatch, ImportEdge, ImportRun

from .conftest import T0, chain, digest


def head(store: Store) -> int:
    entries = store.metadata.ledger_entries(limit=1_000_000)
    return entries[-1].seq if entries else 0


def art(key: str, name: str | None = None, kind: str = "dataset", **extra: object) -> ImportArtifact:
    return ImportArtifact(key, "default", name or key, kind, digest(key), f"s3://b/{key}", 3,
                          T0, **extra)  # type: ignore[arg-type]


def run(key: str, **extra: object) -> ImportRun:
    return ImportRun(key, "default", key, "train", "finished", T0, **extra)  # type: ignore[arg-type]


def test_import_writes_everything_and_the_ledger_verifies(
    backend_store: Store, ledger_ok: Callable[[Store], None]
) -> None:
    batch = ImportBatch(
        runs=[run("child", parent="parent", params={"lr": 0.1, "layers": [1, 2]},
                  metrics={"auc": 0.9, "nan": float("nan"), "up": float("inf"),
                           "down": float("-inf")}, tags={"team": "a"},
                  ended_at_us=T0 + 5_000_000),
              run("parent")],
        artifacts=[art("d1"), art("m1", kind="model", metadata={"rows": 2}),
                   art("m2", name="m1", version=7)],
        edges=[ImportEdge("child", "d1", "input", "train_data"),
               ImportEdge("child", "m1", "output", "model"),
               ImportEdge("child", "m2", "output", "model")],
    )
    ids = backend_store.metadata.import_lineage(batch, "importer")
    assert set(ids) == {"child", "parent", "d1", "m1", "m2"}
    meta = backend_store.metadata
    child = meta.get_run(ids["child"])
    assert child.parent_id == ids["parent"] and child.params == {"lr": 0.1, "layers": [1, 2]}
    assert child.tags == {"team": "a"} and child.metrics["auc"] == 0.9
    assert child.metrics["up"] == float("inf") and child.metrics["down"] == float("-inf")
    assert meta.metric_history(ids["child"], "up")[0].value == float("inf")  # MariaDB too
    model = meta.get_artifact_version(ids["m1"])
    assert (model.version, model.kind, model.producer_run_id, model.metadata) == (
        1, "model", ids["child"], {"rows": 2})
    assert meta.get_artifact_version(ids["m2"]).version == 7
    assert lineage.node("m1@latest").id == ids["m2"]  # the counter follows explicit versions
    assert [n.name for n in lineage.upstream("m1@v1").nodes] == ["child", "d1"]
    ledger_ok(backend_store)
    # an import appends to a name after what is stored, and reuses stored content
    more = backend_store.metadata.import_lineage(
        ImportBatch([run("again")], [art("m1-next", name="m1"), art("d1")],
                    [ImportEdge("again", "d1", "input", "data"),
                     ImportEdge("again", "m1@v7", "input", "warm_start"),
                     ImportEdge("again", "m1-next", "output", "model")]), "importer")
    assert more["d1"] == ids["d1"]  # same name and digest: the stored version
    assert meta.get_artifact_version(more["m1-next"]).version == 8
    assert {e.artifact_id for e in meta.list_edges(run_id=more["again"])} == {
        ids["d1"], ids["m2"], more["m1-next"]}
    ledger_ok(backend_store)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (ImportBatch([run("r")], [art("r")]), "duplicate key 'r'"),
        (ImportBatch([run("r")], [art("a")], [ImportEdge("r", "nope", "input", "x")]),
         "names artifact 'nope'"),
        (ImportBatch([run("r")], [art("a")], [ImportEdge("ghost", "a", "input", "x")]),
         "names run 'ghost'"),
        (ImportBatch([run("r")], [art("a")], [ImportEdge("r", "a", "sideways", "x")]),
         "direction 'sideways'"),
        (ImportBatch([run("r")], [art("a")], [ImportEdge("r", "a", "input", "x"),
                                             ImportEdge("r", "a", "input", "x")]), "repeats edge"),
        (ImportBatch([run("r")], [art("a"), art("b", name="a", version=1),
                                 art("c", name="a", version=1)]), "version 1 twice"),
        (ImportBatch([], [ImportArtifact("a", "default", "a", "dataset", "md5", "", 1, T0)]),
         "digest 'md5'"),
        (ImportBatch([run("r", parent="p"), run("p", parent="r")]), "parent cycle"),
        (ImportBatch([ImportRun("r", "default", "bad name!", "train", "finished", T0)]),
         "invalid name of run 'r'"),
        (ImportBatch([ImportRun("r", "default", "r", "train", "done", T0)]), "status 'done'"),
        (ImportBatch([run("r")], [art("a")], [ImportEdge("r", "r", "input", "x")]),
         "is a run key"),
    ],
)
def test_bad_input_writes_nothing(backend_store: Store, batch: ImportBatch, message: str) -> None:
    chain(backend_store, 1)
    before = head(backend_store)
    with pytest.raises(InvalidArgument, match=message):
        backend_store.metadata.import_lineage(batch, "importer")
    assert head(backend_store) == before


def test_a_version_taken_by_the_store_rolls_everything_back(backend_store: Store) -> None:
    chain(backend_store, 1)  # stores a1@v1
    before = head(backend_store)
    batch = ImportBatch([run("r")], [art("x"), art("clash", name="a1", version=1)],
                        [ImportEdge("r", "x", "output", "out")])
    with pytest.raises(InvalidArgument, match="a1@v1 is already stored"):
        backend_store.metadata.import_lineage(batch, "importer")
    assert head(backend_store) == before
    assert backend_store.metadata.list_edges(version_id=lineage.node("a1").id) != []
    with pytest.raises(NotFound):
        lineage.node("x@v1")


def test_jsonl_file_and_line_numbers(backend_store: Store, tmp_path: Path,
                                     ledger_ok: Callable[[Store], None]) -> None:
    lines = [
        "# comment",
        json.dumps({"type": "artifact", "key": "raw", "name": "raw", "kind": "dataset",
                    "digest": digest("raw"), "uri": "s3://b/raw", "size": 10,
                    "created_at": "2024-05-01T10:00:00Z"}),
        "",
        json.dumps({"type": "run", "key": "t", "name": "train", "kind": "train",
                    "started_at": 1714557600, "ended_at": "2024-05-01T10:10:00+00:00",
                    "params": {"C": 1}, "metrics": {"auc": 0.8}}),
        json.dumps({"type": "artifact", "key": "m", "name": "model", "kind": "model",
                    "digest": digest("model")}),
        json.dumps({"type": "edge", "run": "t", "artifact": "raw", "direction": "input",
                    "role": "train_data"}),
        json.dumps({"type": "edge", "run": "t", "artifact": "m", "direction": "output"}),
    ]
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(lines) + "\n")
    result = lineage.import_jsonl(good)
    assert (result.runs, result.artifacts, result.edges) == (1, 2, 2)
    train = backend_store.metadata.get_run(result.ids["t"])
    assert train.params == {"C": 1} and train.started_at.isoformat() == "2024-05-01T10:00:00+00:00"
    assert train.ended_at is not None and train.ended_at.isoformat() == "2024-05-01T10:10:00+00:00"
    up = lineage.upstream("model@v1")
    assert [(n.name, n.role) for n in up.nodes] == [("train", "output"), ("raw", "train_data")]
    ledger_ok(backend_store)

    before = head(backend_store)
    cases = {
        7: (json.dumps({"type": "edge", "run": "t", "artifact": "nope", "direction": "input"}),
            "bad.jsonl line 7: edge #2 names artifact 'nope'"),
        3: ('{"type": "run", "key": ', "line 3: not JSON"),
        4: (json.dumps({"type": "run", "key": "x", "name": "n", "colour": "red"}),
            "line 4: unknown field(s) colour"),
        5: (json.dumps({"type": "dataset", "key": "x"}), "line 5: type 'dataset'"),
        6: (json.dumps({"type": "run", "key": "t", "name": "dup"}),
            "bad.jsonl line 6: duplicate key 't'"),
        2: (json.dumps({"type": "run", "key": "w", "name": "n", "started_at": "yesterday"}),
            "line 2: started_at 'yesterday' is not a time"),
    }
    for line, (text, message) in cases.items():
        broken = list(lines)
        if line <= len(broken):
            broken[line - 1] = text
        else:
            broken.append(text)
        bad = tmp_path / "bad.jsonl"
        bad.write_text("\n".join(broken) + "\n")
        with pytest.raises(InvalidArgument, match=re.escape(message)):
            lineage.import_jsonl(bad)
        assert head(backend_store) == before, line
    with pytest.raises(InvalidArgument, match="no file"):
        lineage.import_jsonl(tmp_path / "missing.jsonl")


def test_bulk_ids_are_ulids_in_order() -> None:
    ids = _ids(1000)
    assert len(set(ids)) == 1000 and ids == sorted(ids)
    assert all(len(i) == 26 and set(i) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in ids)


def test_a_big_import_tunes_sqlite_for_its_transaction_only(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20,000 nodes and edges: the batch runs with a big page cache and without a checkpoint at
    its commit, and the pooled connection gets its usual settings back afterwards. (Its speed
    is measured by bench/bench_lineage.py, not here.)"""
    from lineal.store.sql import lineage_import
    from lineal.store.sql.database import WAL_CHECKPOINT_PAGES

    def pragmas(conn: object) -> tuple[int, int]:
        raw = conn.connection.driver_connection  # type: ignore[attr-defined]
        return (raw.execute("PRAGMA cache_size").fetchone()[0],
                raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

    seen: list[tuple[int, int]] = []
    real_edges = lineage_import._Writer.edges

    def spy(writer: lineage_import._Writer) -> None:
        seen.append(pragmas(writer.tx.conn))
        real_edges(writer)

    monkeypatch.setattr(lineage_import._Writer, "edges", spy)
    n = 5000
    batch = ImportBatch(
        runs=[run(f"r{i}") for i in range(n)],
        artifacts=[art(f"a{i}", name=f"n{i % 50}") for i in range(n + 1)],
        edges=[e for i in range(n) for e in (ImportEdge(f"r{i}", f"a{i}", "input", "in"),
                                              ImportEdge(f"r{i}", f"a{i + 1}", "output", "out"))],
    )
    store.metadata.import_lineage(batch, "bench")
    assert seen == [(-lineage_import.CACHE_KIB, lineage_import.BULK_CHECKPOINT_PAGES)]
    with store.metadata.db.write_engine.connect() as conn:  # the pool's one connection
        cache, checkpoint = pragmas(conn)
    assert cache > -lineage_import.CACHE_KIB and checkpoint == WAL_CHECKPOINT_PAGES
    assert lineage.upstream(f"n{n % 50}@latest", limit=1).total == 2 * n


RUN_ID = "01J00000000000000000000001"


def same(key: str, **fields: object) -> ImportRun:
    """A record of the one run ``a`` (id RUN_ID) under batch key ``key``."""
    return replace(ImportRun(key, "default", "a", "train", "finished", T0, id=RUN_ID),
                   **fields)  # type: ignore[arg-type]


def test_a_run_given_an_id_is_merged_into_the_stored_one(backend_store: Store) -> None:
    """Re-sent and out-of-order records of one run (OpenLineage events) update one run."""
    meta = backend_store.metadata
    first = ImportBatch([same("a", status="running", kind="job", tags={"seen": "1"})],
                        [art("data")], [ImportEdge("a", "data", "input", "input")])
    assert meta.import_lineage(first, "importer")["a"] == RUN_ID
    end = T0 + 60_000_000
    failed = same("b", status="failed", ended_at_us=end, tags={"seen": "2"},
                 error=RunError("ValueError", "bad", ""))
    again = ImportBatch([failed], [art("data")], [ImportEdge("b", "data", "input", "input")])
    meta.import_lineage(again, "importer")
    stored = meta.get_run(RUN_ID)
    assert (stored.status, stored.kind, stored.tags["seen"]) == ("failed", "train", "2")
    assert stored.error is not None and stored.error.message == "bad"
    assert len(meta.list_edges(run_id=RUN_ID)) == 1  # the same edge again is not a second one
    late = ImportBatch([same("c", status="running", started_at_us=T0 - 1_000_000)])
    meta.import_lineage(late, "importer")  # a late "running" does not reopen an ended run
    stored = meta.get_run(RUN_ID)
    assert stored.status == "failed" and stored.ended_at is not None
    assert int(stored.started_at.timestamp() * 1_000_000) == T0 - 1_000_000
    placeholder = ImportBatch([same("d", kind="other", placeholder=True)])
    meta.import_lineage(placeholder, "importer")
    assert meta.get_run(RUN_ID).kind == "train"
    before = head(backend_store)
    with pytest.raises(InvalidArgument, match="is stored as default/a, not default/other"):
        meta.import_lineage(ImportBatch([ImportRun("e", "default", "other", "train", "finished",
                                                   T0, id=RUN_ID)]), "importer")
    with pytest.raises(InvalidArgument, match="is not a ULID"):
        meta.import_lineage(ImportBatch([run("f", id="run-1")]), "importer")
    with pytest.raises(InvalidArgument, match="have the same id"):
        meta.import_lineage(ImportBatch([same("g"), same("h")]), "importer")
    assert head(backend_store) == before
    report = meta.verify_ledger()
    assert report.ok, report.problems[:5]


def test_a_run_with_metrics_followed_by_another_run(backend_store: Store) -> None:
    """A metric's stored value once overwrote the map of stored runs, so the next run of the
    batch failed with "argument of type 'float' is not iterable" (found by mypy)."""
    batch = ImportBatch([run("a", metrics={"auc": 0.9, "loss": float("nan")}), run("b")])
    ids = backend_store.metadata.import_lineage(batch, "importer")
    meta = backend_store.metadata
    assert meta.get_run(ids["a"]).metrics["auc"] == 0.9
    assert meta.get_run(ids["b"]).name == "b"
    assert meta.verify_ledger().ok
