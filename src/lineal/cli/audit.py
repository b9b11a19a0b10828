"""``lineal audit``: the append-only, hash-chained record of every metadata change."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from ..errors import IntegrityError
from .render import LIMIT, plural, say, wide_option

if TYPE_CHECKING:
    from ..store import Store


def _store(ctx: click.Context) -> Store:
    from .render import open_store_from_ctx

    return open_store_from_ctx(ctx)


@click.group()
def audit() -> None:
    """Inspect and verify the tamper-evident audit ledger."""


@audit.command("log")
@click.option("--actor", help="Only entries by this actor (OS user or server user).")
@click.option("--action", help="Only actions starting with this, e.g. 'run.' or 'alias.'.")
@click.option("--entity", "entity_id", help="Only entries about this entity id.")
@click.option("--since", help="Only entries at or after this time: ISO-8601 or an age (3d, 12h, 30m).")
@click.option("--after", "after_seq", type=int, default=0, show_default=True,
              help="Start after this sequence number (for paging).")
@click.option("-n", "--limit", type=LIMIT, default=50, show_default=True, help="At most this many entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@wide_option
@click.pass_context
def log_command(
    ctx: click.Context, actor: str | None, action: str | None, entity_id: str | None,
    since: str | None, after_seq: int, limit: int, as_json: bool,
) -> None:
    """Show ledger entries in chain order: who did what to which entity, and when."""
    from .. import audit as audit_api

    entries = audit_api.log(actor=actor, action=action, entity_id=entity_id, since=since,
                            after_seq=after_seq, limit=limit, store=_store(ctx))
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2))
        return
    from .render import print_table

    print_table("Audit ledger", ("seq", "time", "actor", "action", "entity", "hash"),
                [(e.seq, e.timestamp.astimezone().strftime("%Y-%m-%d %H:%M:%S"), e.actor,
                  e.action, f"{e.entity_type}:{e.entity_id}", e.hash[:12]) for e in entries])


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def verify_command(ctx: click.Context, as_json: bool) -> None:
    """Check the hash chain and every ledgered row; exit non-zero on any tampering.

    Detects entries modified, deleted, inserted or reordered, and rows changed, added or
    removed without an entry. Record the printed head hash elsewhere to detect a rewrite of the
    whole chain later.
    """
    from .. import audit as audit_api

    report = audit_api.verify(store=_store(ctx))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for problem in report.problems[:50]:
            say(f"  {problem.kind}: {problem.detail}")
        if len(report.problems) > 50:
            say(f"  ... and {len(report.problems) - 50} more")
        status = "OK" if report.ok else f"FAILED ({plural(len(report.problems), 'problem')})"
        say(f"ledger {status}: {report.entries} entries, {report.rows} rows checked; "
                   f"head #{report.head_seq} {report.head_hash}")
    if not report.ok:
        raise IntegrityError(f"audit ledger verification failed with {plural(len(report.problems), 'problem')}")
