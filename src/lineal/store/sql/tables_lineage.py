"""Lineage-side tables. Defined on the shared ``metadata``.

``taints``: artifact versions someone marked as bad (leaked, mislabelled, poisoned data...). One
row per tainted version; clearing a taint deletes the row. Both are ledgered, so the audit log
keeps who tainted what, why and when, and who cleared it. What a taint reaches downstream is not
stored: it is computed by a graph query when asked, so it is never stale.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, Text

from .tables import ID, MUTABLE_TABLES, NAME, metadata

taints = Table(
    "taints",
    metadata,
    Column("version_id", String(ID), ForeignKey("artifact_versions.id"), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("actor", String(NAME), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("ledger_seq", BigInteger),
    Index(None, "created_at"),
)

MUTABLE_TABLES.update({"taints": ("version_id",)})
