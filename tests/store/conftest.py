"""Fixtures of the store conformance suite.

- ``blob_store``: every BlobStore implementation behind one fixture (folder, memory, S3 on moto).
- ``backend_store``: the store conformance suite takes its store only from this fixture and uses
  it only through the contract (:class:`lineal.store.base.MetadataStore`), so another
  implementation (an HTTP client of a lineal server) is tested by adding it to ``BACKENDS``.
  Tests that reach into the SQL implementation (tables, engines, raw SQL: tampering behind the
  ledger's back, query plans, indexes) are marked ``@pytest.mark.sql`` and run only on
  ``SQL_BACKENDS``. It overrides the shared fixture of the same name for this folder with the same
  contract (a Store whose metadata database holds nothing but what migrations put there, blobs
  in a fresh folder) made cheaper: the PostgreSQL and MariaDB databases are created and migrated
  once per session, then restored to their just-migrated content before each test. Migrating
  costs about a second per test on MariaDB; restoring costs milliseconds, which is what keeps
  a suite of a few hundred backend tests fast. SQLite still gets a new file per test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import lineal.store as store_module
from lineal.store import Store, open_store
from lineal.store.base import BlobStore
from lineal.store.blobs.local import LocalBlobStore
from lineal.store.blobs.memory import MemoryBlobStore
from lineal.store.sql import SqlMetadataStore

ADMIN_URLS = {
    "postgres": os.environ.get("LINEAL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("LINEAL_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(params=["local", "memory", "s3", "http"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """The same BlobStore contract on a folder, in memory, on S3 (moto server), and through a
    lineal server in this process (a folder behind it)."""
    if request.param == "http":
        from lineal.server.testing import in_process

        embedded = open_store(tmp_path / "store", artifacts=str(tmp_path / "blobs"))
        with in_process(embedded) as remote:
            yield remote.blobs
        embedded.close()
    elif request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
    elif request.param == "memory":
        yield MemoryBlobStore()
    else:
        from lineal.store.blobs.remote import FsspecBlobStore

        yield FsspecBlobStore(request.getfixturevalue("s3_bucket"))


class MigratedDatabase:
    """A server database migrated once, and restored to that state on demand."""

    def __init__(self, admin_url: str) -> None:
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"lineal_t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {self.name}"))
        url = sa.engine.make_url(admin_url).set(database=self.name)
        self.url = url.render_as_string(hide_password=False)
        self.metadata = SqlMetadataStore(self.url)
        engine = self.metadata.db.write_engine
        names = [n for n in sa.inspect(engine).get_table_names() if n != "alembic_version"]
        reflected = sa.MetaData()
        reflected.reflect(engine, only=names)
        self.tables = reflected.sorted_tables
        with engine.connect() as conn:  # whatever migrations seeded (the ledger's genesis)
            self.seed = {t.name: [dict(r) for r in conn.execute(t.select()).mappings()] for t in self.tables}

    def restore(self) -> None:
        engine = self.metadata.db.write_engine
        with engine.begin() as conn:
            # DELETE, not TRUNCATE: on a few rows it is far cheaper (TRUNCATE swaps files on
            # PostgreSQL and is DDL on MySQL). Children first; MySQL checks foreign keys row by
            # row, and runs reference runs, so it checks none while emptying.
            mysql = engine.dialect.name != "postgresql"
            if mysql:
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
            for table in reversed(self.tables):
                conn.execute(table.delete())
            if mysql:
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
            for table in self.tables:
                if self.seed[table.name]:
                    conn.execute(table.insert(), self.seed[table.name])

    def drop(self) -> None:
        self.metadata.close()
        with self.admin.connect() as conn:
            if self.admin.dialect.name == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {self.name}"))
        self.admin.dispose()


@pytest.fixture(scope="session")
def migrated_database() -> Iterator[Callable[[str], MigratedDatabase]]:
    """``get(backend)``: the session's migrated database for ``postgres`` or ``mysql``."""
    made: dict[str, MigratedDatabase | BaseException] = {}

    def get(backend: str) -> MigratedDatabase:
        if backend not in made:
            try:
                made[backend] = MigratedDatabase(ADMIN_URLS[backend])
            except Exception as error:  # noqa: BLE001 - any failure to reach the server
                made[backend] = error
        found = made[backend]
        if isinstance(found, BaseException):
            message = f"{backend} is not reachable: {found}"
            if IN_CI:
                pytest.fail(message + " (CI=true: a required backend must be up)")
            pytest.skip(message)
        return found

    yield get
    for found in made.values():
        if isinstance(found, MigratedDatabase):
            found.drop()


