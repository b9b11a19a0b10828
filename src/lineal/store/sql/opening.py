"""Opening a metadata database without guessing: the SQLite file, the driver, the migration lock.

- A SQLite store file is created whole (in a temporary file beside it, linked into place), so a
  file found at the store's path is always a complete SQLite database. A 0-byte or foreign file
  there is refused instead of being silently turned into a new, empty store.
- A missing database driver names the extra to install.
- The first open of an empty database runs the migrations under a database-wide lock
  (``pg_advisory_lock`` on PostgreSQL, ``GET_LOCK`` on MySQL/MariaDB, a lock file beside a
  SQLite database), and re-reads the schema revision once it holds the lock, so that several
  processes opening a new store at once do not race to create the same tables.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ...errors import StoreError

__all__ = ["create_engine_for", "has_lineal_schema", "migration_lock", "not_a_store", "prepare_sqlite_file"]

#: The extra that installs each backend's driver, for the error when it is missing.
_DRIVER_EXTRAS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}
#: How long a process waits for another one's migrations before giving up (seconds).
MIGRATION_LOCK_TIMEOUT = 600


def create_engine_for(url: sa.URL, **options: object) -> Engine:
    """``sa.create_engine``, with a missing driver reported as the extra to install."""
    try:
        return sa.create_engine(url, **options)
    except ImportError as error:
        backend = url.get_backend_name()
        extra = _DRIVER_EXTRAS.get(backend)
        hint = (f"pip install 'lineal[{extra}]'" if extra
                else f"install the Python driver for {url.drivername}")
        raise StoreError(
            f"the database driver for {url.drivername}:// is not installed ({error})", hint=hint
        ) from error


def prepare_sqlite_file(path: Path) -> None:
    """Make sure ``path`` is a SQLite database, creating an empty one if nothing is there.

    Refuses a 0-byte or non-SQLite file: opening it would either fail later with a raw driver
    error or, for an empty file, silently start a new store where the user expected their data.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _create_sqlite_file(path)
    except OSError as error:
        raise StoreError(
            f"cannot create a lineal store at {path.parent}: {error.strerror or error}",
            hint="choose a folder you can write to (--uri or LINEAL_URI)",
        ) from error
    check_sqlite_file(path)


def check_sqlite_file(path: Path) -> None:
    """Raise StoreError if ``path`` is a folder or an empty file.

    Only ``stat``, never ``open``: closing any descriptor of a database file drops every POSIX
    lock this process holds on it, including those of SQLite connections already open on the
    same store (the CLI and the SDK can share a process), which corrupts their view of the WAL.
    A file that is not a database is found by SQLite itself on first read; see
    :func:`not_a_store`.
    """
    try:
        info = path.stat()
    except OSError as error:
        raise StoreError(f"cannot read the lineal database {path}: {error.strerror or error}",
                         hint="check the file's permissions") from error
    if stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{path} is a folder, not a lineal database file",
                         hint="point --uri or LINEAL_URI at the folder that holds lineal.db")
    if info.st_size == 0:
        raise not_a_store(path, "is empty (0 bytes)")


def not_a_store(path: Path, what: str = "is not a SQLite database") -> StoreError:
    """The error for a file at a store's database path that is not a lineal database."""
    return StoreError(
        f"{path} {what}, so it is not a lineal store",
        hint=f"if it holds nothing you need, delete it (rm '{path}') and lineal creates a new "
        "store there; otherwise restore it from a backup or point --uri elsewhere",
    )


def _create_sqlite_file(path: Path) -> None:
    # Write the header (WAL mode is recorded in it) into a temporary file, then link it into
    # place: link fails if another process got there first, and either way the file at `path`
    # is complete. Where hard links are not supported, rename (the race left is harmless: both
    # files are empty databases).
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.new")
    # os.open rather than mkstemp: the file gets the permissions the umask allows, as a file
    # SQLite creates itself would (a store shared by a group stays shared).
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:
            if not path.exists():
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def migration_lock(engine: Engine, sqlite_path: Path | None) -> Iterator[None]:
    """Hold the database-wide migration lock (see the module docstring) for the block."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        if sqlite_path is None:
            yield
            return
        with _folder_lock(sqlite_path.parent):
            yield
        return
    database = engine.url.database or ""
    with engine.connect() as conn:
        if dialect == "postgresql":
            key = int.from_bytes(hashlib.sha256(f"lineal:{database}".encode()).digest()[:8],
                                 "big", signed=True)
            # SET LOCAL: the timeout ends with this transaction, the lock stays with the session.
            conn.execute(sa.text(f"SET LOCAL lock_timeout = {MIGRATION_LOCK_TIMEOUT * 1000}"))
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()
            return
        name = "lineal-migrate-" + hashlib.sha256(database.encode()).hexdigest()[:32]
        got = conn.execute(sa.text("SELECT GET_LOCK(:name, :timeout)"),
                           {"name": name, "timeout": MIGRATION_LOCK_TIMEOUT}).scalar()
        if got != 1:
            raise StoreError(
                f"timed out after {MIGRATION_LOCK_TIMEOUT}s waiting for another process to "
                "finish creating or upgrading the metadata database",
                hint="try again; if it persists, look for a stuck `lineal store upgrade`",
            )
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    # flock on the folder rather than on a lock file: nothing is left behind, and it cannot
    # interfere with SQLite's own (fcntl) locks on the database file.
    try:
        import fcntl
    except ImportError:  # Windows: SQLite's own locking still keeps each migration whole
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def has_lineal_schema(database_url: str) -> bool:
    """Whether the database at ``database_url`` holds a lineal schema (an empty server
    database is not a store: reading must not create one there)."""
    import sqlalchemy as sa

    from .database import Database

    db = Database(database_url)
    try:
        with db.read() as conn:
            return bool(sa.inspect(conn).has_table("alembic_version"))
    finally:
        db.dispose()
