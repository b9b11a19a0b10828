"""Connections and the one write path.

Reads and writes use separate engines on SQLite: reads begin a plain deferred transaction, writes
begin with ``BEGIN IMMEDIATE`` so that a writer takes the write lock up front and waits for it
(``busy_timeout``) instead of failing with "database is locked" when it tries to upgrade a read
lock. With WAL, readers never block the writer. On PostgreSQL and MySQL every write transaction
locks the single ``ledger_head`` row first, which serialises the audit chain across processes.

Every write goes through :meth:`Database.write`, which yields a :class:`WriteTx`; each change
it makes is stamped with a ledger sequence number and recorded in the chain before commit.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import math
import operator
import os
import sqlite3
import struct
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine, make_url

from ...entities import now_us
from ...errors import AlreadyExists, Conflict, InvalidArgument, StoreError
from ..types import GENESIS_HASH
from . import tables as t
from .opening import create_engine_for, prepare_sqlite_file
from .prepared import DriverReads, Prepared, run_on_driver
from .requests import check_request, record_request
from .write_gate import WriteGate, gate_for, release

WAL_CHECKPOINT_PAGES = 10_000
ENV_SQLITE_SYNC = "LINEAL_SQLITE_SYNC"
#: ``PRAGMA synchronous`` levels a user may choose. FULL (the default) fsyncs the WAL at every
#: commit, so a write that returned survives a power loss or an OS crash; NORMAL fsyncs only at
#: checkpoints: faster, still safe against a crash of the process, but the last commits before
#: a power loss may be lost.
SQLITE_SYNC_MODES = {"full": "FULL", "normal": "NORMAL"}
LEDGER_BATCH = 5_000  # pending ledger entries written in one statement
SQLITE_MULTIROW_MIN = 64  # rows from which SQLite inserts use multi-row statements
LEDGER_COLUMNS = [c.name for c in t.ledger.columns]


def _field(value: Any) -> str:
    # Strings are length-prefixed so no choice of content can shift a field boundary; floats use
    # repr, the shortest text that round-trips, which is what a read back gives again.
    if type(value) is str:
        return f"s{len(value)}:{value}"
    if value is None:
        return "n"
    return repr(value)


def row_text(table: str, row: dict[str, Any], columns: Sequence[str]) -> str:
    return table + "|" + "|".join([_field(row[c]) for c in columns])


def tuple_text(table: str, values: Sequence[Any]) -> str:
    # _field inlined: this runs once per value of every bulk-written row (metrics, imports).
    return table + "|" + "|".join([
        f"s{len(v)}:{v}" if type(v) is str else "n" if v is None else repr(v) for v in values
    ])


def payload_digest(table: str, rows: Iterable[dict[str, Any]]) -> str:
    """Digest of a set of rows of one table, independent of their order."""
    columns = ledgered_columns(table)
    return digest_lines([row_text(table, row, columns) for row in rows])


def digest_lines(lines: list[str]) -> str:
    lines.sort()
    return "sha256:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()


#: The prefix of a payload digest in the packed-columns form of :func:`metric_digest` (a
#: SHA-256 too; ``ledger.payload_digest`` holds 71 characters, so the marker replaces the
#: ``sha256:`` of the text form of :func:`digest_lines`, which every store written before, and
#: every table but ``metrics``, uses). The verifier accepts both.
DIGEST_V2 = "v2:"
_NAN = float("nan")
_PACK_DOUBLE = struct.Struct("<d").pack


def metric_digest(rows: Sequence[tuple[Any, ...]]) -> str:
    """Digest of a set of ``metrics`` rows, independent of their order: the packed-columns form.

    Each row starts ``(run_id, key, step, ts, value)`` (the table's ledgered columns; anything
    after is ignored, so rows already stamped with their ``ledger_seq`` can be passed). The
    canonical form, which the writer and the verifier both compute with this function:

    1. rows sorted by ``(run_id, key, step, ts)``; rows equal on all four (rare: the same
       step of a key logged twice in one microsecond) are ordered by the 8 little-endian bytes
       of their value;
    2. SHA-256 over ``b"metrics/v2\n"``, the row count as 8 little-endian bytes, then for each
       text column (run_id, key) the lengths in characters as int64 little-endian followed by
       the texts concatenated in UTF-8, then ``step`` and ``ts`` as int64 little-endian, then
       ``value`` as IEEE-754 doubles little-endian (every NaN as Python's ``float('nan')``,
       since a backend need not keep a NaN's payload bits, and -0.0 as 0.0, since SQLite
       gives back 0.0 for it: the text form failed verification there);
    3. written as ``"v2:" + hexdigest``.

    It costs a sort and a few C-level passes per batch instead of a ``repr`` text per value,
    and still covers every field of every row: a changed, added or removed point changes it.
    Raises InvalidArgument for a row the form cannot hold (a step or ts beyond int64, a value
    that is not a number): the store refuses such a point anyway.
    """
    try:
        # A plain tuple sort (no key tuples built): it orders by (run_id, key, step, ts) and
        # looks at a value only on a tie of those four, which the check below settles.
        ordered = sorted(rows)
        n = len(ordered)
        run_ids, keys, steps, stamps, values = _columns(ordered)
        floats = _canonical_floats(values)
        if len(set(stamps)) < n and len(set(zip(run_ids, keys, steps, stamps, strict=True))) < n:
            ordered.sort(key=lambda r: (r[0], r[1], r[2], r[3], _PACK_DOUBLE(
                _NAN if r[4] != r[4] else r[4] + 0.0)))
            run_ids, keys, steps, stamps, values = _columns(ordered)
            floats = _canonical_floats(values)
        packed = [array("q", steps).tobytes(), array("q", stamps).tobytes(), floats.tobytes()]
        texts = [part for column in (run_ids, keys) for part in (
            array("q", map(len, column)).tobytes(), "".join(column).encode())]
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError, IndexError) as error:
        raise InvalidArgument(f"a metric point cannot be stored: {error}") from error
    # One buffer, hashed in one call: hashlib gives up the GIL for each large update, and a
    # background writer waits for a busy training loop's switch interval to get it back.
    data = b"".join([b"metrics/v2\n", n.to_bytes(8, "little"), *texts, *packed])
    return DIGEST_V2 + hashlib.sha256(data).hexdigest()


_COLUMN = [operator.itemgetter(i) for i in range(5)]


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """The first five columns of ``rows``. One C-level pass per column: ``zip(*rows)`` makes an
    iterator object per row, and for a batch of 20,000 points the garbage collector they wake
    cost more than all the rest of the digest."""
    return [list(map(column, rows)) for column in _COLUMN]


def _canonical_floats(values: Sequence[float]) -> array[float]:
    """``values`` packed, with every NaN as ``float('nan')`` and -0.0 as 0.0. Both scans that
    find there is nothing to change run in C; only then is each value looked at."""
    floats = array("d", values)
    if 0.0 in floats or (floats and math.isnan(sum(floats))):  # NaN, or inf and -inf: rare
        floats = array("d", [_NAN if v != v else v + 0.0 for v in floats])
    return floats


def rows_digest(table: str, rows: list[tuple[Any, ...]], form: str) -> str:
    """The digest of ``rows`` (tuples in ledgered-column order) in the form of ``form``, an
    existing digest: the verifier recomputes each entry's digest in the form it was written."""
    if form.startswith(DIGEST_V2):
        if table != "metrics":
            raise ValueError(f"no packed digest form for table {table}")
        return metric_digest(rows)
    return digest_lines([tuple_text(table, row) for row in rows])


