"""Verifying the audit ledger against itself and against the data it vouches for.

The ledger is a hash chain: entry n stores ``hash(prev_hash, seq, ts, actor, action, entity,
payload_digest)`` and ``prev_hash`` is entry n-1's hash; ``ledger_head`` holds the tip. Every
ledgered row carries the ``ledger_seq`` of the entry that last wrote it. Verification proves:

1. the chain is intact: sequence numbers are 1..N with no gap, each hash recomputes, each entry
   links to the one before, and the head names the last entry (an entry modified, deleted,
   inserted or reordered breaks one of these);
2. every ledgered row is vouched for: its ``ledger_seq`` names an entry of its table, and the
   digest of the rows stamped with that entry equals the entry's payload digest (a row modified,
   or inserted without an entry, fails here). A digest is recomputed in the form it was written
   in: ``v2:...`` is the packed-columns form of metric batches
   (:func:`lineal.store.sql.database.metric_digest`), a plain ``sha256:...`` the text form of
   everything else and of stores written before it;
3. nothing vouched for has vanished: every entry for an append-only table still has its rows, and
   the latest entry of each mutable row is either a deletion or matches a present row;
4. derived tables agree with their ledgered source: ``latest_metrics`` (what ``runs list``, run
   ordering by a metric and leaderboards read) holds, for each run and metric key, the step,
   timestamp and value of the last point of ``metrics`` (highest step, then timestamp), and no
   other row. It is not ledgered itself, so editing it would otherwise go unseen.

What a hash chain cannot prove on its own: that nobody rewrote the whole chain from some point
on with valid hashes. ``verify`` returns the head hash; record it elsewhere (a ticket, a commit,
a notary) and compare later to close that gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...errors import LinealError
from ..types import GENESIS_HASH, AuditReport, Problem
from . import tables as t
from .database import (
    chain_hash,
    decode_float,
    digest_lines,
    entity_key,
    ledgered_columns,
    row_text,
    rows_digest,
)

DELETE_SUFFIXES = (".delete", ".remove")
CHUNK = 20_000


@dataclass(slots=True)
class _Entry:
    action: str
    table: str
    entity: str
    digest: str


def ledgered_tables() -> list[sa.Table]:
    return [
        table
        for table in t.metadata.sorted_tables
        if "ledger_seq" in table.c and table.name != "ledger"
    ]


def verify_ledger(conn: Connection, max_problems: int = 1000) -> AuditReport:
    """Check the chain and every ledgered row; see the module docstring."""
    report = AuditReport()
    entries = _check_chain(conn, report)
    _check_head(conn, report)
    for table in ledgered_tables():
        if table.name in t.MUTABLE_TABLES:
            _check_mutable(conn, table, entries, report)
        else:
            _check_append_only(conn, table, entries, report)
        if len(report.problems) >= max_problems:
            break
    if len(report.problems) < max_problems:
        _check_latest_metrics(conn, report, max_problems - len(report.problems))
    return report


def _check_latest_metrics(conn: Connection, report: AuditReport, limit: int) -> None:
    """Point 4 of the module docstring, as three queries that each return only disagreements:
    a latest row no metrics row has, a latest row some later point supersedes, and a series
    with no latest row. Values compare equal when both are NULL (NaN on MySQL)."""
    lm, m = t.latest_metrics, t.metrics
    same_series = sa.and_(m.c.run_id == lm.c.run_id, m.c.key == lm.c.key)
    same_value = sa.or_(m.c.value == lm.c.value, sa.and_(m.c.value.is_(None), lm.c.value.is_(None)))
    unbacked = sa.select(lm.c.run_id, lm.c.key, lm.c.step, lm.c.value).where(
        ~sa.exists().where(same_series, m.c.step == lm.c.step, m.c.ts == lm.c.ts, same_value)
    )
    superseded = sa.select(lm.c.run_id, lm.c.key, lm.c.step, lm.c.value).where(
        sa.exists().where(same_series, sa.or_(
            m.c.step > lm.c.step, sa.and_(m.c.step == lm.c.step, m.c.ts > lm.c.ts)))
    )
    unlisted = sa.select(m.c.run_id, m.c.key).distinct().where(~sa.exists().where(same_series))
    checks = (
        (unbacked, "is not a point of the run's metrics: changed or added outside lineal"),
        (superseded, "is not the run's last point of that metric: a later step was logged"),
    )
    for query, what in checks:
        for row in conn.execute(query.limit(limit)):
            report.problems.append(Problem(
                "derived-mismatch", f"latest_metrics row {row.run_id}/{row.key} (step {row.step}, "
                f"value {row.value}) {what}", table="latest_metrics"))
    for series in conn.execute(unlisted.limit(limit)):
        report.problems.append(Problem(
            "derived-mismatch", f"latest_metrics has no row for {series.run_id}/{series.key}, "
            "which has metric points: runs list and leaderboards miss it",
            table="latest_metrics"))


def _check_chain(conn: Connection, report: AuditReport) -> dict[int, _Entry]:
    lg = t.ledger
    entries: dict[int, _Entry] = {}
    prev_hash, expected_seq = GENESIS_HASH, 1
    query = sa.select(lg).order_by(lg.c.seq)
    for row in conn.execution_options(yield_per=CHUNK).execute(query):
        report.entries += 1
        if row.seq != expected_seq:
            report.problems.append(
                Problem("chain-broken", f"expected entry {expected_seq}, found {row.seq}", row.seq)
            )
        recomputed = chain_hash(
            row.prev_hash, row.seq, row.ts, row.actor, row.action, row.entity_type,
            row.entity_id, row.payload_digest,
        )
        if recomputed != row.hash:
            report.problems.append(
                Problem("entry-altered", f"entry {row.seq} ({row.action}) does not hash to its "
                        "stored hash: a field was changed", row.seq)
            )
        if row.prev_hash != prev_hash:
            report.problems.append(
                Problem("chain-broken", f"entry {row.seq} does not link to the entry before it "
                        "(an entry was removed, inserted or reordered)", row.seq)
            )
        entries[row.seq] = _Entry(row.action, row.entity_type, row.entity_id, row.payload_digest)
        prev_hash, expected_seq = row.hash, row.seq + 1
        report.head_seq, report.head_hash = row.seq, row.hash
    return entries


def _check_head(conn: Connection, report: AuditReport) -> None:
    head = conn.execute(sa.select(t.ledger_head.c.seq, t.ledger_head.c.hash)).first()
    if head is None:
        if report.entries:
            report.problems.append(Problem("head-mismatch", "the ledger head row is missing"))
        return
    if (head.seq, head.hash) != (report.head_seq, report.head_hash):
        report.problems.append(
            Problem("head-mismatch", f"the head names entry {head.seq} but the chain ends at "
                    f"{report.head_seq}: entries at the end were removed or added")
        )


def _rows_by_seq(conn: Connection, table: sa.Table) -> Iterator[tuple[int | None, list[dict[str, Any]]]]:
    """Rows grouped by ledger_seq, streaming (NULL stamps first on some backends, last on others)."""
    columns = [table.c[name] for name in ledgered_columns(table.name)]
    coded = t.NONFINITE in table.c  # a digest covers the value a code stands for
    if coded:
        columns.append(table.c[t.NONFINITE])
    query = sa.select(table.c.ledger_seq, *columns).order_by(table.c.ledger_seq)
    current: int | None = -1
    group: list[dict[str, Any]] = []
    for row in conn.execution_options(yield_per=CHUNK).execute(query).mappings():
        seq = row["ledger_seq"]
        if seq != current and group:
            yield current, group
            group = []
        current = seq
        found = dict(row)
        if coded and (code := found.pop(t.NONFINITE)) is not None:
            found["value"] = decode_float(None, code)
        group.append(found)
    if group:
        yield current, group


def _check_append_only(
    conn: Connection, table: sa.Table, entries: dict[int, _Entry], report: AuditReport
) -> None:
    columns = ledgered_columns(table.name)
    seen: set[int] = set()
    for seq, rows in _rows_by_seq(conn, table):
        report.rows += len(rows)
        if seq is None or seq not in entries or entries[seq].table != table.name:
            report.problems.append(
                Problem("row-without-entry", f"{len(rows)} row(s) of {table.name} have no "
                        f"ledger entry (ledger_seq={seq})", seq, table.name)
            )
            continue
        seen.add(seq)
        try:
            digest = rows_digest(table.name, [tuple([row[c] for c in columns]) for row in rows],
                                 entries[seq].digest)
        except (LinealError, ValueError):  # a field no longer of its type: altered
            digest = None
        if digest != entries[seq].digest:
            report.problems.append(
                Problem("row-altered", f"rows of {table.name} written by entry {seq} "
                        f"({entries[seq].action}) no longer match it: changed, added or removed",
                        seq, table.name)
            )
    for seq, entry in entries.items():
        if entry.table == table.name and seq not in seen:
            report.problems.append(
                Problem("row-missing", f"the rows of {table.name} that entry {seq} "
                        f"({entry.action}) recorded are gone", seq, table.name)
            )


def _check_mutable(
    conn: Connection, table: sa.Table, entries: dict[int, _Entry], report: AuditReport
) -> None:
    columns = ledgered_columns(table.name)
    latest: dict[str, int] = {}
    for entry_seq, listed in entries.items():
        if listed.table == table.name:
            latest[listed.entity] = max(entry_seq, latest.get(listed.entity, 0))
    present: set[str] = set()
    for seq, rows in _rows_by_seq(conn, table):
        for row in rows:
            report.rows += 1
            key = entity_key(table.name, row)
            present.add(key)
            entry = entries.get(seq) if seq is not None else None
            if entry is None or entry.table != table.name or entry.entity != key:
                report.problems.append(
                    Problem("row-without-entry", f"{table.name} row {key} has no ledger entry "
                            f"(ledger_seq={seq})", seq, table.name)
                )
            elif latest.get(key) != seq:
                report.problems.append(
                    Problem("row-altered", f"{table.name} row {key} carries entry {seq} but entry "
                            f"{latest.get(key)} wrote it later", seq, table.name)
                )
            elif digest_lines([row_text(table.name, row, columns)]) != entry.digest:
                report.problems.append(
                    Problem("row-altered", f"{table.name} row {key} differs from what entry {seq} "
                            f"({entry.action}) recorded", seq, table.name)
                )
    for key, seq in latest.items():
        if key not in present and not entries[seq].action.endswith(DELETE_SUFFIXES):
            report.problems.append(
                Problem("row-missing", f"{table.name} row {key} (last written by entry {seq}, "
                        f"{entries[seq].action}) is gone with no deletion entry", seq, table.name)
            )
