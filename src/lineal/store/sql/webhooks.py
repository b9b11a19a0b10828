"""Webhooks in the SQL store: registration (ledgered), and the outbox a dispatcher drains.

Where events come from: the audit ledger. Every write transaction takes the ledger head lock
and commits before the next writer gets it, so ledger sequence numbers become visible in
order, without gaps: once a reader sees entry n, it sees every entry before n. That makes the
ledger an outbox that costs writes nothing. :meth:`WebhooksMixin.enqueue_webhook_events` keeps
one cursor (``webhook_cursor``, a ledger sequence number); under that row's lock (``FOR UPDATE``;
``BEGIN IMMEDIATE`` on SQLite) it reads the entries after it that record a registry event or a
taint, writes one ``webhook_deliveries`` row per wanting webhook, and moves the cursor, in one
transaction. Concurrent enqueuers, in any process, take turns on that lock, and the unique key
``(webhook_id, event_seq)`` refuses a second row for one event, so each event is enqueued once.
It takes neither the ledger lock nor a ledger entry: it never queues behind, or holds up, a
writer on PostgreSQL or MySQL.

Delivery: :meth:`~WebhooksMixin.claim_webhook_deliveries` claims due rows with a conditional
``UPDATE ... WHERE lease lapsed`` (rows in id order, so two claimers cannot deadlock); on
PostgreSQL and MySQL the second of two racing updates waits for the first and then finds the
row taken. A claim is a lease: a dispatcher that dies mid-send leaves the delivery to be taken
over when the lease lapses (at-least-once at that point, never concurrent sends).

A taint's reason is read from the ``taints`` row when its event is enqueued; if the taint was
changed or cleared before that, the event says so (``details.reason_superseded``) instead of
guessing the old reason.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from ...canonical import canonical_json
from ...entities import (
    DeliveryJob,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    new_id,
    now_us,
    us_to_datetime,
)
from ...entities._webhooks import event_body, registry_event_type, taint_event_type
from ...errors import Conflict, InvalidArgument, NotFound
from ...identity import server_admin
from ...inputs import check_limit
from ..webhooks_base import check_webhook
from . import tables as t
from . import tables_lineage as tl
from . import tables_registry as tr
from . import tables_webhooks as tw
from .database import Database, translate
from .registry_policy import effective_admins, require_admin

wh, ws, wd, wc = tw.webhooks, tw.webhook_secrets, tw.webhook_deliveries, tw.webhook_cursor
MAX_ERROR = 2000
# Due deliveries go out in the order their events committed (ids are ULIDs: random within a
# millisecond, so they cannot order events written together).
_SENDING_ORDER = (wd.c.next_attempt_at, wd.c.event_seq, wd.c.id)


@contextlib.contextmanager
def bookkeeping(db: Database) -> Iterator[Connection]:
    """A write transaction outside the audit ledger (dispatcher state no digest covers); on
    SQLite it begins ``IMMEDIATE`` like every write."""
    try:
        with db.writing() as conn, conn.begin():
            yield conn
    except exc.SQLAlchemyError as error:
        raise translate(error) from error


def _hook(row: Any) -> Webhook:
    return Webhook(
        id=row["id"], url=row["url"], events=tuple(json.loads(row["events"])),
        project=row["project"], created_at=us_to_datetime(row["created_at"]),
        created_by=row["created_by"], active=bool(row["active"]),
        removed_at=us_to_datetime(row["removed_at"]),
    )


def _delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"], webhook_id=row["webhook_id"], event_id=row["event_id"],
        event_type=row["event_type"], event_seq=row["event_seq"],
        status=DeliveryStatus(row["status"]), attempts=int(row["attempts"]),
        created_at=us_to_datetime(row["created_at"]),  # type: ignore[arg-type]
        last_status_code=row["last_status_code"], last_error=row["last_error"],
        next_attempt_at=us_to_datetime(row["next_attempt_at"]),
        delivered_at=us_to_datetime(row["delivered_at"]),
    )


def _hook_row(conn: Connection, webhook_id: str) -> Any:
    text = (webhook_id or "").strip().upper() if isinstance(webhook_id, str) else ""
    if len(text) < 6:
        raise InvalidArgument(f"webhook id {webhook_id!r} is too short; give 6+ characters")
    rows = list(conn.execute(sa.select(wh).where(wh.c.id.startswith(text)).limit(2)).mappings())
    if not rows:
        raise NotFound(f"no webhook with id {webhook_id!r}",
                       hint="list webhooks with `lineal webhooks list`")
    if len(rows) > 1:
        raise InvalidArgument(f"webhook id prefix {webhook_id!r} is ambiguous")
    return rows[0]


def _guard(conn: Connection, actor: str, what: str, project: str | None) -> None:
    """On a server with authentication, the admin role in the hook's project decides (see
    :func:`require_admin`); elsewhere the registry's admins, where some are configured."""
    if server_admin(project) is not None or effective_admins(conn):
        require_admin(conn, actor, what, project)


