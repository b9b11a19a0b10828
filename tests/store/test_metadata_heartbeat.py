"""The store's part of run heartbeats, on SQLite, PostgreSQL and MariaDB: a beat is one
unledgered column update, and ``close_stale_runs`` ends the runs whose beat stopped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lineal.entities import RunError, RunStatus, datetime_to_us, now_us
from lineal.heartbeat import is_stale
from lineal.store import Store

from .test_metadata_runs import ACTOR, ledger_size, make_run, point

HOUR_US = 3_600_000_000


def test_a_heartbeat_updates_one_column_outside_the_ledger(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta)
    assert meta.get_run(run.id).heartbeat_at is None
    entries = ledger_size(meta)
    at = now_us()
    meta.heartbeat(run.id, at)
    assert datetime_to_us(meta.get_run(run.id).heartbeat_at) == at  # type: ignore[arg-type]
    assert ledger_size(meta) == entries, "a beat writes no ledger entry"
    meta.log_batch(run.id, ACTOR, metrics=[point("loss", 1.0, 0)])
    assert datetime_to_us(meta.get_run(run.id).heartbeat_at) > at  # type: ignore[arg-type]
    meta.finish_run(run.id, RunStatus.FINISHED, now_us(), None, ACTOR)
    ended = meta.get_run(run.id)
    meta.heartbeat(run.id, now_us() + HOUR_US)  # an ended run takes no beat
    assert meta.get_run(run.id).heartbeat_at == ended.heartbeat_at
    meta.heartbeat("01NOSUCHRUN000000000000000", now_us())  # nor does a missing one
    assert meta.verify_ledger().ok, "heartbeat_at is outside every digest"


def test_close_stale_runs(backend_store: Store) -> None:
    meta = backend_store.metadata
    old = datetime.now(UTC) - timedelta(hours=2)
    silent = make_run(meta, "silent", started_at=old)  # never beat: its start counts
    stopped = make_run(meta, "stopped", started_at=old)
    beat_at = now_us() - HOUR_US
    meta.heartbeat(stopped.id, beat_at)
    alive = make_run(meta, "alive", started_at=old)
    meta.heartbeat(alive.id, now_us())
    done = make_run(meta, "done", started_at=old)
    meta.finish_run(done.id, RunStatus.FAILED, now_us(), RunError("E", "m", ""), ACTOR)
    other = make_run(meta, "elsewhere", started_at=old, project="other")
    cutoff = now_us() - 600_000_000  # no sign of life for 10 minutes

    assert all(is_stale(meta.get_run(r.id)) for r in (silent, stopped, other))
    assert not is_stale(meta.get_run(alive.id)) and not is_stale(meta.get_run(done.id))
    assert meta.get_run(silent.id).state == "stale" and meta.get_run(alive.id).state == "running"

    entries = ledger_size(meta)
    preview = meta.close_stale_runs(cutoff, ACTOR, project="default", dry_run=True)
    assert {r.id for r in preview} == {silent.id, stopped.id}
    assert ledger_size(meta) == entries and meta.get_run(silent.id).status == RunStatus.RUNNING

    closed = meta.close_stale_runs(cutoff, ACTOR, project="default")
    assert [r.id for r in closed] == [silent.id, stopped.id], "oldest sign of life first"
    for run in closed:
        assert run.status == RunStatus.KILLED and not run.stale
        assert run.error is not None and run.error.type == "lineal.Stale"
        assert run.error.message.startswith("heartbeat stopped at ")
    stored = meta.get_run(stopped.id)
    assert datetime_to_us(stored.ended_at) == beat_at  # type: ignore[arg-type]
    assert datetime_to_us(meta.get_run(silent.id).ended_at) == datetime_to_us(silent.started_at)
    assert meta.get_run(alive.id).status == RunStatus.RUNNING
    assert meta.get_run(done.id).status == RunStatus.FAILED
    assert meta.get_run(other.id).status == RunStatus.RUNNING, "another project is left alone"
    assert meta.close_stale_runs(cutoff, ACTOR, project="default") == []
    assert [r.id for r in meta.close_stale_runs(cutoff, ACTOR)] == [other.id]
    assert ledger_size(meta) == entries + 3, "one ledger entry per run closed"
    assert meta.verify_ledger().ok