@functools.cache
def ledgered_columns(table: str) -> list[str]:
    """The columns a ledger digest covers, in table order (callers must not modify the list)."""
    return [c.name for c in t.metadata.tables[table].columns
            if c.name not in t.UNLEDGERED_COLUMNS]


def chain_hash(
    prev_hash: str, seq: int, ts: int, actor: str, action: str, etype: str, eid: str, digest: str
) -> str:
    text = "\x1f".join((prev_hash, str(seq), str(ts), actor, action, etype, eid, digest))
    return hashlib.sha256(text.encode()).hexdigest()


class Database:
    """Engines for one metadata database URL (``sqlite:///...``, ``postgresql+psycopg://...``,
    ``mysql+pymysql://...``)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        #: The database file of a SQLite store (None on servers).
        self.sqlite_path: Path | None = None
        #: Orders writers before SQLite's lock (see write_gate); None on servers.
        self.gate: WriteGate | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if self.dialect == "sqlite":
            self._init_sqlite(parsed)
        else:
            if self.dialect in ("mysql", "mariadb") and "charset" not in parsed.query:
                parsed = parsed.update_query_dict({"charset": "utf8mb4"})
            self.read_engine = self.write_engine = create_engine_for(
                parsed, pool_pre_ping=True, pool_size=5, max_overflow=10
            )
        self._local = threading.local()

    def _init_sqlite(self, parsed: sa.URL) -> None:
        database = parsed.database
        sync = sqlite_sync_mode()
        if not database or database == ":memory:":
            # An in-memory database is private to one connection, and the read and write
            # engines each open their own: writes would be invisible to every read. A
            # temporary file, removed on dispose, gives "sqlite://" the same behaviour as any
            # store while it is open.
            self._scratch = tempfile.TemporaryDirectory(prefix="lineal-memory-")
            database = str(Path(self._scratch.name) / "lineal.db")
            parsed = parsed.set(database=database)
        self.sqlite_path = Path(database)
        prepare_sqlite_file(self.sqlite_path)
        self.gate = gate_for(self.sqlite_path)
        self.write_engine = self._sqlite_engine(parsed, "BEGIN IMMEDIATE", sync)
        self.read_engine = self._sqlite_engine(parsed, "BEGIN", sync)

    @staticmethod
    def _sqlite_engine(parsed: sa.URL, begin: str, sync: str) -> Engine:
        engine = sa.create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 60})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event emit BEGIN itself (the pysqlite recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL unless the user opted into NORMAL: flush() promises durability.
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            # Fold the WAL into the database every ~40 MiB instead of SQLite's 4 MiB: each
            # checkpoint fsyncs, and at the default one came every few dozen runs. The file is
            # cut back to 64 MiB after a checkpoint, so it does not stay large.
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            cur.execute(f"PRAGMA journal_size_limit={64 << 20}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # On the driver's connection: this runs before every transaction, and going
            # through SQLAlchemy's execution machinery cost more than the statement.
            try:
                conn.connection.driver_connection.execute(begin)  # type: ignore[union-attr]
            except sqlite3.Error as error:  # e.g. still locked after busy_timeout
                raise exc.DBAPIError.instance(begin, (), error, sqlite3.Error) from error

        return engine

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction; consistent snapshot on every backend."""
        try:
            with self.read_engine.connect() as conn:
                yield conn
        except exc.SQLAlchemyError as error:
            raise translate(error) from error

    @contextlib.contextmanager
    def read_prepared(self) -> Iterator[DriverReads]:
        """A read transaction for :class:`Prepared` statements on the driver's cursor (the read
        hot path: an alias resolution); the same snapshot as :meth:`read`."""
        with self.read() as conn, conn.begin():
            yield DriverReads(conn)

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection of the write engine, behind the write gate on SQLite: every write
        transaction starts here (SQLAlchemy errors are the caller's to translate)."""
        with contextlib.ExitStack() as stack:
            if self.gate is not None:
                stack.enter_context(self.gate.held())
            yield stack.enter_context(self.write_engine.connect())

    @contextlib.contextmanager
    def write(self, actor: str) -> Iterator[WriteTx]:
        """A write transaction that records each change in the audit ledger before commit."""
        try:
            with self.writing() as conn:
                tx = WriteTx(conn, actor, self.dialect)
                try:
                    with conn.begin():
                        # Take the chain lock first: every writer then queues on one row
                        # (PostgreSQL, MySQL) or on BEGIN IMMEDIATE (SQLite), so no two
                        # writers ever deadlock.
                        tx.lock_head()
                        check_request(tx.conn)
                        yield tx
                        record_request(tx.conn, written=bool(tx._entries) or tx._dirty)
                        tx.close_chain()
                finally:
                    for restore in reversed(tx.on_release):
                        restore()
        except exc.SQLAlchemyError as error:
            raise translate(error) from error

    def execute_unledgered(self, statement: Prepared, params: dict[str, Any]) -> None:
        """Run one statement in its own short transaction, outside the audit ledger and without
        taking the ledger lock: for bookkeeping no digest covers (a run's heartbeat), which must
        neither queue behind the writers of the chain nor hold them up."""
        try:
            with self.writing() as conn, conn.begin():
                conn.execute(statement.statement, params)
        except exc.SQLAlchemyError as error:
            raise translate(error) from error

    def dispose(self) -> None:
        if self.gate is not None:
            gate, self.gate = self.gate, None
            release(gate)
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()
        if self._scratch is not None:
            self._scratch.cleanup()


def sqlite_sync_mode() -> str:
    """The ``PRAGMA synchronous`` level for SQLite stores: ``LINEAL_SQLITE_SYNC`` (``full``, the
    default, or ``normal``); see :data:`SQLITE_SYNC_MODES` for what each guarantees."""
    chosen = os.environ.get(ENV_SQLITE_SYNC, "").strip().lower() or "full"
    if chosen not in SQLITE_SYNC_MODES:
        raise InvalidArgument(
            f"{ENV_SQLITE_SYNC}={chosen!r} is not a synchronous mode",
            hint="use 'full' (durable across power loss, the default) or 'normal' (faster)",
        )
    return SQLITE_SYNC_MODES[chosen]


def translate(error: exc.SQLAlchemyError) -> Exception:
    """Backend errors to lineal errors, most specific first."""
    text = str(getattr(error, "orig", error)).lower()
    if isinstance(error, exc.IntegrityError):
        if "unique" in text or "duplicate" in text or "primary key" in text:
            return AlreadyExists(f"already exists: {first_line(error)}")
        if "foreign key" in text:
            return InvalidArgument(f"refers to something that does not exist: {first_line(error)}")
        return Conflict(f"constraint violated: {first_line(error)}")
    if isinstance(error, exc.DataError):
        # The value itself was refused (too long, out of range...): retrying cannot help.
        return InvalidArgument(f"the store refused a value: {first_line(error)}")
    if isinstance(error, exc.OperationalError) and ("deadlock" in text or "locked" in text):
        return Conflict(f"concurrent write conflict, try again: {first_line(error)}")
    return StoreError(f"metadata store error: {first_line(error)}")


def first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


class WriteTx:
    """One write transaction. Each ``insert``/``update``/``delete`` is one ledger entry."""

    def __init__(self, conn: Connection, actor: str, dialect: str) -> None:
        self.conn = conn
        self.actor = actor
        self.dialect = dialect
        self._head: tuple[int, str] | None = None
        self._entries: list[tuple[Any, ...]] = []  # ledger entries not yet written
        self._cursor: Any = None  # the driver cursor of the prepared-statement path
        self._dirty = False
        self.ts = now_us()
        # Run on the connection once the transaction has ended (committed or not), before it
        # goes back to the pool: to restore per-connection settings a write changed.
        self.on_release: list[Callable[[], None]] = []

    def lock_head(self) -> tuple[int, str]:
        if self._head is None:
            row = self.fetchone(_HEAD_FOR_UPDATE)
            if row is None:
                self.conn.execute(t.ledger_head.insert().values(id=1, seq=0, hash=GENESIS_HASH))
                row = (0, GENESIS_HASH)
            self._head = (int(row[0]), str(row[1]))
        return self._head

    def next_seq(self) -> int:
        return self.lock_head()[0] + 1

    def _append(self, action: str, etype: str, eid: str, digest: str) -> int:
        seq, prev = self.lock_head()
        seq += 1
        entry_hash = chain_hash(prev, seq, self.ts, self.actor, action, etype, eid, digest)
        self._entries.append((seq, self.ts, self.actor, action, etype, eid, digest, prev, entry_hash))
        self._head = (seq, entry_hash)
        self._dirty = True
        if len(self._entries) >= LEDGER_BATCH:
            self._write_entries()
        return seq

    def _write_entries(self) -> None:
        # Entries are written in batches rather than one statement each: nothing reads the
        # ledger inside a write, and no row refers to an entry by a foreign key, so they only
        # have to be in place by commit (one executemany instead of one INSERT per change).
        if self._entries:
            entries, self._entries = self._entries, []
            self._execute_many("ledger", LEDGER_COLUMNS, entries)

    def close_chain(self) -> None:
        self._write_entries()
        if self._dirty and self._head is not None:
            seq, head_hash = self._head
            self.execute(_HEAD_MOVE, {"new_seq": seq, "new_hash": head_hash})

    # -- the hot path: prepared statements on the driver's cursor --------------------------------
    def execute(self, statement: Prepared, params: dict[str, Any] | None = None) -> Any:
        """Run a prepared statement on the driver's cursor (see :class:`Prepared`); returns the
        cursor, for ``fetchone``/``fetchall``."""
        sql, args = statement.arguments(self.conn.dialect, params)
        return self._driver("execute", sql, args)

    def fetchone(self, statement: Prepared, params: dict[str, Any] | None = None) -> Any:
        return self.execute(statement, params).fetchone()

    def _driver(self, method: str, sql: str, args: Any) -> Any:
        """``cursor.execute``/``executemany`` on the driver's cursor of this transaction's
        connection; its errors wrapped as SQLAlchemy wraps them, so that Database.write
        translates them like any other."""
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = self.conn.connection.cursor()
        return run_on_driver(self.conn, cursor, method, sql, args)

    def normalise(self, table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
        """Coerce values to the column types, so that the digest of what is written equals the
        digest of what a later read returns."""
        out: dict[str, Any] = {}
        for name, kind in _column_kinds(table):
            value = row.get(name)
            if value is not None:
                if kind is float:
                    value = storable_float(float(value), self.dialect)
                elif kind is not None and type(value) is not kind:
                    value = kind(value)
            out[name] = value
        return out

    def insert(
        self, table: sa.Table, rows: list[dict[str, Any]], action: str, entity_id: str
    ) -> int:
        """Insert rows of one table as one ledger entry; returns the entry's sequence number."""
        if not rows:
            return 0
        if table.name in t.MUTABLE_TABLES and len(rows) != 1:
            raise ValueError(f"rows of mutable table {table.name} are ledgered one at a time")
        clean = [self.normalise(table, row) for row in rows]
        if table.name in t.MUTABLE_TABLES:
            entity_id = entity_key(table.name, clean[0])
        seq = self._append(action, table.name, entity_id, payload_digest(table.name, clean))
        columns = ledgered_columns(table.name)
        self._execute_many(table.name, [*columns, "ledger_seq"],
                           [(*[row[c] for c in columns], seq) for row in clean])
        return seq

    def insert_tuples(
        self, table: sa.Table, rows: list[tuple[Any, ...]], action: str, entity_id: str,
        stored: tuple[list[str], list[tuple[Any, ...]]] | None = None,
    ) -> int:
        """Insert already-normalised rows of an append-only table, given as tuples in the
        table's column order without ``ledger_seq``: the hot path for metric batches.
        ``stored``: ``(columns, rows)`` to write instead of ``rows``, which are still what the
        ledger digest covers (a metric's non-finite value stored as NULL plus its code)."""
        if not rows:
            return 0
        columns = ledgered_columns(table.name)
        if table.name == "metrics":
            digest = metric_digest(rows)
        else:
            digest = digest_lines([tuple_text(table.name, row) for row in rows])
        seq = self._append(action, table.name, entity_id, digest)
        if stored is not None:
            columns, rows = stored
        self._execute_many(table.name, [*columns, "ledger_seq"], [(*row, seq) for row in rows])
        return seq

    def insert_stamped(
        self, table: sa.Table, rows: list[tuple[Any, ...]], digest: str, action: str,
        entity_id: str, columns: list[str] | None = None,
    ) -> int:
        """Insert rows that already end with their ``ledger_seq``, which must be
        :meth:`next_seq`, under one ledger entry with ``digest``: the metric hot path, which
        builds each row once instead of copying it to stamp it. ``columns``: the columns
        before ``ledger_seq`` (default: the ledgered ones)."""
        if not rows:
            return 0
        seq = self._append(action, table.name, entity_id, digest)
        if rows[0][-1] != seq or rows[-1][-1] != seq:
            raise RuntimeError(f"rows stamped {rows[0][-1]}, but the ledger entry is {seq}")
        names = [*(columns or ledgered_columns(table.name)), "ledger_seq"]
        self._execute_many(table.name, names, rows)
        return seq

    def insert_unledgered(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows of a table the ledger does not cover, because it is derived from tables
        it does (``latest_metrics``, from ``metrics``)."""
        if rows:
            columns = [c.name for c in table.columns]
            self._execute_many(table.name, columns, [tuple([r.get(c) for c in columns]) for r in rows])

    def insert_each(self, table: sa.Table, rows: list[tuple[Any, ...]], action: str) -> None:
        """Insert already-normalised rows of a mutable table (tuples in column order, without
        ``ledger_seq``), each with its own ledger entry as the verifier requires for mutable
        rows, but in two batched statements instead of two per row: the bulk import path."""
        if not rows:
            return
        columns = ledgered_columns(table.name)
        key_at = [columns.index(c) for c in t.MUTABLE_TABLES[table.name]]
        seq, prev = self.lock_head()
        entries: list[tuple[Any, ...]] = []
        stamped: list[tuple[Any, ...]] = []
        for row in rows:
            seq += 1
            eid = "/".join([str(row[i]) for i in key_at])
            digest = digest_lines([tuple_text(table.name, row)])
            entry_hash = chain_hash(prev, seq, self.ts, self.actor, action, table.name, eid, digest)
            entries.append((seq, self.ts, self.actor, action, table.name, eid, digest, prev,
                            entry_hash))
            stamped.append((*row, seq))
            prev = entry_hash
        self._write_entries()
        self._execute_many("ledger", LEDGER_COLUMNS, entries)
        self._execute_many(table.name, [*columns, "ledger_seq"], stamped)
        self._head = (seq, prev)
        self._dirty = True

    def update_each(
        self, table: sa.Table, changes: dict[str, dict[str, Any]], action: str
    ) -> None:
        """Update many rows of a mutable table keyed by its one-column primary key
        (``{id: {column: value}}``): one ledger entry per row, as :meth:`update` writes, but
        read and written in batched statements (the bulk import advances thousands of version
        counters at once; one statement pair per row was half of its time)."""
        if not changes:
            return
        (key,) = t.MUTABLE_TABLES[table.name]
        columns = ledgered_columns(table.name)
        ids = sorted(changes)
        current: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = sa.select(table).where(table.c[key].in_(chunk))
            current.update({row[key]: dict(row) for row in self.conn.execute(query).mappings()})
        missing = [i for i in ids if i not in current]
        if missing:
            raise StoreError(f"{table.name} rows {missing[:3]} vanished during the write")
        seq, prev = self.lock_head()
        entries: list[tuple[Any, ...]] = []
        updates: list[dict[str, Any]] = []
        for row_id in ids:
            row = self.normalise(table, {**current[row_id], **changes[row_id]})
            seq += 1
            eid = entity_key(table.name, row)
            digest = digest_lines([row_text(table.name, row, columns)])
            entry_hash = chain_hash(prev, seq, self.ts, self.actor, action, table.name, eid, digest)
            entries.append((seq, self.ts, self.actor, action, table.name, eid, digest, prev,
                            entry_hash))
            updates.append({**{f"new_{c}": row[c] for c in columns}, "new_ledger_seq": seq,
                            "match_key": row_id})
            prev = entry_hash
        self._write_entries()
        self._execute_many("ledger", LEDGER_COLUMNS, entries)
        statement = (
            table.update()
            .where(table.c[key] == sa.bindparam("match_key"))
            .values({c: sa.bindparam(f"new_{c}") for c in [*columns, "ledger_seq"]})
        )
        self.conn.execute(statement, updates)
        self._head = (seq, prev)
        self._dirty = True

    def _execute_many(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        dialect = self.conn.dialect
        if self.dialect == "postgresql" and len(rows) > 16:
            cursor = self.conn.connection.cursor()
            if hasattr(cursor, "copy"):
                # psycopg 3 would send executemany one row at a time; COPY streams them.
                quote = dialect.identifier_preparer.quote
                names = ", ".join(quote(c) for c in columns)
                sql = f"COPY {quote(table)} ({names}) FROM STDIN"
                error_type = dialect.loaded_dbapi.Error
                try:
                    with cursor.copy(sql) as copy:
                        for row in rows:
                            copy.write_row(row)
                except error_type as error:  # wrapped as the other paths are, for translate()
                    raise exc.DBAPIError.instance(sql, None, error, error_type) from error
                finally:
                    cursor.close()
                return
            cursor.close()
        if self.dialect == "sqlite" and len(rows) >= SQLITE_MULTIROW_MIN:
            self._insert_multirow(table, columns, rows)
            return
        # sqlite3 loops in C; PyMySQL rewrites executemany into multi-row INSERTs itself.
        self._driver("executemany", _insert_sql(dialect, table, tuple(columns)), rows)

    def _insert_multirow(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        """Many rows per INSERT statement on SQLite. ``executemany`` gives up the GIL around
        each row's step and takes it back after, so while a training loop runs in another
        thread every row of a background write waits for that thread's switch interval; a
        statement of thousands of rows gives it up once for all of them."""
        per = max(1, _sqlite_variables(self.conn) // len(columns))
        names = tuple(columns)
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            sql = _insert_sql_rows(self.conn.dialect, table, names, len(chunk))
            self._driver("execute", sql, list(itertools.chain.from_iterable(chunk)))

    def update(
        self,
        table: sa.Table,
        key: dict[str, Any],
        values: dict[str, Any],
        action: str,
        missing: Exception | None = None,
    ) -> dict[str, Any]:
        """Update one row of a mutable table by primary key; returns the row as written.
        ``missing`` is raised when there is no such row (else a StoreError)."""
        select = _keyed_select(table, tuple(key))
        where = {f"key_{k}": v for k, v in key.items()}
        found = self.fetchone(select, where)
        if found is None:
            if missing is not None:
                raise missing
            raise StoreError(f"{table.name} row {key} vanished during the write")
        current = dict(zip(select.columns, found, strict=True))
        row = self.normalise(table, {**current, **values})
        eid = entity_key(table.name, row)
        seq = self._append(action, table.name, eid, payload_digest(table.name, [row]))
        # Only the columns that change: rewriting the key too would make the database check
        # every foreign key that references it (one per referencing table, per update).
        changed = tuple(sorted(c for c in values if c not in key))
        update = _keyed_update(table, tuple(key), changed)
        self.execute(
            update, {**where, **{f"new_{c}": row[c] for c in changed}, "new_ledger_seq": seq}
        )
        return row

    def delete(self, table: sa.Table, key: dict[str, Any], action: str) -> None:
        """Delete one row of a mutable table; the entry's digest is that of the deleted row."""
        where = sa.and_(*(table.c[k] == v for k, v in key.items()))
        current = self.conn.execute(sa.select(table).where(where)).mappings().first()
        if current is None:
            return
        row = self.normalise(table, dict(current))
        if not action.endswith((".delete", ".remove")):
            action += ".delete"  # the ledger verifier recognises deletions by this suffix
        self._append(action, table.name, entity_key(table.name, row), payload_digest(table.name, [row]))
        self.conn.execute(table.delete().where(where))


_NONFINITE_CODES = {"nan": "nan", "inf": "inf", "-inf": "-inf"}


def encode_float(value: float, dialect: str) -> tuple[float | None, str | None]:
    """``(value column, value_nonfinite column)`` storing ``value`` on ``dialect``: a value the
    backend cannot hold (NaN, +-inf on MySQL; NaN on SQLite) is NULL plus its code."""
    stored = storable_float(value, dialect)
    if stored is None:
        return None, repr(value)  # 'nan', 'inf', '-inf'
    return stored, None


def decode_float(value: float | None, code: str | None) -> float:
    """The float that ``encode_float`` stored (NULL without a code, from stores written before
    codes existed, is NaN)."""
    if code is not None:
        return float(_NONFINITE_CODES[code])
    return float("nan") if value is None else float(value)


def storable_float(value: float, dialect: str) -> float | None:
    """``value`` as the backend will give it back: MySQL cannot store NaN or infinities and
    SQLite silently turns NaN into NULL, so those become None (read back as NaN) before they are
    hashed into the ledger; otherwise the digest of what was written would not match the row."""
    if math.isfinite(value):
        return value
    if dialect in ("mysql", "mariadb") or (dialect == "sqlite" and math.isnan(value)):
        return None
    return value


@functools.cache
def _column_kinds(table: sa.Table) -> list[tuple[str, type | None]]:
    """``(column, python type)`` of a table's ledgered columns, for :meth:`WriteTx.normalise`."""
    kinds: list[tuple[str, type | None]] = []
    for column in table.columns:
        if column.name in t.UNLEDGERED_COLUMNS:
            continue
        kind: type | None = None
        if isinstance(column.type, sa.Double):
            kind = float
        elif isinstance(column.type, (sa.BigInteger, sa.Integer, sa.SmallInteger)):
            kind = int
        elif isinstance(column.type, (sa.String, sa.Text)):
            kind = str
        kinds.append((column.name, kind))
    return kinds


@functools.lru_cache(maxsize=256)
def _insert_sql(dialect: sa.Dialect, table: str, columns: tuple[str, ...]) -> str:
    """Positional INSERT text for the driver (``?`` for sqlite3, ``%s`` for the others)."""
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    return (f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
            f"VALUES ({', '.join([mark] * len(columns))})")


@functools.lru_cache(maxsize=64)
def _insert_sql_rows(dialect: sa.Dialect, table: str, columns: tuple[str, ...], count: int) -> str:
    """INSERT text of ``count`` rows in one statement, with ``?`` marks (SQLite)."""
    quote = dialect.identifier_preparer.quote
    row = "(" + ",".join("?" * len(columns)) + ")"
    return (f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
            f"VALUES {','.join([row] * count)}")


def _sqlite_variables(conn: Connection) -> int:
    """How many ``?`` one statement may hold on this SQLite build (999 before 3.32)."""
    dbapi = conn.connection.dbapi_connection
    try:
        return int(dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))  # type: ignore[union-attr]
    except AttributeError:  # Python before 3.11
        return 999


@functools.cache
def _keyed_select(table: sa.Table, keys: tuple[str, ...]) -> Prepared:
    """SELECT of one row's ledgered columns by its key columns (bound as ``key_<col>``),
    prepared once. Unledgered columns (a heartbeat) are neither read nor written back: they are
    not the writer's to carry over."""
    columns = [table.c[c] for c in ledgered_columns(table.name)]
    where = [table.c[k] == sa.bindparam(f"key_{k}") for k in keys]
    return Prepared(sa.select(*columns, table.c.ledger_seq).where(*where))


@functools.cache
def _keyed_update(table: sa.Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> Prepared:
    """UPDATE of ``columns`` and ``ledger_seq`` of one row by its key columns (``key_<col>``,
    ``new_<col>``), prepared once per table, key and set of columns."""
    where = [table.c[k] == sa.bindparam(f"key_{k}") for k in keys]
    return Prepared(table.update().where(*where).values(
        {c: sa.bindparam(f"new_{c}") for c in (*columns, "ledger_seq")}
    ))


def entity_key(table: str, row: dict[str, Any]) -> str:
    """The ledger entity id of a mutable row: its primary key values joined by '/'."""
    return "/".join(str(row[c]) for c in t.MUTABLE_TABLES[table])


_HEAD_FOR_UPDATE = Prepared(
    sa.select(t.ledger_head.c.seq, t.ledger_head.c.hash)
    .where(t.ledger_head.c.id == 1)
    .with_for_update()
)
_HEAD_MOVE = Prepared(
    t.ledger_head.update()
    .where(t.ledger_head.c.id == 1)
    .values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash"))
)