class WebhooksMixin:
    """The :class:`~lineal.store.webhooks_base.WebhookStore` part of ``SqlMetadataStore``."""

    db: Database

    # -- registration (ledgered) -----------------------------------------------------------------
    def add_webhook(self, hook: Webhook, secret: str, actor: str) -> Webhook:
        check_webhook(hook, secret)
        with self.db.write(actor) as tx:
            _guard(tx.conn, actor, "adding a webhook", hook.project)
            since = tx.lock_head()[0]
            row = {
                "id": hook.id, "url": hook.url, "events": canonical_json(sorted(set(hook.events))),
                "project": hook.project, "active": 1, "since_seq": since,
                "created_at": tx.ts, "created_by": actor, "removed_at": None, "removed_by": None,
            }
            tx.insert(wh, [row], "webhook.add", hook.id)
            tx.conn.execute(ws.insert().values(webhook_id=hook.id, secret=secret))
            if tx.conn.execute(sa.select(wc.c.seq).where(wc.c.id == 1)).first() is None:
                # Events start here: the store's history before its first webhook is not owed.
                tx.conn.execute(wc.insert().values(id=1, seq=since))
            return _hook(row)

    def get_webhook(self, webhook_id: str) -> Webhook:
        with self.db.read() as conn:
            return _hook(_hook_row(conn, webhook_id))

    def list_webhooks(self, *, include_removed: bool = False) -> list[Webhook]:
        query = sa.select(wh).order_by(wh.c.created_at, wh.c.id)
        if not include_removed:
            query = query.where(wh.c.active == 1)
        with self.db.read() as conn:
            return [_hook(row) for row in conn.execute(query).mappings()]

    def remove_webhook(self, webhook_id: str, actor: str) -> Webhook:
        with self.db.write(actor) as tx:
            row = _hook_row(tx.conn, webhook_id)
            if not row["active"]:
                raise NotFound(f"webhook {row['id']} was already removed")
            _guard(tx.conn, actor, "removing a webhook", row["project"])
            # An update, not a deletion: the delivery log keeps referring to the webhook.
            new = tx.update(wh, {"id": row["id"]},
                            {"active": 0, "removed_at": tx.ts, "removed_by": actor},
                            "webhook.deactivate")
            tx.conn.execute(ws.delete().where(ws.c.webhook_id == row["id"]))
            tx.conn.execute(
                wd.update()
                .where(wd.c.webhook_id == row["id"], wd.c.status == str(DeliveryStatus.PENDING))
                .values(status=str(DeliveryStatus.FAILED), last_error="webhook removed",
                        next_attempt_at=None, lease_owner=None, lease_until=None)
            )
            return _hook(new)

    # -- the outbox ------------------------------------------------------------------------------
    def enqueue_webhook_events(self, limit: int = 1000) -> int:
        limit = check_limit(limit)
        with self.db.read() as conn:
            # Idle passes stay reads: on SQLite a write transaction would take the store's
            # write lock every poll, for nothing.
            if not _behind(conn):
                return 0
        with bookkeeping(self.db) as conn:
            cursor = conn.execute(
                sa.select(wc.c.seq).where(wc.c.id == 1).with_for_update()
            ).scalar()
            if cursor is None:  # no webhook was ever added
                return 0
            head = int(conn.execute(
                sa.select(t.ledger_head.c.seq).where(t.ledger_head.c.id == 1)).scalar() or 0)
            if head <= cursor:
                return 0
            hooks = [_hook(r) for r in conn.execute(sa.select(wh).where(wh.c.active == 1)).mappings()]
            since = self._since(conn)
            entries: Sequence[Any] = []
            if hooks:
                entries = conn.execute(
                    sa.select(t.ledger.c.seq, t.ledger.c.ts, t.ledger.c.actor, t.ledger.c.action,
                              t.ledger.c.entity_type, t.ledger.c.entity_id)
                    .where(t.ledger.c.seq > cursor, t.ledger.c.seq <= head,
                           t.ledger.c.entity_type.in_(("registry_events", "taints")))
                    .order_by(t.ledger.c.seq).limit(limit)
                ).all()
            moved_to = int(entries[-1].seq) if len(entries) == limit else head
            rows: list[dict[str, Any]] = []
            created = now_us()
            for seq, event_id, event_type, project, body in _events(conn, entries):
                for hook in hooks:
                    if since[hook.id] < seq and hook.wants(event_type, project):
                        rows.append({
                            "id": new_id(), "webhook_id": hook.id, "event_id": event_id,
                            "event_type": event_type, "event_seq": seq, "body": body,
                            "status": str(DeliveryStatus.PENDING), "attempts": 0,
                            "next_attempt_at": created, "lease_owner": None,
                            "lease_until": None, "last_status_code": None, "last_error": None,
                            "created_at": created, "delivered_at": None,
                        })
            if rows:
                conn.execute(wd.insert(), rows)
            conn.execute(wc.update().where(wc.c.id == 1).values(seq=moved_to))
            return len(rows)

    @staticmethod
    def _since(conn: Connection) -> dict[str, int]:
        query = sa.select(wh.c.id, wh.c.since_seq).where(wh.c.active == 1)
        return {row.id: int(row.since_seq) for row in conn.execute(query)}

    def enqueue_webhook_ping(self, webhook_id: str, actor: str) -> WebhookDelivery:
        with bookkeeping(self.db) as conn:
            hook = _hook(_hook_row(conn, webhook_id))
            if not hook.active:
                raise NotFound(f"webhook {hook.id} was removed")
            at, event_id = now_us(), new_id()
            body = event_body(
                event_id=event_id, event_type="ping", occurred_at_us=at, sequence=None,
                project=hook.project, actor=actor, subject={"webhook": hook.id},
                details={"url": hook.url, "events": list(hook.events)},
            )
            row = {
                "id": new_id(), "webhook_id": hook.id, "event_id": event_id,
                "event_type": "ping", "event_seq": None, "body": body,
                "status": str(DeliveryStatus.PENDING), "attempts": 0, "next_attempt_at": at,
                "lease_owner": None, "lease_until": None, "last_status_code": None,
                "last_error": None, "created_at": at, "delivered_at": None,
            }
            conn.execute(wd.insert().values(**row))
            return _delivery(row)

    # -- dispatching -----------------------------------------------------------------------------
    def claim_webhook_deliveries(
        self,
        owner: str,
        now_us: int,
        *,
        limit: int = 50,
        lease_us: int = 60_000_000,
        delivery_id: str | None = None,
    ) -> list[DeliveryJob]:
        limit = check_limit(limit)
        if not isinstance(owner, str) or not 0 < len(owner) <= 64:
            raise InvalidArgument("a dispatcher's owner name has 1 to 64 characters")
        if lease_us <= 0:
            raise InvalidArgument("a lease lasts a positive number of microseconds")
        free = sa.or_(wd.c.lease_until.is_(None), wd.c.lease_until < now_us)
        pending = wd.c.status == str(DeliveryStatus.PENDING)
        active = wd.c.webhook_id.in_(sa.select(wh.c.id).where(wh.c.active == 1))
        due = [pending, wd.c.next_attempt_at <= now_us, free]
        query = sa.select(wd.c.id).where(*due)
        if delivery_id is not None:
            query = query.where(wd.c.id == delivery_id)
        with self.db.read() as conn:  # idle passes stay reads (see enqueue_webhook_events)
            if conn.execute(query.limit(1)).first() is None:
                return []
        due.append(active)
        query = query.where(active)
        with bookkeeping(self.db) as conn:
            # An enqueuer that read the webhooks before a removal committed may have added
            # deliveries after it: they fail as the removal's own did.
            conn.execute(wd.update().where(pending, ~active).values(
                status=str(DeliveryStatus.FAILED), last_error="webhook removed",
                next_attempt_at=None, lease_owner=None, lease_until=None))
            ids = conn.execute(query.order_by(*_SENDING_ORDER).limit(limit)).scalars()
            claimed = []
            for found in sorted(ids):  # one order for every claimer: no deadlock between two
                taken = conn.execute(
                    wd.update().where(wd.c.id == found, *due)
                    .values(lease_owner=owner, lease_until=now_us + lease_us,
                            attempts=wd.c.attempts + 1)
                )
                if taken.rowcount == 1:
                    claimed.append(found)
            if not claimed:
                return []
            rows = conn.execute(
                sa.select(wd, wh.c.url, ws.c.secret)
                .join(wh, wh.c.id == wd.c.webhook_id)
                .join(ws, ws.c.webhook_id == wd.c.webhook_id)
                .where(wd.c.id.in_(claimed))
                .order_by(*_SENDING_ORDER)
            ).mappings().all()
            return [DeliveryJob(_delivery(r), r["url"], r["secret"], r["body"], owner,
                                now_us + lease_us) for r in rows]

    def record_webhook_attempt(
        self,
        delivery_id: str,
        owner: str,
        *,
        delivered: bool,
        status_code: int | None = None,
        error: str | None = None,
        next_attempt_us: int | None = None,
    ) -> WebhookDelivery:
        values: dict[str, Any] = {
            "lease_owner": None, "lease_until": None, "last_status_code": status_code,
            "last_error": None if error is None else str(error)[:MAX_ERROR],
        }
        if delivered:
            values.update(status=str(DeliveryStatus.DELIVERED), delivered_at=now_us(),
                          next_attempt_at=None)
        elif next_attempt_us is not None:
            values.update(status=str(DeliveryStatus.PENDING), next_attempt_at=int(next_attempt_us))
        else:
            values.update(status=str(DeliveryStatus.FAILED), next_attempt_at=None)
        with bookkeeping(self.db) as conn:
            done = conn.execute(
                wd.update().where(wd.c.id == delivery_id, wd.c.lease_owner == owner,
                                  wd.c.status == str(DeliveryStatus.PENDING)).values(**values)
            )
            if done.rowcount != 1:
                raise Conflict(f"delivery {delivery_id} is no longer claimed by {owner}",
                               hint="its lease lapsed, or its webhook was removed")
            row = conn.execute(sa.select(wd).where(wd.c.id == delivery_id)).mappings().one()
            return _delivery(row)

    def webhook_deliveries(
        self,
        *,
        webhook_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
    ) -> list[WebhookDelivery]:
        limit = check_limit(limit)
        query = sa.select(wd).order_by(wd.c.created_at.desc(), wd.c.id.desc()).limit(limit)
        with self.db.read() as conn:
            if webhook_id is not None:
                query = query.where(wd.c.webhook_id == _hook_row(conn, webhook_id)["id"])
            if status is not None:
                try:
                    status = DeliveryStatus(str(status).lower())
                except ValueError:
                    raise InvalidArgument(f"unknown delivery status {status!r}",
                                          hint="pending, delivered or failed") from None
                query = query.where(wd.c.status == str(status))
            return [_delivery(row) for row in conn.execute(query).mappings()]


