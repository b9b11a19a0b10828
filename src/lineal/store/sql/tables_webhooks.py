"""Webhook tables. Defined on the shared ``metadata``.

``webhooks`` is ledgered (who pointed the store's events at which URL, and who removed it, are
governance facts). Its secret is kept apart, in ``webhook_secrets``, outside the ledger: a
ledger digest over a short secret would let anyone who can read the audit log test guesses of
it offline. ``webhook_deliveries`` (the delivery log: attempts, leases, status codes) and
``webhook_cursor`` (how far into the ledger events have been enqueued) are dispatcher
bookkeeping, outside the ledger like a run's heartbeat: a retry every few seconds against a
receiver that is down must not grow the audit chain nor take its lock.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .tables import ID, MUTABLE_TABLES, NAME, metadata

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # canonical JSON list; [] = every event type
    Column("project", String(NAME)),  # NULL: every project
    Column("active", SmallInteger, nullable=False),
    # The ledger position when the webhook was added: it receives the events after it.
    Column("since_seq", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("removed_at", BigInteger),
    Column("removed_by", String(NAME)),
    Column("ledger_seq", BigInteger),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("webhook_id", String(ID), ForeignKey("webhooks.id"), primary_key=True),
    Column("secret", String(256), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("webhook_id", String(ID), ForeignKey("webhooks.id"), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("event_seq", BigInteger),  # NULL for a ping
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger),
    Column("lease_owner", String(64)),
    Column("lease_until", BigInteger),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger),
    # One delivery per webhook and event: the database itself refuses a second.
    UniqueConstraint("webhook_id", "event_seq"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "webhook_id", "created_at"),
)

webhook_cursor = Table(
    "webhook_cursor",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
)

MUTABLE_TABLES.update({"webhooks": ("id",)})
