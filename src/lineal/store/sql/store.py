"""``SqlMetadataStore``: the whole MetadataStore contract over SQLAlchemy Core.

The class is assembled from one mixin per resource (runs, search, artifacts, registry and
deployments, lineage); this module owns opening the database, keeping its schema at the
revision this version of lineal expects, and what ``lineal store info`` reports about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ...entities import LedgerEntry, us_to_datetime
from ...errors import SchemaOutdated, StoreError
from ..base import MetadataStore
from ..types import AuditReport
from . import tables as t
from .artifacts import ArtifactsMixin
from .database import Database, first_line, translate
from .ledger import verify_ledger
from .lineage import LineageMixin
from .opening import migration_lock, not_a_store
from .registry import RegistryMixin
from .runs import RunsMixin
from .search import SearchMixin
from .tokens import TokensMixin
from .webhooks import WebhooksMixin


def _head_from_files() -> str:
    # Revisions are numbered in file names (0001_..., 0002_...) and form one line, so the head is
    # the highest number. A test checks this equals Alembic's own head; reading a directory
    # listing is far cheaper than importing Alembic on every open.
    versions = Path(__file__).parent / "migrations" / "versions"
    return max(p.name.split("_", 1)[0] for p in versions.glob("[0-9]*_*.py"))


SCHEMA_REVISION = _head_from_files()
_SIZE_QUERIES = {
    "postgresql": "SELECT pg_database_size(current_database())",
    "mysql": "SELECT SUM(data_length + index_length) FROM information_schema.tables "
             "WHERE table_schema = DATABASE()",
}


def current_revision(database_url: str) -> str | None:
    """The schema revision recorded in a database, without creating or changing anything;
    None if it has no lineal schema yet."""
    db = Database(database_url)
    try:
        with db.read() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            return None if value is None else str(value)
    finally:
        db.dispose()


def upgrade_database(database_url: str) -> tuple[str | None, str | None, str]:
    """Migrate the database at ``database_url`` to this lineal's schema (``lineal store
    upgrade``); returns ``(revision before, revision after, URL without password)``. Raises
    SchemaOutdated if the database is newer than this lineal."""
    before = current_revision(database_url)
    metadata = SqlMetadataStore(database_url, auto_upgrade=True)
    try:
        return before, metadata.schema_revision(), metadata.safe_url
    finally:
        metadata.close()


class SqlMetadataStore(
    RunsMixin, SearchMixin, ArtifactsMixin, RegistryMixin, LineageMixin, TokensMixin,
    WebhooksMixin, MetadataStore,
):
    """Open (and on SQLite, create or upgrade) the metadata database at ``url``.

    PostgreSQL and MySQL databases are created on first use too; an existing one at an older
    revision is upgraded only by ``lineal store upgrade`` (or ``auto_upgrade=True``), because a
    shared database may be in use by older clients.
    """

    def __init__(self, url: str, *, auto_upgrade: bool | None = None) -> None:
        self.db = Database(url)
        self.url = url
        if auto_upgrade is None:
            auto_upgrade = self.db.dialect == "sqlite"
        self._check_schema(auto_upgrade)

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def schema_revision(self) -> str | None:
        try:
            with self.db.read_engine.connect() as conn:
                if not sa.inspect(conn).has_table("alembic_version"):
                    return None
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except sa.exc.SQLAlchemyError as error:
            # The driver's error where there is one (only DBAPIError and StatementError carry it).
            cause = getattr(error, "orig", None) or error
            if self.db.sqlite_path is not None and "not a database" in str(cause):
                raise not_a_store(self.db.sqlite_path) from error
            raise StoreError(
                f"cannot open the metadata database {self.safe_url}: {cause}",
                hint="check the URL, that the server is running and that the user may connect",
            ) from error

    @property
    def safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def _check_schema(self, auto_upgrade: bool) -> None:
        revision = self.schema_revision()
        if revision == SCHEMA_REVISION:
            return
        if revision is not None and revision > SCHEMA_REVISION:
            raise SchemaOutdated(
                f"the metadata database is at schema {revision}, newer than this lineal "
                f"({SCHEMA_REVISION})",
                hint="upgrade lineal: pip install -U lineal",
            )
        if revision is None or auto_upgrade:
            self.upgrade(only_if_older=True)
            return
        # Older: another process may be creating this database right now (MySQL commits each
        # DDL statement, so a migration in progress shows a part-way revision). Wait for its
        # migration lock, then look again.
        with migration_lock(self.db.write_engine, self.db.sqlite_path):
            revision = self.schema_revision()
        if revision is not None and revision >= SCHEMA_REVISION:
            return
        raise SchemaOutdated(
            f"the metadata database is at schema {revision}; this lineal needs {SCHEMA_REVISION}",
            hint=f"run: lineal store upgrade --uri '{self.safe_url}'",
        )

    def upgrade(self, *, only_if_older: bool = False) -> None:
        """Run the Alembic migrations up to head, holding the database's migration lock so that
        concurrent openers of a new database wait for one of them to create it.
        ``only_if_older``: re-read the revision once the lock is held, and do nothing if another
        process has brought the schema up to date (or past it) in the meantime."""
        from .migrate import upgrade

        try:
            with migration_lock(self.db.write_engine, self.db.sqlite_path):
                if only_if_older:
                    revision = self.schema_revision()
                    if revision is not None and revision >= SCHEMA_REVISION:
                        return
                upgrade(self.db.write_engine)
        except sa.exc.SQLAlchemyError as error:
            raise StoreError(
                f"cannot create or upgrade the schema of {self.safe_url}: {first_line(error)}",
                hint="check that the user may create tables; then run `lineal store upgrade`",
            ) from error

    def ledger_entries(
        self,
        *,
        after_seq: int = 0,
        limit: int = 100,
        entity_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since_us: int | None = None,
    ) -> list[LedgerEntry]:
        lg = t.ledger
        query = sa.select(lg).where(lg.c.seq > after_seq)
        if since_us is not None:
            query = query.where(lg.c.ts >= since_us)
        if entity_id is not None:
            query = query.where(lg.c.entity_id == entity_id)
        if actor is not None:
            query = query.where(lg.c.actor == actor)
        if action is not None:
            query = query.where(lg.c.action.startswith(action))
        with self.db.read() as conn:
            return [
                LedgerEntry(
                    seq=row.seq,
                    timestamp=us_to_datetime(row.ts),  # type: ignore[arg-type]
                    actor=row.actor,
                    action=row.action,
                    entity_type=row.entity_type,
                    entity_id=row.entity_id,
                    payload_digest=row.payload_digest,
                    prev_hash=row.prev_hash,
                    hash=row.hash,
                )
                for row in conn.execute(query.order_by(lg.c.seq).limit(limit))
            ]

    def verify_ledger(self) -> AuditReport:
        """Check the audit chain and that every ledgered row matches its entry."""
        with self.db.read() as conn:
            return verify_ledger(conn)

    def request_response(self, key: str) -> tuple[bool, str | None]:
        keys = t.idempotency_keys
        with self.db.read() as conn:
            row = conn.execute(sa.select(keys.c.response).where(keys.c.key == key)).first()
        return (False, None) if row is None else (True, row[0])

    def save_request_response(self, key: str, response: str) -> None:
        keys = t.idempotency_keys
        try:  # outside the ledger, like a heartbeat: bookkeeping of the server (old keys are
            # deleted by record_request, which every recorded write goes through)
            with self.db.writing() as conn, conn.begin():
                conn.execute(keys.update().where(keys.c.key == key).values(response=response))
        except sa.exc.SQLAlchemyError as error:
            raise translate(error) from error

    def info(self) -> dict[str, Any]:
        counts = {}
        with self.db.read() as conn:
            for name in ("projects", "runs", "metrics", "artifact_versions", "edges", "ledger"):
                table = t.metadata.tables[name]
                counts[name] = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
        database: dict[str, Any] | None = None
        path = self.db.sqlite_path
        in_memory = sa.engine.make_url(self.url).database in (None, "", ":memory:")
        if path is not None and not in_memory and path.exists():
            wal = Path(str(path) + "-wal")
            database = {"path": str(path), "bytes": path.stat().st_size,
                        "wal_bytes": wal.stat().st_size if wal.exists() else 0}
        return {
            "backend": self.db.dialect,
            "url": self.safe_url,
            "schema_revision": self.schema_revision(),
            "schema_head": SCHEMA_REVISION,
            "counts": counts,
            "database_file": database,
            "database_bytes": (database["bytes"] + database["wal_bytes"] if database is not None
                               else self._server_bytes()),
        }

    def _server_bytes(self) -> int | None:
        """Data plus index bytes of a PostgreSQL or MySQL/MariaDB database as the server
        reports them (MySQL's figures are estimates); None when it will not say."""
        query = _SIZE_QUERIES.get("mysql" if self.db.dialect == "mariadb" else self.db.dialect)
        if query is None:
            return None
        try:
            with self.db.read() as conn:
                value = conn.execute(sa.text(query)).scalar()
        except sa.exc.SQLAlchemyError:  # a role without the privilege: the size is optional
            return None
        return None if value is None else int(value)

    def close(self) -> None:
        self.db.dispose()