def _behind(conn: Connection) -> bool:
    """Whether the ledger has entries after the webhook cursor (False: no webhook ever)."""
    cursor = conn.execute(sa.select(wc.c.seq).where(wc.c.id == 1)).scalar()
    if cursor is None:
        return False
    head = conn.execute(sa.select(t.ledger_head.c.seq).where(t.ledger_head.c.id == 1)).scalar()
    return int(head or 0) > int(cursor)


# -- events from the ledger ------------------------------------------------------------------------
def _events(
    conn: Connection, entries: Sequence[Any]
) -> Iterator[tuple[int, str, str, str | None, str]]:
    """``(seq, event id, type, project, body)`` of each ledger entry that is a webhook event,
    in ledger order."""
    registry = _registry_rows(conn, [e.entity_id for e in entries if e.entity_type == "registry_events"])
    taints = _taint_rows(conn, [e.entity_id for e in entries if e.entity_type == "taints"])
    for entry in entries:
        seq = int(entry.seq)
        if entry.entity_type == "registry_events":
            found = registry.get(entry.entity_id)
            if found is not None:
                made = _registry_event(found, seq)
                if made is not None:
                    yield made
        else:
            made = _taint_event(entry, taints.get(entry.entity_id), seq)
            if made is not None:
                yield made


