"""``lineal webhooks``: register URLs that receive registry, deployment and taint events, test
them, read the delivery log, and run a dispatcher without a server."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidArgument
from .registry import emit_json, open_cli_store, print_table, when_text
from .render import LIMIT, say, wide_option

if TYPE_CHECKING:
    from ..entities import Webhook, WebhookDelivery

_EVENT_HELP = ("Only this event type (repeatable; default: all). Types: alias.moved, "
               "stage.changed, version.approved, deployment.started, deployment.rolled_back, "
               "deployment.ended, artifact.tainted... (see docs/webhooks.md).")


def _hook_rows(hooks: Sequence[Webhook]) -> list[tuple[Any, ...]]:
    return [(h.id, h.url, ",".join(h.events) or "all", h.project or "all",
             "active" if h.active else "removed", when_text(h.created_at), h.created_by)
            for h in hooks]


def _delivery_rows(found: Sequence[WebhookDelivery]) -> list[tuple[Any, ...]]:
    return [(d.id, d.webhook_id, d.event_type, str(d.status), d.attempts,
             d.last_status_code if d.last_status_code is not None else "-",
             when_text(d.delivered_at or d.next_attempt_at or d.created_at),
             d.last_error or "") for d in found]


def _read_secret(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as error:
        raise InvalidArgument(f"cannot read --secret-file {path}: {error.strerror}") from error
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


@click.group()
def webhooks() -> None:
    """POST registry, deployment and taint events to registered URLs (signed, retried, logged)."""


@webhooks.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, help=_EVENT_HELP)
@click.option("--project", default=None, help="Only this project's events (default: all).")
@click.option("--secret-file", default=None, metavar="PATH",
              help="Read the signing secret (16-256 characters) from this file ('-': stdin) "
              "instead of generating one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the secret).")
@click.pass_context
def add_command(ctx: click.Context, url: str, events: tuple[str, ...], project: str | None,
                secret_file: str | None, as_json: bool) -> None:
    """Register URL to receive events. Prints the signing secret once: receivers check the
    X-Lineal-Signature header with it, and lineal never shows it again."""
    from ..webhooks.api import add_webhook

    hook, secret = add_webhook(url, list(events) or None, project, _read_secret(secret_file),
                               store=open_cli_store(ctx, write=True))
    if as_json:
        emit_json({"webhook": hook.to_dict(), "secret": secret})
        return
    say(f"added webhook {hook.id} -> {hook.url}")
    say(f"secret: {secret}")
    say("keep the secret: receivers verify X-Lineal-Signature with it; it is not shown again")


@webhooks.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Include removed webhooks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@wide_option
@click.pass_context
def list_command(ctx: click.Context, include_removed: bool, as_json: bool) -> None:
    """Registered webhooks (never their secrets)."""
    from ..webhooks.api import list_webhooks

    hooks = list_webhooks(include_removed=include_removed, store=open_cli_store(ctx))
    if as_json:
        emit_json([h.to_dict() for h in hooks])
        return
    print_table("Webhooks", ("id", "url", "events", "project", "status", "created", "by"),
                _hook_rows(hooks), empty="no webhooks")


@webhooks.command("test")
@click.argument("webhook_id")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds to wait for the receiver.")
@click.option("--json", "as_json", is_flag=True, help="Print the delivery as JSON.")
@click.pass_context
def test_command(ctx: click.Context, webhook_id: str, timeout: float, as_json: bool) -> None:
    """Send a signed 'ping' event to WEBHOOK_ID (an id or a 6+ character prefix) now; exit 1
    unless the receiver answers 2xx."""
    from ..webhooks.api import test_webhook

    delivery = test_webhook(webhook_id, timeout=timeout, store=open_cli_store(ctx, write=True))
    if as_json:
        emit_json(delivery.to_dict())
    elif str(delivery.status) == "delivered":
        say(f"ping delivered to {delivery.webhook_id} (HTTP {delivery.last_status_code})")
    elif str(delivery.status) == "pending":
        say("ping not sent: no dispatcher took it in time (is the server's running?)",
                   err=True)
    else:
        say(f"ping not delivered: {delivery.last_error}", err=True)
    if str(delivery.status) != "delivered":
        ctx.exit(1)


@webhooks.command("remove")
@click.argument("webhook_id")
@click.option("--json", "as_json", is_flag=True, help="Print the removed webhook as JSON.")
@click.pass_context
def remove_command(ctx: click.Context, webhook_id: str, as_json: bool) -> None:
    """Stop delivering to WEBHOOK_ID (an id or a 6+ character prefix); its pending deliveries
    fail, its log stays."""
    from ..webhooks.api import remove_webhook

    hook = remove_webhook(webhook_id, store=open_cli_store(ctx, write=True))
    if as_json:
        emit_json(hook.to_dict())
    else:
        say(f"removed webhook {hook.id} ({hook.url})")


@webhooks.command("deliveries")
@click.argument("webhook_id", required=False)
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]), default=None,
              help="Only deliveries in this status.")
@click.option("-n", "--limit", type=LIMIT, default=50, show_default=True,
              help="At most this many deliveries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@wide_option
@click.pass_context
def deliveries_command(ctx: click.Context, webhook_id: str | None, status: str | None,
                       limit: int, as_json: bool) -> None:
    """The delivery log, newest first (only WEBHOOK_ID's, if given)."""
    from ..webhooks.api import webhook_deliveries

    found = webhook_deliveries(webhook_id, status=status, limit=limit, store=open_cli_store(ctx))
    if as_json:
        emit_json([d.to_dict() for d in found])
        return
    print_table("Webhook deliveries",
                ("id", "webhook", "event", "status", "attempts", "code", "when", "error"),
                _delivery_rows(found), empty="no deliveries")


@webhooks.command("deliver")
@click.option("--once", is_flag=True,
              help="One pass (enqueue new events, one attempt at each due delivery), then exit: "
              "for cron. Default: keep delivering until interrupted.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds to wait for a receiver.")
@click.option("--max-attempts", type=click.IntRange(min=1), default=8, show_default=True,
              help="Attempts before a delivery is marked failed.")
@click.option("--backoff", type=click.FloatRange(min=0.001), default=10.0, show_default=True,
              help="Seconds before the second attempt; doubles with each attempt after.")
@click.option("--poll", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Seconds between passes when there is nothing to do.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the pass as JSON.")
@click.pass_context
def deliver_command(ctx: click.Context, once: bool, timeout: float, max_attempts: int,
                    backoff: float, poll: float, as_json: bool) -> None:
    """Deliver pending webhook events without a server (a lineal server runs this itself).
    Any number of these may run against one database: each event is sent by one of them."""
    from ..webhooks.dispatcher import WebhookDispatcher

    dispatcher = WebhookDispatcher(open_cli_store(ctx, write=True), timeout=timeout,
                                   max_attempts=max_attempts, backoff=backoff,
                                   poll_interval=poll)
    try:
        if not once:
            say("delivering webhook events; Ctrl-C to stop", err=True)
            dispatcher.run_forever()
            return
        report = dispatcher.run_once()
    finally:
        dispatcher.close()
    if as_json:
        emit_json(report.to_dict())
    else:
        say(f"{report.enqueued} enqueued, {report.attempted} attempted: "
                   f"{report.delivered} delivered, {report.retrying} to retry, "
                   f"{report.failed} failed")
