"""The API tokens of ``lineal server``. Defined on the shared ``metadata``.

``api_tokens``: one row per token, keyed by its ULID. ``token_hash`` is the SHA-256 of the
secret (``sha256:<hex>``), unique and indexed so a request's token is found in one lookup; the
secret is never stored. ``project`` NULL means every project; it is not a foreign key, since a
token may be made for a project before anything is recorded in it. Revoking updates the row
(``revoked_at``, ``revoked_by``), so the table is mutable and each change is one ledger entry.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table

from .tables import ID, MUTABLE_TABLES, NAME, metadata

HASH = 80  # "sha256:" + 64 hex digits, with room

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(NAME), nullable=False),
    Column("token_hash", String(HASH), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("project", String(NAME)),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("expires_at", BigInteger),
    Column("revoked_at", BigInteger),
    Column("revoked_by", String(NAME)),
    Column("ledger_seq", BigInteger),
    Index(None, "project"),
)

MUTABLE_TABLES.update({"api_tokens": ("id",)})
