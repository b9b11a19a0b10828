"""Schema migrations: a store made by an older lineal upgrades itself (SQLite) or says exactly
which command upgrades it (PostgreSQL, MariaDB), and its data survives the upgrade."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from lineal.cli import cli
from lineal.entities import Run, RunStatus, new_id
from lineal.errors import SchemaOutdated
from lineal.store.sql import SqlMetadataStore
from lineal.store.sql.database import Database
from lineal.store.sql.migrate import head_revision, upgrade
from lineal.store.sql.store import SCHEMA_REVISION

pytestmark = pytest.mark.sql  # the SQL implementation itself, not the contract

OLDEST = "0001"


def test_schema_head_from_file_names_is_alembics_head() -> None:
    assert head_revision() == SCHEMA_REVISION


def _old_store(url: str) -> str:
    """A database at the first revision holding a run and its ledger entry, written the way
    that lineal wrote them (the runs code has not changed since)."""
    engine = sa.create_engine(url)
    upgrade(engine, OLDEST)
    engine.dispose()
    old = object.__new__(SqlMetadataStore)  # skip the schema check that would upgrade it
    old.db = Database(url)
    old.url = url
    run = Run(new_id(), "default", "train", "train", RunStatus.RUNNING, datetime.now(UTC),
              params={"lr": 0.1})
    old.create_run(run, "old-lineal")
    old.close()
    return run.id


def _revision(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    return str(revision)


def test_an_old_sqlite_store_upgrades_itself_when_opened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lineal.db'}"
    run_id = _old_store(url)
    assert _revision(url) == OLDEST
    store = SqlMetadataStore(url)
    assert _revision(url) == SCHEMA_REVISION
    assert store.get_run(run_id).params == {"lr": 0.1}
    assert store.verify_ledger().ok
    store.close()


@pytest.mark.parametrize("backend", ["postgres", "mysql"])
def test_an_old_server_database_names_the_upgrade_command(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue("pg_url" if backend == "postgres" else "mysql_url")
    run_id = _old_store(url)
    with pytest.raises(SchemaOutdated) as caught:
        SqlMetadataStore(url)
    assert f"at schema {OLDEST}" in str(caught.value)
    assert caught.value.hint is not None and "lineal store upgrade --uri" in caught.value.hint
    assert _revision(url) == OLDEST, "opening must not upgrade a shared database"

    result = CliRunner().invoke(cli, ["--uri", url, "store", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"schema {SCHEMA_REVISION}" in result.output
    store = SqlMetadataStore(url)
    assert store.get_run(run_id).params == {"lr": 0.1}
    assert store.verify_ledger().ok
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrations_build_exactly_the_tables_the_code_declares(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # A table, column or index changed in tables*.py without a migration (or the reverse)
    # shows up here as a difference.
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from lineal.store.sql import tables

    url = (f"sqlite:///{tmp_path / 'lineal.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    engine = sa.create_engine(url)
    upgrade(engine, "head")
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    engine.dispose()
    assert differences == []
