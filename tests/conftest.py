"""Shared fixtures: real SQLite files, real PostgreSQL and MariaDB databases, a real S3 API.

Every database fixture makes a fresh, uniquely named database and drops it afterwards. When the
server cannot be reached the test is skipped on a developer machine and FAILS in CI (CI=true):
a backend the suite needs must never be silently skipped there.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import lineal.store as store_module
from lineal.store import Store, open_store

PG_ADMIN = os.environ.get("LINEAL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN = os.environ.get("LINEAL_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unreachable(what: str, error: BaseException) -> None:
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a required backend must be up)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads or writes a store the developer has: each starts from a fresh folder."""
    monkeypatch.setenv("LINEAL_URI", str(tmp_path / "default-store"))
    monkeypatch.delenv("LINEAL_ARTIFACTS", raising=False)
    monkeypatch.delenv("LINEAL_PROJECT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    # Tables are as wide as $COLUMNS; CI terminals set it to 80, which would wrap ids mid-cell.
    monkeypatch.setenv("COLUMNS", "200")
    store_module.set_default_store(None)
    yield
    store_module.set_default_store(None)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An embedded store (SQLite file + local blob folder) in a temporary directory."""
    s = open_store(tmp_path / "store")
    store_module.set_default_store(s)
    yield s
    s.close()


def _fresh_database(admin_url: str, what: str) -> Iterator[str]:
    import sqlalchemy as sa

    name = f"lineal_t_{uuid.uuid4().hex[:12]}"
    try:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server
        unreachable(what, error)
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database URL."""
    yield from _fresh_database(PG_ADMIN, "PostgreSQL at 127.0.0.1:5432")


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A fresh, empty MariaDB/MySQL database URL."""
    yield from _fresh_database(MYSQL_ADMIN, "MariaDB at 127.0.0.1:3306")


@pytest.fixture(params=["sqlite", "postgres", "mysql", "http"])
def backend_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same store contract on each metadata backend (blobs in a local folder), and through
    a lineal server in this process (``http``: SQLite behind it). Tests about the SQL
    implementation itself are marked ``sql`` and skip ``http``."""
    if request.param == "http":
        from lineal.server.testing import in_process, not_over_http

        if why := not_over_http(request.node):
            pytest.skip(f"{why}: not run over HTTP")

        embedded = open_store(tmp_path / "store", artifacts=str(tmp_path / "blobs"))
        with in_process(embedded) as remote:
            store_module.set_default_store(remote)
            yield remote
        embedded.close()
        return
    if request.param == "sqlite":
        uri = str(tmp_path / "store")
    else:
        fixture = "pg_url" if request.param == "postgres" else "mysql_url"
        uri = request.getfixturevalue(fixture)
    s = open_store(uri, artifacts=str(tmp_path / "blobs"))
    store_module.set_default_store(s)
    yield s
    s.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on loopback; returns its endpoint URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:
        unreachable("moto[server]", error)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the moto server; returns ``s3://bucket/prefix``."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("LINEAL_S3_ENDPOINT_URL", s3_endpoint)
    bucket = f"lineal-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/artifacts"
