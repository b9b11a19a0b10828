"""The core entities of :mod:`lineal.entities`: ids, times, runs, metric points, artifact
versions, edges, purges, ledger entries and API tokens.

Entities are frozen dataclasses: a value read from the store is a snapshot. The live handle on a
run being recorded is :class:`lineal.tracking.ActiveRun`, which writes through the store.

Times are timezone-aware UTC datetimes; the store keeps them as integer microseconds.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ..auth.roles import Role
from ..identity import current_principal

__all__ = [
    "ApiToken",
    "ArtifactVersion",
    "Edge",
    "EdgeDirection",
    "LedgerEntry",
    "MetricPoint",
    "Purge",
    "Run",
    "RunError",
    "RunStatus",
    "Storage",
    "new_id",
    "now_us",
    "us_to_datetime",
    "datetime_to_us",
]

ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32, the digits of a ULID (:func:`new_id`); bulk ids and ULID decoding use it too."""


def new_id() -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits, in Crockford base32.

    Sortable by creation time, so ``ORDER BY id`` is creation order and ids make good B-tree keys.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(secrets.token_bytes(10), "big")
    chars = []
    for _ in range(26):
        chars.append(ULID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def now_us() -> int:
    """Microseconds since the epoch, the store's representation of time."""
    return time.time_ns() // 1000


def us_to_datetime(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def datetime_to_us(value: datetime | float | int | str) -> int:
    """Accepts a datetime (naive means local time), epoch seconds, or an ISO-8601 string."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.astimezone()
        return int(value.timestamp() * 1_000_000)
    return int(float(value) * 1_000_000)


def default_actor() -> str:
    """Who is acting: :func:`lineal.identity.current_principal` (the OS account in embedded
    mode, read from the OS and never from ``USER``/``LOGNAME``). Kept under this name for the
    callers that record runs and artifacts; there is one source of identity."""
    return current_principal()


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"


class EdgeDirection(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


class Storage(StrEnum):
    STORED = "stored"
    """lineal holds the bytes in its blob store."""
    REFERENCE = "reference"
    """Only the external URI, its digest (or etag) and size are recorded."""


@dataclass(frozen=True, slots=True)
class RunError:
    type: str
    message: str
    traceback: str

    def __repr__(self) -> str:
        return f"<RunError {self.type}: {_clip(self.message)}>"


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One point of a metric series. A store also accepts it as the plain tuple
    :data:`MetricTuple` ``(key, value, step, timestamp_us)``, which is what a run buffers (no
    object per point on the logging hot path); iterating a point gives that tuple's fields."""

    key: str
    value: float
    step: int
    timestamp_us: int

    def __iter__(self) -> Iterator[Any]:
        return iter((self.key, self.value, self.step, self.timestamp_us))


MetricTuple = tuple[str, float, int, int]
"""``(key, value, step, timestamp_us)``: a metric point as a run buffers it."""


@dataclass(frozen=True, slots=True)
class Run:
    """One execution of a step: ingest, preprocess, train, evaluate, deploy, or any kind."""

    id: str
    project: str
    name: str
    kind: str
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None = None
    parent_id: str | None = None
    experiment: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    """The latest value of each metric; the full series is ``store.metric_history``."""
    error: RunError | None = None
    created_by: str = ""
    cache_key: str | None = None
    cached_from: str | None = None
    """For a run served from the step cache: the run whose outputs it reused."""
    heartbeat_at: datetime | None = None
    """The last sign of life of the process recording a running run (see :attr:`stale`)."""

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def stale(self) -> bool:
        """Running, but no heartbeat for longer than ``lineal.heartbeat.stale_after_s()``
        (three heartbeat intervals): its process was most likely killed. A display state;
        the stored status stays ``running`` until ``lineal runs close --stale``."""
        from ..heartbeat import is_stale

        return is_stale(self)

    @property
    def state(self) -> str:
        """The status to show: ``stale`` for a stale running run, else the stored status."""
        return "stale" if self.stale else str(self.status)

    def __repr__(self) -> str:
        from ..notebook import run_repr

        return run_repr(self)

    def _repr_html_(self) -> str:
        from ..notebook import run_html

        return run_html(self)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = self.ended_at.isoformat() if self.ended_at else None
        data["heartbeat_at"] = self.heartbeat_at.isoformat() if self.heartbeat_at else None
        data["stale"] = self.stale
        return data


@dataclass(frozen=True, slots=True)
class Purge:
    """A version's bytes were deleted on request (right to erasure): when, by whom, why. The
    version, its metadata and its lineage remain; only the content is gone."""

    purged_at: datetime
    purged_by: str
    reason: str

    def __str__(self) -> str:
        return (f"purged on {self.purged_at.strftime('%Y-%m-%d %H:%M:%S UTC')} by "
                f"{self.purged_by} because {self.reason}")

    def __repr__(self) -> str:
        reason = self.reason if len(self.reason) <= 60 else self.reason[:59] + "…"
        return f"<Purge {self.purged_at:%Y-%m-%d %H:%M} by {self.purged_by}: {reason}>"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {"purged_at": self.purged_at.isoformat(), "purged_by": self.purged_by,
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ArtifactVersion:
    """An immutable version of a named artifact: a dataset, model, file, directory, environment...

    Identified by ``project/name@v<version>`` and by its content ``digest``.
    """

    id: str
    project: str
    name: str
    version: int
    kind: str
    digest: str
    uri: str
    size: int
    storage: Storage
    created_at: datetime
    created_by: str = ""
    producer_run_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    is_directory: bool = False
    tainted: bool = False
    purged: Purge | None = None
    """Set when the bytes were purged (``lineal purge``): reads of the content then fail."""

    @property
    def ref(self) -> str:
        """The canonical reference, e.g. ``default/churn-model@v3``."""
        return f"{self.project}/{self.name}@v{self.version}"

    def __repr__(self) -> str:
        from ..notebook import artifact_repr

        return artifact_repr(self)

    def _repr_html_(self) -> str:
        from ..notebook import artifact_html

        return artifact_html(self)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["storage"] = str(self.storage)
        data["created_at"] = self.created_at.isoformat()
        data["aliases"] = list(self.aliases)
        data["ref"] = self.ref
        data["purged"] = None if self.purged is None else self.purged.to_dict()
        return data


@dataclass(frozen=True, slots=True)
class Edge:
    """A run consumed (input) or produced (output) an artifact version, in a role."""

    run_id: str
    artifact_id: str
    direction: EdgeDirection
    role: str
    created_at: datetime

    def __repr__(self) -> str:
        return (f"<Edge run {self.run_id[:12]} {self.direction} {self.artifact_id[:12]} "
                f"as {self.role}>")

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "artifact_id": self.artifact_id,
            "direction": str(self.direction),
            "role": self.role,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One link of the audit hash chain; see :mod:`lineal.store.sql.ledger`."""

    seq: int
    timestamp: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload_digest: str
    prev_hash: str
    hash: str

    def __repr__(self) -> str:
        return f"<LedgerEntry #{self.seq} {self.action} {self.entity_type}:{self.entity_id} by {self.actor}>"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return data


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token of ``lineal server``: who made it, what role it grants, in which project
    (None: every project), until when. The secret is shown once, when the token is made
    (:func:`lineal.create_token`); the store keeps only its SHA-256, and neither ever appears
    here."""

    id: str
    name: str
    role: Role
    project: str | None
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def status_at(self, at: datetime) -> str:
        """``revoked``, ``expired`` or ``active`` at the instant ``at``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return "active"

    @property
    def status(self) -> str:
        """``revoked``, ``expired`` or ``active`` now."""
        return self.status_at(datetime.now(UTC))

    @property
    def scope(self) -> str:
        """The project the token acts in, or ``*`` for every project."""
        return self.project if self.project is not None else "*"

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.name!r} {self.role}@{self.scope} {self.status}>"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": str(self.role),
            "project": self.project,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_by": self.revoked_by,
            "status": self.status,
        }


def _clip(text: str, width: int = 80) -> str:
    """One line of at most ``width`` characters, for a repr."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"
