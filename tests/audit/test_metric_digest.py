"""The packed-columns ledger digest of metric batches ('v2:'), and stores written before it."""

from __future__ import annotations

import math
import random
import struct

import pytest
import sqlalchemy as sa

import lineal
from lineal.store import Store
from lineal.store.sql import tables as t
from lineal.store.sql.database import (
    DIGEST_V2,
    digest_lines,
    encode_float,
    metric_digest,
    tuple_text,
)


def sql(store: Store, statement: str, **params: object) -> None:
    with store.metadata.db.write_engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.text(statement), params)


def metric_entries(store: Store) -> list[str]:
    return [e.payload_digest for e in store.metadata.ledger_entries(limit=10_000)
            if e.action == "run.metrics"]


def logged_run(store: Store) -> str:
    with lineal.run("train", capture=False, store=store) as run:
        for step in range(6):
            run.log_metric("loss", 1.0 / (step + 1))
            run.log_metric("acc", step / 10)
    return run.id


def test_metric_batches_carry_the_packed_digest_and_verify(backend_store: Store) -> None:
    logged_run(backend_store)
    digests = metric_entries(backend_store)
    assert digests and all(d.startswith(DIGEST_V2) and len(d) == 67 for d in digests)
    assert lineal.audit.verify().ok


m = t.metrics


def tamper(store: Store, where: sa.ColumnElement[bool], **values: object) -> None:
    with store.metadata.db.write_engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.update(m).where(where).values(**values))


def point(key: str, step: int) -> sa.ColumnElement[bool]:
    return sa.and_(m.c.key == key, m.c.step == step)


TAMPERING = {
    "value": lambda s: tamper(s, point("loss", 3), value=0.75),
    "step": lambda s: tamper(s, point("loss", 3), step=30),
    "key": lambda s: tamper(s, point("loss", 3), key="lost"),
    "ts": lambda s: tamper(s, point("acc", 2), ts=m.c.ts + 1),
    "values swapped": lambda s: (tamper(s, point("loss", 1), value=0.1),
                                 tamper(s, point("acc", 1), value=0.5)),
    "value made NULL": lambda s: tamper(s, point("acc", 0), value=None),
}


@pytest.mark.sql
@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_a_changed_metric_field_is_caught(backend_store: Store, case: str) -> None:
    logged_run(backend_store)
    sql(backend_store, "DELETE FROM latest_metrics")  # only the metrics check is under test
    TAMPERING[case](backend_store)
    report = lineal.audit.verify()
    assert "row-altered" in {p.kind for p in report.problems if p.table == "metrics"}, \
        report.problems


def test_non_finite_values_and_ties_verify(backend_store: Store) -> None:
    """NaN and infinities (stored as NULL plus a code where the backend cannot hold them) and
    points equal on key, step and timestamp hash the same when read back."""
    with lineal.run("edge", capture=False, store=backend_store) as run:
        pass
    nan, inf = float("nan"), float("inf")
    points = [("k", nan, 1, 5), ("k", 2.0, 1, 5), ("k", -inf, 1, 5), ("k", inf, 2, 5),
              ("k", -0.0, 3, 7), ("k", 0.0, 3, 7), ("j", 1e308, 0, 1), ("j", 3, 1, 1)]
    backend_store.metadata.log_batch(run.id, "tester", metrics=points)
    backend_store.metadata.log_batch(run.id, "tester", metrics=list(reversed(points)))
    assert lineal.audit.verify().ok


def test_the_digest_does_not_depend_on_row_order_or_nan_payload() -> None:
    rows = [("r", f"k{i % 3}", i // 3, 100 + i % 2, i / 7) for i in range(50)]
    rows += [("r", "k0", 1, 100, float("nan")), ("r", "k0", 1, 100, 0.5)]  # a tie with a NaN
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    assert metric_digest(rows) == metric_digest(shuffled)
    other_nan = struct.unpack("<d", struct.pack("<Q", 0xFFF8_0000_0000_0001))[0]
    assert math.isnan(other_nan)
    assert metric_digest([("r", "k", 1, 1, other_nan)]) == metric_digest(
        [("r", "k", 1, 1, float("nan"))])
    assert metric_digest([("r", "k", 1, 1, 0.5)]) != metric_digest([("r", "k", 1, 1, 0.25)])
    # Text columns are length-prefixed: moving a character between fields changes the digest.
    assert metric_digest([("r", "ab", 1, 1, 0.5), ("r", "c", 1, 1, 0.5)]) != metric_digest(
        [("r", "a", 1, 1, 0.5), ("r", "bc", 1, 1, 0.5)])


def _write_old_form(store: Store, run_id: str, points: list[tuple[str, float, int, int]]) -> None:
    """Metrics as lineal wrote them before the packed form: the text digest of
    ``digest_lines`` over ``tuple_text`` (the code of that version, inlined)."""
    rows = [(run_id, key, step, ts, float(value)) for key, value, step, ts in points]
    db = store.metadata.db  # type: ignore[attr-defined]
    with db.write("old-writer") as tx:
        digest = digest_lines([tuple_text("metrics", row) for row in rows])
        assert not digest.startswith(DIGEST_V2)
        seq = tx._append("run.metrics", "metrics", run_id, digest)  # noqa: SLF001
        stamped = [(*row[:4], *encode_float(row[4], tx.dialect), seq) for row in rows]
        columns = ["run_id", "key", "step", "ts", "value", t.NONFINITE, "ledger_seq"]
        tx._execute_many("metrics", columns, stamped)  # noqa: SLF001


@pytest.mark.sql
def test_a_store_written_in_the_old_form_still_verifies(backend_store: Store) -> None:
    run_id = logged_run(backend_store)
    _write_old_form(backend_store, run_id, [("old", 0.5, 0, 10), ("old", float("nan"), 1, 11),
                                            ("old", 0.25, 2, 12)])
    digests = metric_entries(backend_store)
    assert any(d.startswith(DIGEST_V2) for d in digests)
    assert any(d.startswith("sha256:") for d in digests)
    sql(backend_store, "DELETE FROM latest_metrics")  # not under test
    report = lineal.audit.verify()
    assert {p.kind for p in report.problems} <= {"derived-mismatch"}, report.problems
    tamper(backend_store, point("old", 2), value=0.75)
    report = lineal.audit.verify()
    assert "row-altered" in {p.kind for p in report.problems if p.table == "metrics"}
