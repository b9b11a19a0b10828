"""Foreign keys are indexed, and ending a run rewrites only what changes.

With foreign keys enforced, a database checks every table that references a row whose key is
written; an unindexed referencing column turns that check (and every delete or join through
it) into a table scan, so a per-run cost grows with the store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from lineal.entities import Run, RunStatus, new_id
from lineal.store import Store

pytestmark = pytest.mark.sql  # the SQL implementation itself, not the contract


def _unindexed_foreign_keys(engine: sa.Engine) -> list[str]:
    inspector = sa.inspect(engine)
    missing = []
    for table in inspector.get_table_names():
        leading: list[list[str]] = [list(ix["column_names"]) for ix in inspector.get_indexes(table)]
        leading += [list(uq["column_names"]) for uq in inspector.get_unique_constraints(table)]
        leading.append(list(inspector.get_pk_constraint(table)["constrained_columns"]))
        for fk in inspector.get_foreign_keys(table):
            columns = list(fk["constrained_columns"])
            if not any(cols[: len(columns)] == columns for cols in leading):
                missing.append(f"{table}({', '.join(columns)})")
    return sorted(missing)


def test_every_foreign_key_column_leads_an_index(backend_store: Store) -> None:
    engine = backend_store.metadata.db.write_engine  # type: ignore[attr-defined]
    assert _unindexed_foreign_keys(engine) == []


def test_finish_run_writes_only_the_columns_that_change(store: Store) -> None:
    statements: list[str] = []
    engine = store.metadata.db.write_engine  # type: ignore[attr-defined]
    engine.dispose()  # new connections get the trace callback
    sa.event.listen(
        engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(statements.append)
    )
    run = Run(new_id(), "default", "train", "train", RunStatus.RUNNING, datetime.now(UTC))
    store.metadata.create_run(run, "me")
    statements.clear()
    store.metadata.finish_run(run.id, RunStatus.FINISHED, 1, None, "me")
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE RUNS")]
    assert len(updates) == 1, statements
    assigned = updates[0].split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    assert sorted(part.split("=")[0].strip() for part in assigned.split(",")) == [
        "ended_at", "ledger_seq", "status"
    ]
    assert store.metadata.get_run(run.id).status == RunStatus.FINISHED
    assert store.metadata.verify_ledger().ok
