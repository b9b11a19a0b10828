"""What every torture campaign shares: backends, child processes, feature detection, the machine.

The campaigns run lineal in child processes (the thing under test must be able to die), so the
children must import the same lineal as the harness: :func:`child_env` puts the directory the
harness imported ``lineal`` from first on ``PYTHONPATH``.

Features other work may add later (``close_stale_runs``, ``lineal gc``) are detected at run
time; a check that cannot run yet is reported as "not available in this build", never as a
failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TORTURE = Path(__file__).resolve().parent
REPO = TORTURE.parent
PG_ADMIN = os.environ.get("LINEAL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN = os.environ.get("LINEAL_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/test")
NOT_AVAILABLE = "not available in this build"
TRACEBACK = "Traceback (most recent call last)"
# Kinds of `lineal verify` problems that are debris, not damage: a leftover temp file or an
# unreferenced blob is reported in its own column, not as a corrupt store.
DEBRIS_KINDS = re.compile(r"leftover|temp|partial|unreferenced|orphan", re.IGNORECASE)


def lineal_source() -> Path:
    """The directory holding the ``lineal`` package the harness runs against."""
    import lineal

    return Path(lineal.__file__).resolve().parent.parent


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: same lineal, no developer store, no colour."""
    # The store's location never leaks in from the developer's shell; settings such as
    # LINEAL_SQLITE_SYNC do, so the children run with the durability the report names.
    env = {k: v for k, v in os.environ.items()
           if k not in ("LINEAL_URI", "LINEAL_ARTIFACTS", "LINEAL_PROJECT")}
    path = [str(lineal_source()), str(REPO)]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    env.update(PYTHONPATH=os.pathsep.join(path), NO_COLOR="1", COLUMNS="200",
               PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def python_child(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start ``python <args>`` with :func:`child_env` (``env=`` extends it)."""
    env = child_env(**kwargs.pop("env", {}))
    return subprocess.Popen([sys.executable, *args], env=env, **kwargs)


def run_cli(args: list[str], *, timeout: float = 120, env: dict[str, str] | None = None,
            cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """``lineal <args>`` in a child process, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "lineal.cli", *args], env=child_env(**(env or {})),
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


# -- backends ------------------------------------------------------------------------------------
@dataclass
class Backend:
    """One metadata backend a campaign writes to, with a local blob folder."""

    name: str  # sqlite | postgres | mariadb
    uri: str
    artifacts: str
    admin_url: str | None = None
    database: str | None = None

    def open(self) -> Any:
        from lineal.store import open_store

        return open_store(self.uri, self.artifacts)

    @property
    def sqlite_file(self) -> Path | None:
        return Path(self.uri) / "lineal.db" if self.name == "sqlite" else None

    def drop(self) -> None:
        if self.admin_url and self.database:
            _drop_database(self.admin_url, self.database)


@contextlib.contextmanager
def backend(name: str, workdir: Path, admin: str | None = None) -> Iterator[Backend]:
    """A fresh, empty store on ``name``; the server database is dropped afterwards. ``admin``
    is a URL of any database on the server (default: ``LINEAL_TEST_PG`` / ``LINEAL_TEST_MYSQL``)."""
    blobs = str(workdir / f"{name}-blobs")
    if name == "sqlite":
        yield Backend(name, str(workdir / "sqlite-store"), str(workdir / "sqlite-store" / "blobs"))
        return
    admin = admin or (PG_ADMIN if name == "postgres" else MYSQL_ADMIN)
    database = f"lineal_torture_{uuid.uuid4().hex[:10]}"
    url = _create_database(admin, database)
    b = Backend(name, url, blobs, admin, database)
    try:
        yield b
    finally:
        b.drop()


def server_reachable(name: str, admin: str | None = None) -> str | None:
    """None if the server behind ``name`` answers, else why not."""
    if name == "sqlite":
        return None
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(admin or (PG_ADMIN if name == "postgres" else MYSQL_ADMIN))
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any reason the server is not there
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return None


def _create_database(admin_url: str, name: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(admin_url: str, name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        else:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    engine.dispose()


# -- checks shared by campaigns -------------------------------------------------------------------
def sqlite_integrity(path: Path | None) -> str | None:
    """None when ``PRAGMA integrity_check`` says ok (or there is no SQLite file), else its text."""
    if path is None or not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    finally:
        conn.close()
    return None if rows == ["ok"] else "; ".join(rows[:5])


def store_problems(store: Any, check_blobs: bool = True) -> tuple[list[str], list[str]]:
    """``lineal verify`` and ``lineal audit verify`` through the library: (damage, debris).
    ``check_blobs=False`` checks blobs' presence and size without re-hashing them."""
    import lineal.audit
    from lineal.verify import verify_store

    damage: list[str] = []
    debris: list[str] = []
    report = verify_store(store, check_blobs=check_blobs)
    for problem in report.problems:
        (debris if DEBRIS_KINDS.search(problem.kind) else damage).append(f"verify {problem}")
    debris += [f"verify leftover {item}" for item in getattr(report, "leftovers", [])]
    for p in lineal.audit.verify(store=store).problems:
        damage.append(f"audit {p.kind}: {p.detail}")
    return damage, debris


def leftover_files(artifacts: str) -> list[str]:
    """Temp files a writer leaves behind when it dies: ``<blobs>/tmp/*`` and ``*.lineal-part``."""
    root = Path(artifacts)
    if not root.exists():
        return []
    found = [p for p in (root / "tmp").glob("*") if p.is_file()] if (root / "tmp").exists() else []
    found += [p for p in root.rglob("*.lineal-part")]
    found += [p for p in root.rglob("*.part") if p.parent.name != "tmp"]
    return sorted({str(p) for p in found})


def _close_stale_fn() -> Any:
    """``lineal.close_stale_runs`` (or ``lineal.heartbeat.close_stale_runs``), else None."""
    import importlib

    import lineal

    try:
        fn = getattr(lineal, "close_stale_runs", None)
        if fn is None:
            fn = getattr(importlib.import_module("lineal.heartbeat"), "close_stale_runs", None)
    except Exception:  # noqa: BLE001 - a module that is not there, or fails to import: absent
        return None
    return fn if callable(fn) else None


def close_stale_available() -> bool:
    return _close_stale_fn() is not None


def close_stale(store: Any) -> Any:
    """Close every run left ``running``: the campaign calls it once all its children are dead,
    so an age of 0 (whatever the parameter is called) is right."""
    import inspect

    fn = _close_stale_fn()
    params = inspect.signature(fn).parameters
    kwargs: dict[str, Any] = {}
    if "store" in params:
        kwargs["store"] = store
    for name in ("older_than", "stale_after", "timeout", "grace", "max_age", "after", "seconds"):
        if name in params:
            kwargs[name] = 0
    return fn(**kwargs)


def gc_command() -> list[str] | None:
    """``lineal gc`` removing debris of any age, non-interactively, or None when this build has
    no gc. Age 0 is right here: no writer is running when the campaign calls it."""
    result = run_cli(["gc", "--help"], timeout=60)
    if result.returncode != 0:
        return None
    command = ["gc"]
    if "--older-than" in result.stdout:
        command += ["--older-than", "0s"]
    for flag in ("--yes", "--force"):
        if flag in result.stdout:
            command.append(flag)
            break
    return command


# -- the machine -----------------------------------------------------------------------------------
def machine(backends: list[str], admins: dict[str, str] | None = None) -> dict[str, str]:
    """What the figures were measured on."""
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": f"{platform.system()} {platform.release()} {platform.machine()}",
        "nproc": str(os.cpu_count()),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "lineal": _lineal_version(),
    }
    for name in backends:
        if name == "sqlite":
            continue
        info[name] = _server_version(name, (admins or {}).get(name))
    info["durability (SQLite)"] = sqlite_durability()
    for name in backends:
        if name != "sqlite":
            info[f"durability ({name})"] = _server_durability(name, (admins or {}).get(name))
    return info


def _lineal_version() -> str:
    import lineal

    commit = ""
    with contextlib.suppress(Exception):
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    return f"{lineal.__version__} ({commit})" if commit else lineal.__version__


def _server_version(name: str, admin: str | None = None) -> str:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(admin or (PG_ADMIN if name == "postgres" else MYSQL_ADMIN))
        with engine.connect() as conn:
            version = str(conn.execute(sa.text("SELECT version()")).scalar())
        engine.dispose()
    except Exception as error:  # noqa: BLE001
        return f"unreachable ({type(error).__name__})"
    return version.split(" on ")[0].split(",")[0]


def _server_durability(name: str, admin: str | None = None) -> str:
    """The server settings that decide whether a committed transaction survives a crash."""
    import sqlalchemy as sa

    queries = {
        "postgres": ["SHOW fsync", "SHOW synchronous_commit", "SHOW full_page_writes"],
        "mariadb": ["SELECT @@innodb_flush_log_at_trx_commit", "SELECT @@sync_binlog",
                    "SELECT @@innodb_doublewrite"],
    }[name]
    try:
        engine = sa.create_engine(admin or (PG_ADMIN if name == "postgres" else MYSQL_ADMIN))
        with engine.connect() as conn:
            values = [str(conn.execute(sa.text(q)).scalar()) for q in queries]
        engine.dispose()
    except Exception as error:  # noqa: BLE001
        return f"unknown ({type(error).__name__})"
    labels = [q.split()[-1].removeprefix("@@") for q in queries]
    return ", ".join(f"{k}={v}" for k, v in zip(labels, values, strict=True))


def sqlite_durability() -> str:
    """``PRAGMA journal_mode`` and ``synchronous`` as lineal sets them on its connections."""
    import sqlalchemy as sa

    from lineal.store import open_store

    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(folder)
        try:
            engine = store.metadata.db.write_engine
            with engine.connect() as conn:
                mode = conn.execute(sa.text("PRAGMA journal_mode")).scalar()
                sync = conn.execute(sa.text("PRAGMA synchronous")).scalar()
        finally:
            store.close()
    return f"journal_mode={mode}, synchronous={names.get(int(sync), sync)}"


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str))


def scratch(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"lineal-torture-{prefix}-"))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
