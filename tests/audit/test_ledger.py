"""The audit ledger detects tampering done directly in the database, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import lineal
from lineal.cli import cli
from lineal.store import Store


def populate(store: Store, tmp_path: Path) -> str:
    data = tmp_path / "data.csv"
    data.write_text("x,y\n1,2\n")
    with lineal.run("prep", kind="preprocess", params={"a": 1}, tags={"team": "ml"}, capture=False) as run:
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1))
        version = run.log_artifact(data, kind="dataset")
    with lineal.run("train", kind="train", capture=False) as train:
        train.use_artifact(version.ref)
    lineal.set_alias(version.ref, "golden")
    return run.id


def sql(store: Store, statement: str, **params: object) -> None:
    with store.metadata.db.write_engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.text(statement), params)


def insert_latest(store: Store, **row: object) -> None:
    from lineal.store.sql.tables import latest_metrics

    with store.metadata.db.write_engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(latest_metrics.insert().values(**row))


def last_seq(store: Store) -> int:
    return store.metadata.ledger_entries(limit=10_000)[-1].seq


TAMPERING: dict[str, tuple[Callable[[Store, str], None], str]] = {
    "run row changed": (
        lambda s, rid: sql(s, "UPDATE runs SET name = 'forged' WHERE id = :id", id=rid),
        "row-altered",
    ),
    "param changed": (
        lambda s, rid: sql(s, "UPDATE run_params SET value = '2' WHERE run_id = :id", id=rid),
        "row-altered",
    ),
    "metric deleted": (
        lambda s, rid: sql(s, "DELETE FROM metrics WHERE run_id = :id AND step = 3", id=rid),
        "row-altered",
    ),
    "tag deleted": (
        lambda s, rid: sql(s, "DELETE FROM run_tags WHERE run_id = :id", id=rid),
        "row-missing",
    ),
    "run inserted without entry": (
        lambda s, rid: sql(
            s,
            "INSERT INTO runs (id, project, name, kind, status, started_at, created_by) "
            "VALUES ('01FORGEDFORGEDFORGEDFORGED', 'default', 'ghost', 'train', 'finished', 1, 'x')",
        ),
        "row-without-entry",
    ),
    "entry field changed": (
        lambda s, rid: sql(s, "UPDATE ledger SET actor = 'mallory' WHERE seq = 3"),
        "entry-altered",
    ),
    "entry deleted": (lambda s, rid: sql(s, "DELETE FROM ledger WHERE seq = 4"), "chain-broken"),
    "last entry deleted": (
        lambda s, rid: sql(s, "DELETE FROM ledger WHERE seq = :seq", seq=last_seq(s)),
        "head-mismatch",
    ),
    "entries reordered": (
        lambda s, rid: (
            sql(s, "UPDATE ledger SET seq = -1 WHERE seq = 5"),
            sql(s, "UPDATE ledger SET seq = 5 WHERE seq = 6"),
            sql(s, "UPDATE ledger SET seq = 6 WHERE seq = -1"),
        ),
        "chain-broken",
    ),
    "latest metric value changed": (
        lambda s, rid: sql(s, "UPDATE latest_metrics SET value = 0.001 WHERE run_id = :id", id=rid),
        "derived-mismatch",
    ),
    "latest metric moved to an earlier step": (
        lambda s, rid: sql(s, "UPDATE latest_metrics SET step = 1, value = 0.5 WHERE run_id = :id",
                           id=rid),
        "derived-mismatch",
    ),
    "latest metric deleted": (
        lambda s, rid: sql(s, "DELETE FROM latest_metrics WHERE run_id = :id", id=rid),
        "derived-mismatch",
    ),
    "latest metric invented": (
        lambda s, rid: insert_latest(s, run_id=rid, key="accuracy", value=0.99, step=0, ts=1),
        "derived-mismatch",
    ),
    "alias moved behind the ledger's back": (
        lambda s, rid: sql(s, "UPDATE artifact_aliases SET updated_at = 7"),
        "row-altered",
    ),
}


def test_clean_store_verifies(backend_store: Store, tmp_path: Path) -> None:
    populate(backend_store, tmp_path)
    report = lineal.audit.verify()
    assert report.ok, report.problems
    assert report.entries > 10 and report.rows > 10
    assert report.head_seq == last_seq(backend_store)


@pytest.mark.sql
@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_detected(backend_store: Store, tmp_path: Path, case: str) -> None:
    run_id = populate(backend_store, tmp_path)
    assert lineal.audit.verify().ok
    tamper, expected = TAMPERING[case]
    tamper(backend_store, run_id)
    report = lineal.audit.verify()
    assert not report.ok
    assert expected in {p.kind for p in report.problems}, report.problems


def test_deletions_through_the_api_are_not_tampering(store: Store, tmp_path: Path) -> None:
    populate(store, tmp_path)
    version = lineal.get_artifact("data.csv@golden")
    store.metadata.remove_alias(version.project, version.name, "golden", "tester")
    assert lineal.audit.verify().ok


def test_cli_audit_log_and_verify(store: Store, tmp_path: Path) -> None:
    run_id = populate(store, tmp_path)
    runner = CliRunner()
    uri = ["--uri", store.location]
    result = runner.invoke(cli, [*uri, "audit", "log", "--entity", run_id, "--json"])
    assert result.exit_code == 0, result.output
    assert any(entry["action"] == "run.create" for entry in __import__("json").loads(result.output))
    result = runner.invoke(cli, [*uri, "audit", "verify"])
    assert result.exit_code == 0 and "ledger OK" in result.output
    sql(store, "UPDATE runs SET status = 'failed' WHERE id = :id", id=run_id)
    result = runner.invoke(cli, [*uri, "audit", "verify"])
    assert result.exit_code != 0
    assert "row-altered" in result.output


def test_latest_metrics_written_by_lineal_verify_with_nan_inf_and_repeated_steps(
    backend_store: Store,
) -> None:
    # The derived-table check must not flag what lineal itself wrote: NaN and inf (NULL on
    # MySQL), a step logged twice (the later point wins) and points logged out of order.
    with lineal.run("odd", capture=False) as run:
        run.log_metric("nan", float("nan"), step=0)
        run.log_metric("inf", float("inf"), step=0)
        run.log_metric("twice", 1.0, step=3)
        run.log_metric("twice", 2.0, step=3)
        run.log_metric("back", 5.0, step=9)
        run.log_metric("back", 1.0, step=2)
    report = lineal.audit.verify()
    assert report.ok, report.problems
