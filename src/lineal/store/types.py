"""Types the metadata contract speaks in, beside the entities: what an audit verification
reports, how a bulk import names a bad item, what an alias points at.

They live here, not in ``store/sql/``, because they belong to the contract
(:class:`lineal.store.base.MetadataStore`), not to one implementation: the SDK, the CLI and a
remote store use them without importing SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgument

__all__ = ["GENESIS_HASH", "AliasRecord", "AuditReport", "BadImport", "Problem"]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first audit ledger entry (and the head of an empty ledger)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing audit verification found wrong."""

    kind: str
    """chain-broken | entry-altered | head-mismatch | row-without-entry | row-altered |
    row-missing | derived-mismatch"""
    detail: str
    seq: int | None = None
    table: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "detail": self.detail, "seq": self.seq, "table": self.table}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        return cls(data["kind"], data["detail"], data.get("seq"), data.get("table"))


@dataclass
class AuditReport:
    """The audit ledger checked against itself and the rows it vouches for
    (:meth:`MetadataStore.verify_ledger`)."""

    entries: int = 0
    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "rows": self.rows,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problems": [p.to_dict() for p in self.problems],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditReport:
        return cls(
            entries=data["entries"],
            rows=data["rows"],
            head_seq=data["head_seq"],
            head_hash=data["head_hash"],
            problems=[Problem.from_dict(p) for p in data.get("problems", ())],
        )


class BadImport(InvalidArgument):
    """An item of a bulk import batch is invalid. ``section`` ("runs", "artifacts", "edges") and
    ``index`` locate it, so a file reader can name the line it came from."""

    def __init__(self, section: str, index: int, message: str, *, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.section = section
        self.index = index


@dataclass(frozen=True, slots=True)
class AliasRecord:
    """One artifact alias as stored (:meth:`MetadataStore.artifact_aliases`): what ``lineal
    verify`` checks, since an alias is otherwise only seen through the version it names."""

    artifact_id: str
    alias: str
    version_id: str
    version_artifact_id: str | None
    """The artifact the named version belongs to; None when no such version exists."""

    def to_dict(self) -> dict[str, Any]:
        return {"artifact_id": self.artifact_id, "alias": self.alias,
                "version_id": self.version_id, "version_artifact_id": self.version_artifact_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AliasRecord:
        return cls(data["artifact_id"], data["alias"], data["version_id"],
                   data.get("version_artifact_id"))
