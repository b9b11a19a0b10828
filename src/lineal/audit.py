"""The audit ledger: who changed what, when, and proof that nothing was changed behind its back.

    lineal.audit.log(actor="alice", limit=20)     # entries in chain order
    report = lineal.audit.verify()                # AuditReport; report.ok, report.problems
"""

from __future__ import annotations

from datetime import datetime

from .entities import LedgerEntry
from .errors import InvalidArgument
from .inputs import check_limit
from .store import Store, default_store
from .store.types import AuditReport, Problem
from .times import to_us

__all__ = ["AuditReport", "Problem", "log", "verify"]


def log(
    *,
    actor: str | None = None,
    action: str | None = None,
    entity_id: str | None = None,
    since: datetime | str | float | None = None,
    after_seq: int = 0,
    limit: int = 100,
    store: Store | None = None,
) -> list[LedgerEntry]:
    """Ledger entries in chain order, filtered by actor, action prefix, entity and time."""
    store = store or default_store()
    if isinstance(after_seq, bool) or not isinstance(after_seq, int) or not 0 <= after_seq < 2**63:
        raise InvalidArgument(f"after_seq must be a ledger sequence number (0 or more), got "
                              f"{after_seq!r}", hint="use the seq of the last entry you have seen")
    return store.metadata.ledger_entries(
        after_seq=after_seq,
        limit=check_limit(limit),
        entity_id=entity_id,
        actor=actor,
        action=action,
        since_us=None if since is None else to_us(since),
    )


def verify(*, store: Store | None = None) -> AuditReport:
    """Verify the hash chain and that every ledgered row is vouched for by its entry."""
    store = store or default_store()
    report: AuditReport = store.metadata.verify_ledger()
    return report