SQL_BACKENDS = ("sqlite", "postgres", "mysql")
HTTP_BACKENDS = ("http", "http-server")
BACKENDS = SQL_BACKENDS + HTTP_BACKENDS
"""Every MetadataStore implementation the conformance suite runs against: the SQL store on
three databases, and the HTTP store against the server in-process (``http``: httpx over ASGI,
SQLite behind it) and in a real uvicorn process (``http-server``: PostgreSQL behind it)."""


@pytest.fixture(scope="session")
def server_process(tmp_path_factory: pytest.TempPathFactory,
                   migrated_database: Callable[[str], MigratedDatabase]) -> Iterator[Any]:
    """One ``lineal server`` process for the session, over a migrated PostgreSQL database of
    its own (restored before each test, behind the server's back: the server keeps nothing)."""
    from lineal.server.testing import ServerProcess

    database = MigratedDatabase(ADMIN_URLS["postgres"]) if migrated_database("postgres") else None
    assert database is not None
    blobs = tmp_path_factory.mktemp("server-blobs")
    server = ServerProcess(backend=database.url, artifacts=str(blobs))
    server.database = database  # type: ignore[attr-defined]
    yield server
    server.stop()
    database.drop()


@pytest.fixture(params=BACKENDS)
def backend_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    migrated_database: Callable[[str], MigratedDatabase],
) -> Iterator[Store]:
    """The same store contract on each metadata backend (blobs in a local folder), made the
    default store."""
    if request.param not in SQL_BACKENDS:
        from lineal.server.testing import not_over_http

        if why := not_over_http(request.node):
            pytest.skip(f"{why}: not run on {request.param}")
    if request.param == "http":
        from lineal.server.testing import in_process

        embedded = open_store(tmp_path / "store", artifacts=str(tmp_path / "blobs"))
        with in_process(embedded) as store:
            store_module.set_default_store(store)
            yield store
        embedded.close()
        return
    if request.param == "http-server":
        from lineal.store.http import open_http_store

        server = request.getfixturevalue("server_process")
        server.database.restore()
        store = open_http_store(server.url)
        store_module.set_default_store(store)
        yield store
        store.close()
        return
    if request.param == "sqlite":
        store = open_store(tmp_path / "store", artifacts=str(tmp_path / "blobs"))
    else:
        database = migrated_database(request.param)
        database.restore()
        store = Store(database.metadata, LocalBlobStore(tmp_path / "blobs"), database.url)
    store_module.set_default_store(store)
    yield store
    if request.param == "sqlite":
        store.close()


def store_env(store: Store) -> dict[str, Any]:
    """``LINEAL_URI``/``LINEAL_ARTIFACTS`` that make another process open ``store``."""
    url = store.metadata.url  # type: ignore[attr-defined]
    if url.startswith("http://lineal.test"):  # in this process only
        pytest.skip("the in-process server is not reachable from another process")
    if url.startswith("http"):
        return {"LINEAL_URI": url}
    return {
        "LINEAL_URI": store.metadata.url,  # type: ignore[attr-defined]
        "LINEAL_ARTIFACTS": store.blobs.root_uri.removeprefix("file://"),
    }
