"""The metadata schema, in SQLAlchemy Core. Alembic migrations under ``migrations/`` create and
evolve it; a test checks that the migrations produce exactly these tables.

Portability rules that keep one schema valid on SQLite, PostgreSQL and MySQL/MariaDB:
- times are BIGINT microseconds since the epoch (no timezone or precision differences);
- JSON is stored as canonical text, so what is read back hashes to what was written (the audit
  ledger depends on that);
- floats are DOUBLE (SQLAlchemy's Float is single precision on MySQL);
- no booleans (MySQL returns them as integers): small integers instead;
- indexed strings have bounded lengths (MySQL cannot index TEXT).

Every ledgered table has ``ledger_seq``: the audit entry that last wrote the row.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = 26  # ULID length
NAME = 128
KEY = 250

projects = Table(
    "projects",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("description", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("ledger_seq", BigInteger),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project", String(NAME), ForeignKey("projects.name"), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger),
    Column("parent_id", String(ID), ForeignKey("runs.id")),
    Column("experiment", String(NAME)),
    Column("error_type", String(256)),
    Column("error_message", Text),
    Column("error_traceback", Text),
    Column("created_by", String(NAME), nullable=False),
    Column("cache_key", String(80)),
    Column("cached_from", String(ID), ForeignKey("runs.id")),
    Column("ledger_seq", BigInteger),
    # The last sign of life of a running run's process (0005). Outside the ledger (see
    # UNLEDGERED_COLUMNS): a heartbeat every 30 s would otherwise be an entry each.
    Column("heartbeat_at", BigInteger),
    # Listings are newest first, ties broken by id: these two serve every listing and the
    # keyset pages of a search by start time without a sort (0007).
    Index(None, "started_at", "id"),
    Index(None, "project", "started_at", "id"),
    Index(None, "project", "name"),
    Index(None, "parent_id"),
    Index(None, "cached_from"),  # every foreign key leads an index (tests/store/test_fk_indexes.py)
    Index(None, "status"),
    Index(None, "kind"),
    Index(None, "experiment"),
    Index(None, "cache_key"),
)

run_params = Table(
    "run_params",
    metadata,
    Column("run_id", String(ID), ForeignKey("runs.id"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),  # canonical JSON, so params keep their type
    Column("ledger_seq", BigInteger),
    PrimaryKeyConstraint("run_id", "key"),
    # Run search finds runs by a param's value here. Migration 0010 creates it, on MySQL over
    # the value's first 255 characters and on PostgreSQL for short rows only (its index entries
    # hold about 2.7 KB): spelling those here would import both dialects into every command.
    Index(None, "key", "value", "run_id"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(ID), ForeignKey("runs.id"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),
    Column("ledger_seq", BigInteger),
    PrimaryKeyConstraint("run_id", "key"),
    Index(None, "key"),
    Index(None, "key", "value", "run_id"),  # as on run_params (0010)
)

metrics = Table(
    "metrics",
    metadata,
    Column("run_id", String(ID), ForeignKey("runs.id"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("value", Double),  # NULL where the backend cannot store NaN/inf: see value_nonfinite
    Column("ledger_seq", BigInteger),
    # 'nan', 'inf' or '-inf' where `value` is NULL because the backend cannot store that value
    # (MySQL: none of them; SQLite: NaN), so every backend gives back what was logged (0005).
    Column("value_nonfinite", String(4)),
    Index(None, "run_id", "key", "step"),
)

# Derived from `metrics` in the same transaction, so that listing runs and ranking them by a
# metric does not scan every series. Not ledgered: `lineal audit verify` recomputes it.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(ID), ForeignKey("runs.id"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Double),
    Column("step", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("value_nonfinite", String(4)),  # as in `metrics`
    PrimaryKeyConstraint("run_id", "key"),
    # Run search: a metric term reads a range of it, a sort by a metric walks it (0010).
    Index(None, "key", "value", "run_id"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project", String(NAME), ForeignKey("projects.name"), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # The version counter; bumping it takes a row lock, which serialises concurrent writers of
    # new versions of one artifact on PostgreSQL and MySQL.
    Column("latest_version", Integer, nullable=False),
    Column("ledger_seq", BigInteger),
    UniqueConstraint("project", "name"),
)

artifact_versions = Table(
    "artifact_versions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("artifact_id", String(ID), ForeignKey("artifacts.id"), nullable=False),
    Column("project", String(NAME), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("digest", String(71), nullable=False),
    Column("uri", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("storage", String(16), nullable=False),
    Column("is_directory", SmallInteger, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("producer_run_id", String(ID), ForeignKey("runs.id")),
    Column("ledger_seq", BigInteger),
    UniqueConstraint("artifact_id", "version"),
    UniqueConstraint("artifact_id", "digest"),
    Index(None, "digest"),
    Index(None, "project", "name", "version"),
    Index(None, "project", "kind", "created_at"),
    Index(None, "producer_run_id"),
)

artifact_tags = Table(
    "artifact_tags",
    metadata,
    Column("version_id", String(ID), ForeignKey("artifact_versions.id"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),
    Column("ledger_seq", BigInteger),
    PrimaryKeyConstraint("version_id", "key"),
    Index(None, "key"),
)

artifact_aliases = Table(
    "artifact_aliases",
    metadata,
    Column("artifact_id", String(ID), ForeignKey("artifacts.id"), nullable=False),
    Column("alias", String(NAME), nullable=False),
    Column("version_id", String(ID), ForeignKey("artifact_versions.id"), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("ledger_seq", BigInteger),
    PrimaryKeyConstraint("artifact_id", "alias"),
    Index(None, "version_id"),
)

# Versions whose bytes were deleted on request (right to erasure): the version, its metadata and
# lineage stay; this row says when, by whom and why the bytes went. Append-only: a purge cannot be
# undone, and its ledger entry is the governance record.
purges = Table(
    "purges",
    metadata,
    Column("version_id", String(ID), ForeignKey("artifact_versions.id"), primary_key=True),
    Column("purged_at", BigInteger, nullable=False),
    Column("purged_by", String(NAME), nullable=False),
    Column("reason", Text, nullable=False),
    Column("ledger_seq", BigInteger),
)

# The lineage graph: bipartite, runs on one side and artifact versions on the other.
edges = Table(
    "edges",
    metadata,
    Column("run_id", String(ID), ForeignKey("runs.id"), nullable=False),
    Column("version_id", String(ID), ForeignKey("artifact_versions.id"), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("role", String(NAME), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("ledger_seq", BigInteger),
    PrimaryKeyConstraint("run_id", "version_id", "direction", "role"),
    Index(None, "version_id", "direction"),
    Index(None, "run_id", "direction"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=False),
    Column("actor", String(NAME), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("entity_id", String(KEY), nullable=False),
    Column("payload_digest", String(71), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "entity_type", "entity_id"),
    Index(None, "ts"),
    Index(None, "actor"),
)

# One row. Every write transaction locks and advances it, which both serialises the hash chain
# across processes and gives the chain's tip without scanning the ledger.
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("method", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False, index=True),
    Column("response", Text, nullable=True),
)
"""Keys of the server requests whose writes were applied (:mod:`lineal.store.idempotency`):
written in the transaction of the write, outside the ledger (bookkeeping, not history)."""

# Tables whose rows are rewritten in place or deleted: each row is its own ledger entity, so a
# later entry for the same entity supersedes an earlier one. All other ledgered tables are
# append-only and an entry may cover a batch of their rows.
MUTABLE_TABLES: dict[str, tuple[str, ...]] = {
    "projects": ("name",),
    "runs": ("id",),
    "run_tags": ("run_id", "key"),
    "artifacts": ("id",),
    "artifact_tags": ("version_id", "key"),
    "artifact_aliases": ("artifact_id", "alias"),
}

# Columns no ledger digest includes as such (adding one to a table leaves the digests of its
# existing rows valid): bookkeeping written outside the ledger (heartbeat_at), and the
# non-finite code of a metric, which digests include through the value it stands for (a digest
# covers the value logged; the verifier decodes `value_nonfinite` back into `value`).
UNLEDGERED_COLUMNS = frozenset({"ledger_seq", "heartbeat_at", "value_nonfinite"})
NONFINITE = "value_nonfinite"

# Tables of other resources live in their own modules on the same MetaData; importing them here
# makes `metadata` complete wherever tables are used (the names above are defined by now).
from . import tables_auth, tables_lineage, tables_registry, tables_webhooks  # noqa: E402, F401
