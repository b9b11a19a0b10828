"""Model registry and deployment tables (registered models, model versions, aliases, stages,
approvals, registry events, deployments). Defined on the shared ``metadata``.

``registry_events`` is the registry's history: one row per change, written in the same
transaction as the change. Current state (stage, aliases) is kept in the other tables for fast
reads; as-of queries replay the events. Events are ordered by ``ledger_seq`` (the audit chain's
total order across processes), and their ``ts`` never decreases within a model.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .tables import ID, KEY, MUTABLE_TABLES, NAME, metadata

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project", String(NAME), ForeignKey("projects.name"), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("description", Text, nullable=False),
    Column("owner", String(NAME), nullable=False),
    Column("policy", Text, nullable=False),  # canonical JSON of ModelPolicy
    # The version counter; bumped in the transaction that creates a version.
    Column("latest_version", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("ledger_seq", BigInteger),
    UniqueConstraint("project", "name"),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("model_id", String(ID), ForeignKey("registered_models.id"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),
    Column("ledger_seq", BigInteger),
    PrimaryKeyConstraint("model_id", "key"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("model_id", String(ID), ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column(
        "artifact_version_id", String(ID), ForeignKey("artifact_versions.id"), nullable=False
    ),
    Column("description", Text, nullable=False),
    Column("stage", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("ledger_seq", BigInteger),
    UniqueConstraint("model_id", "version"),
    UniqueConstraint("model_id", "artifact_version_id"),
    Index(None, "artifact_version_id"),
    Index(None, "model_id", "stage"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("version_id", String(ID), ForeignKey("model_versions.id"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),
    Column("ledger_seq", BigInteger),
    PrimaryKeyConstraint("version_id", "key"),
)

# The primary key makes an alias unique within a model; moving it rewrites the row.
model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", String(ID), ForeignKey("registered_models.id"), nullable=False),
    Column("alias", String(NAME), nullable=False),
    Column("version_id", String(ID), ForeignKey("model_versions.id"), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("ledger_seq", BigInteger),
    PrimaryKeyConstraint("model_id", "alias"),
    Index(None, "version_id"),
)

model_approvals = Table(
    "model_approvals",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("version_id", String(ID), ForeignKey("model_versions.id"), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("actor", String(NAME), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("ledger_seq", BigInteger),
    Index(None, "version_id", "created_at"),
)

registry_events = Table(
    "registry_events",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("model_id", String(ID), ForeignKey("registered_models.id"), nullable=False),
    Column("version_id", String(ID), ForeignKey("model_versions.id")),
    Column("version", Integer),
    Column("alias", String(NAME)),
    Column("action", String(32), nullable=False),
    Column("actor", String(NAME), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("before_state", Text),  # canonical JSON, NULL when nothing was there
    Column("after_state", Text),
    Column("comment", Text, nullable=False),
    Column("ledger_seq", BigInteger),
    Index(None, "model_id", "ts"),
    Index(None, "model_id", "alias", "ts"),
    Index(None, "version_id"),
)

# Store-wide registry settings, e.g. ``admins``: a JSON list of users allowed to move protected
# aliases and loosen policies. Kept in the store so that a shared database has one answer.
registry_settings = Table(
    "registry_settings",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("ledger_seq", BigInteger),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project", String(NAME), ForeignKey("projects.name"), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("environment", String(NAME), nullable=False),
    Column("target", Text, nullable=False),
    Column("config", Text, nullable=False),  # canonical JSON
    Column("status", String(16), nullable=False),
    Column("model_id", String(ID), ForeignKey("registered_models.id"), nullable=False),
    Column("version_id", String(ID), ForeignKey("model_versions.id"), nullable=False),
    Column(
        "artifact_version_id", String(ID), ForeignKey("artifact_versions.id"), nullable=False
    ),
    Column("run_id", String(ID), ForeignKey("runs.id"), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger),
    Column("replaces_id", String(ID), ForeignKey("deployments.id")),
    Column("restores_id", String(ID), ForeignKey("deployments.id")),
    Column("comment", Text, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("ledger_seq", BigInteger),
    Index(None, "environment", "started_at"),
    Index(None, "project", "name", "environment", "started_at"),
    Index(None, "model_id", "started_at"),
    Index(None, "ended_at"),
    # Foreign keys, indexed so that writing a referenced row never scans deployments (0007).
    Index(None, "version_id"),
    Index(None, "artifact_version_id"),
    Index(None, "run_id"),
    Index(None, "replaces_id"),
    Index(None, "restores_id"),
)

MUTABLE_TABLES.update(
    {
        "registered_models": ("id",),
        "registered_model_tags": ("model_id", "key"),
        "model_versions": ("id",),
        "model_version_tags": ("version_id", "key"),
        "model_aliases": ("model_id", "alias"),
        "registry_settings": ("name",),
        "deployments": ("id",),
    }
)
