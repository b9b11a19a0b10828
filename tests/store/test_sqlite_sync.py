"""SQLite durability: a write that returned survives a power loss by default
(``synchronous=FULL`` in WAL mode); ``LINEAL_SQLITE_SYNC=normal`` opts into the faster mode."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from lineal.errors import InvalidArgument
from lineal.store import open_store
from lineal.store.lineage_base import ImportArtifact, ImportBatch, ImportEdge, ImportRun
from lineal.store.sql import lineage_import

pytestmark = pytest.mark.sql  # the SQL implementation itself, not the contract

FULL, NORMAL = 2, 1


def _synchronous(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        raw = conn.connection.driver_connection
        return int(raw.execute("PRAGMA synchronous").fetchone()[0])


def test_the_default_is_synchronous_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINEAL_SQLITE_SYNC", raising=False)
    store = open_store(tmp_path / "s")
    db = store.metadata.db  # type: ignore[attr-defined]
    assert _synchronous(db.write_engine) == FULL
    assert _synchronous(db.read_engine) == FULL
    with db.write_engine.connect() as conn:
        assert conn.connection.driver_connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_normal_is_opt_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAL_SQLITE_SYNC", "normal")
    store = open_store(tmp_path / "s")
    assert _synchronous(store.metadata.db.write_engine) == NORMAL  # type: ignore[attr-defined]
    store.close()


def test_an_unknown_mode_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAL_SQLITE_SYNC", "off")
    with pytest.raises(InvalidArgument, match="LINEAL_SQLITE_SYNC"):
        open_store(tmp_path / "s")


def test_a_bulk_import_keeps_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk path tunes the page cache and checkpoints for its transaction; it must neither
    lower synchronous while it runs nor leave the pooled connection below FULL."""
    monkeypatch.delenv("LINEAL_SQLITE_SYNC", raising=False)
    store = open_store(tmp_path / "s")
    seen: list[int] = []
    real_edges = lineage_import._Writer.edges

    def spy(writer: lineage_import._Writer) -> None:
        raw = writer.tx.conn.connection.driver_connection
        seen.append(int(raw.execute("PRAGMA synchronous").fetchone()[0]))
        real_edges(writer)

    monkeypatch.setattr(lineage_import._Writer, "edges", spy)
    n = 5000
    t0 = 1_700_000_000_000_000

    def dig(key: str) -> str:
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()

    batch = ImportBatch(
        runs=[ImportRun(f"r{i}", "default", f"r{i}", "train", "finished", t0) for i in range(n)],
        artifacts=[ImportArtifact(f"a{i}", "default", f"n{i % 50}", "dataset", dig(f"a{i}"),
                                  f"s3://b/a{i}", 3, t0) for i in range(n + 1)],
        edges=[e for i in range(n) for e in (ImportEdge(f"r{i}", f"a{i}", "input", "in"),
                                              ImportEdge(f"r{i}", f"a{i + 1}", "output", "out"))],
    )
    store.metadata.import_lineage(batch, "bench")
    assert seen == [FULL]
    assert _synchronous(store.metadata.db.write_engine) == FULL  # type: ignore[attr-defined]
    store.close()