def _registry_rows(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    ev, rm, dp = tr.registry_events, tr.registered_models, tr.deployments
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        query = (sa.select(ev, rm.c.project, rm.c.name.label("model"))
                 .join(rm, rm.c.id == ev.c.model_id).where(ev.c.id.in_(ids[start:start + 500])))
        out.update({row["id"]: dict(row) for row in conn.execute(query).mappings()})
    for r in out.values():
        r["before"], r["after"] = _json(r["before_state"]), _json(r["after_state"])
    deployments = {_deployment_id(r) for r in out.values()} - {None}
    if deployments:
        query = sa.select(dp.c.id, dp.c.name, dp.c.environment, dp.c.target, dp.c.status,
                          dp.c.replaces_id, dp.c.restores_id).where(dp.c.id.in_(deployments))
        found = {row["id"]: dict(row) for row in conn.execute(query).mappings()}
        for r in out.values():
            if _deployment_id(r) in found:
                r["deployment"] = found[_deployment_id(r)]
    return out


def _deployment_id(row: dict[str, Any]) -> str | None:
    """The deployment a ``deployment.*`` registry event is about (None for other events)."""
    if not row["action"].startswith("deployment."):
        return None
    state = row["after"] or row["before"] or {}
    return state.get("deployment") if isinstance(state, dict) else None


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _registry_event(row: dict[str, Any], seq: int) -> tuple[int, str, str, str | None, str] | None:
    event_type = registry_event_type(row["action"], row["after"])
    if event_type is None:
        return None
    subject: dict[str, Any] = {"model": row["model"], "ref": f"{row['project']}/{row['model']}"}
    if row["version"] is not None:
        subject.update(version=row["version"], model_version_id=row["version_id"],
                       ref=f"{row['project']}/{row['model']}@v{row['version']}")
    if row["alias"] is not None:
        subject["alias"] = row["alias"]
    deployment = row.get("deployment")
    if deployment is not None:
        subject["deployment"] = {
            "id": deployment["id"], "name": deployment["name"],
            "environment": deployment["environment"], "target": deployment["target"],
            "replaces": deployment["replaces_id"], "restores": deployment["restores_id"],
        }
    details = {"action": row["action"], "before": row["before"], "after": row["after"],
               "comment": row["comment"]}
    body = event_body(event_id=row["id"], event_type=event_type, occurred_at_us=int(row["ts"]),
                      sequence=seq, project=row["project"], actor=row["actor"],
                      subject=subject, details=details)
    return seq, row["id"], event_type, row["project"], body


def _taint_rows(conn: Connection, version_ids: list[str]) -> dict[str, dict[str, Any]]:
    av, tn = t.artifact_versions, tl.taints
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(version_ids), 500):
        chunk = version_ids[start:start + 500]
        query = (sa.select(av.c.id, av.c.project, av.c.name, av.c.version, av.c.kind,
                           av.c.digest, tn.c.reason, tn.c.ledger_seq)
                 .outerjoin(tn, tn.c.version_id == av.c.id).where(av.c.id.in_(chunk)))
        out.update({row["id"]: dict(row) for row in conn.execute(query).mappings()})
    return out


def _taint_event(
    entry: Any, version: dict[str, Any] | None, seq: int
) -> tuple[int, str, str, str | None, str] | None:
    event_type = taint_event_type(entry.action)
    if event_type is None or version is None:
        return None
    project = version["project"]
    subject = {"artifact_version_id": version["id"], "name": version["name"],
               "version": version["version"], "kind": version["kind"],
               "digest": version["digest"],
               "ref": f"{project}/{version['name']}@v{version['version']}"}
    details: dict[str, Any] = {"action": entry.action}
    if event_type == "artifact.tainted":
        current = version["ledger_seq"] is not None and int(version["ledger_seq"]) == seq
        details["reason"] = version["reason"] if current else None
        if not current:
            details["reason_superseded"] = True
    event_id = new_id()
    body = event_body(event_id=event_id, event_type=event_type, occurred_at_us=int(entry.ts),
                      sequence=seq, project=project, actor=entry.actor, subject=subject,
                      details=details)
    return seq, event_id, event_type, project, body
