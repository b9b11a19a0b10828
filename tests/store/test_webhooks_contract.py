"""The webhook part of the store contract, on every backend: registration, the outbox the
ledger feeds, leases that hand each delivery to one dispatcher at a time, the delivery log."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from lineal.entities import Storage, new_id, now_us
from lineal.errors import Conflict, InvalidArgument, NotFound
from lineal.refs import parse_ref
from lineal.store import Store
from lineal.store.base import MetadataStore, NewArtifactVersion
from lineal.webhooks import DeliveryStatus, Webhook

pytestmark = [pytest.mark.server_side]  # claims and enqueueing are the server's own; tests/server covers webhooks over HTTP

ACTOR = "tester"
SECRET = "s" * 32
SECOND = 1_000_000


def hook(url: str = "http://127.0.0.1:9/hook", **fields: object) -> Webhook:
    return Webhook(id=new_id(), url=url, **fields)  # type: ignore[arg-type]


def model_version(meta: MetadataStore, name: str = "churn", project: str = "default") -> int:
    """Register a new version of model ``name``; returns its number."""
    spec = NewArtifactVersion(project=project, name=f"{name}-model", kind="model",
                              digest="sha256:" + new_id().lower().ljust(64, "0"),
                              uri="file:///x", size=1, storage=Storage.STORED)
    artifact = meta.create_artifact_version(spec, ACTOR)[0]
    created = meta.find_registered_model(project, name) is None
    return meta.create_model_version(project, name, artifact.id, actor=ACTOR,
                                     create_model=created).version


def events(meta: MetadataStore, webhook_id: str | None = None) -> list[dict]:
    """Bodies of the deliveries enqueued so far (oldest first), claimed and read back."""
    meta.enqueue_webhook_events()
    jobs = meta.claim_webhook_deliveries("reader", now_us(), limit=1000)
    for job in jobs:
        meta.record_webhook_attempt(job.delivery.id, "reader", delivered=True, status_code=200)
    return [json.loads(j.body) for j in jobs
            if webhook_id is None or j.delivery.webhook_id == webhook_id]


def test_add_list_get_remove_and_the_secret_stays_inside(backend_store: Store) -> None:
    meta = backend_store.metadata
    added = meta.add_webhook(hook(events=("alias.moved",), project="default"), SECRET, ACTOR)
    assert added.active and added.created_by == ACTOR and added.events == ("alias.moved",)
    assert SECRET not in json.dumps(added.to_dict())
    assert meta.list_webhooks() == [added]
    assert meta.get_webhook(added.id[:8]) == added
    removed = meta.remove_webhook(added.id, ACTOR)
    assert not removed.active and removed.removed_at is not None
    assert meta.list_webhooks() == []
    assert meta.list_webhooks(include_removed=True) == [removed]
    with pytest.raises(NotFound):
        meta.remove_webhook(added.id, ACTOR)
    with pytest.raises(NotFound):
        meta.get_webhook("01NOSUCHHOOK00000000000000")
    assert meta.verify_ledger().ok, "webhooks are ledgered, their secrets and deliveries are not"


@pytest.mark.parametrize("bad", [
    {"url": "ftp://example.com/x"}, {"url": "not a url"}, {"events": ("no.such.event",)},
    {"project": "bad project"}, {"secret": "short"},
])
def test_bad_webhooks_are_refused_whole(backend_store: Store, bad: dict) -> None:
    meta = backend_store.metadata
    bad = dict(bad)  # the parameter is shared by every backend
    secret = str(bad.pop("secret", SECRET))
    with pytest.raises(InvalidArgument):
        meta.add_webhook(hook(**bad), secret, ACTOR)
    assert meta.list_webhooks(include_removed=True) == []


def test_registry_and_taint_events_become_deliveries_in_ledger_order(backend_store: Store) -> None:
    meta = backend_store.metadata
    before = model_version(meta)  # before any webhook: not owed to anyone
    everything = meta.add_webhook(hook(), SECRET, ACTOR)
    aliases = meta.add_webhook(hook(events=("alias.moved",)), SECRET, ACTOR)
    elsewhere = meta.add_webhook(hook(project="other"), SECRET, ACTOR)
    meta.set_model_alias("default", "churn", "prod", before, actor=ACTOR)
    second = model_version(meta)
    meta.set_model_alias("default", "churn", "prod", second, actor=ACTOR)
    version = meta.resolve_model_version(parse_ref("churn@v2"))
    meta.set_taint(version.artifact_version_id, "leaked labels", ACTOR)
    meta.clear_taint(version.artifact_version_id, ACTOR)

    bodies = events(meta)
    everyone = meta.webhook_deliveries(webhook_id=everything.id, limit=1000)
    types = [d.event_type for d in sorted(everyone, key=lambda d: d.event_seq or 0)]
    assert types == ["alias.moved", "version.created", "alias.moved", "artifact.tainted",
                     "artifact.taint_cleared"]
    assert [d.event_type for d in meta.webhook_deliveries(webhook_id=aliases.id)] == [
        "alias.moved", "alias.moved"]
    assert meta.webhook_deliveries(webhook_id=elsewhere.id) == []
    seqs = [d.event_seq for d in everyone]
    assert len(set(seqs)) == len(seqs) and all(s is not None and s > 0 for s in seqs)
    assert {b["id"] for b in bodies} == {d.event_id for d in everyone}
    moved = next(b for b in bodies if b["type"] == "alias.moved" and b["details"]["before"])
    assert moved["subject"]["alias"] == "prod" and moved["subject"]["version"] == second
    assert moved["details"]["before"] == {"version": before}
    assert moved["project"] == "default" and moved["actor"] == ACTOR
    tainted = next(b for b in bodies if b["type"] == "artifact.tainted")
    # cleared before it was enqueued: the event says the reason is gone rather than guess it
    assert tainted["details"]["reason"] is None and tainted["details"]["reason_superseded"]
    assert tainted["subject"]["ref"] == "default/churn-model@v2"
    assert events(meta) == [], "each event is enqueued once"


def test_a_taint_enqueued_promptly_carries_its_reason(backend_store: Store) -> None:
    meta = backend_store.metadata
    meta.add_webhook(hook(events=("artifact.tainted",)), SECRET, ACTOR)
    number = model_version(meta)
    version = meta.list_model_versions("default", "churn")[0]
    assert version.version == number
    meta.set_taint(version.artifact_version_id, "leaked labels", ACTOR)
    (body,) = events(meta)
    assert body["details"] == {"action": "taint.set", "reason": "leaked labels"}


def test_a_claim_is_a_lease_held_by_one_dispatcher(backend_store: Store) -> None:
    meta = backend_store.metadata
    added = meta.add_webhook(hook(), SECRET, ACTOR)
    ping = meta.enqueue_webhook_ping(added.id, ACTOR)
    now = now_us()
    (job,) = meta.claim_webhook_deliveries("a", now, lease_us=10 * SECOND)
    assert job.secret == SECRET and job.url == added.url and job.delivery.attempts == 1
    assert SECRET not in repr(job)
    assert json.loads(job.body)["type"] == "ping"
    assert meta.claim_webhook_deliveries("b", now + SECOND) == [], "held by a"
    # a's lease lapses: b takes over, and a can no longer record anything
    (taken,) = meta.claim_webhook_deliveries("b", now + 11 * SECOND)
    assert taken.delivery.id == ping.id and taken.delivery.attempts == 2
    with pytest.raises(Conflict):
        meta.record_webhook_attempt(ping.id, "a", delivered=True, status_code=200)
    retry_at = now + 60 * SECOND
    again = meta.record_webhook_attempt(ping.id, "b", delivered=False, status_code=503,
                                        error="HTTP 503", next_attempt_us=retry_at)
    assert again.status is DeliveryStatus.PENDING and again.last_status_code == 503
    assert meta.claim_webhook_deliveries("c", retry_at - 1) == [], "not due yet"
    (last,) = meta.claim_webhook_deliveries("c", retry_at)
    done = meta.record_webhook_attempt(ping.id, "c", delivered=False, error="refused")
    assert done.status is DeliveryStatus.FAILED and done.attempts == 3
    assert meta.claim_webhook_deliveries("d", retry_at + 3600 * SECOND) == []
    assert meta.webhook_deliveries(status=DeliveryStatus.FAILED) == [done]


def test_removing_a_webhook_fails_its_pending_deliveries(backend_store: Store) -> None:
    meta = backend_store.metadata
    added = meta.add_webhook(hook(), SECRET, ACTOR)
    ping = meta.enqueue_webhook_ping(added.id, ACTOR)
    meta.remove_webhook(added.id, ACTOR)
    (failed,) = meta.webhook_deliveries(webhook_id=added.id)
    assert failed.id == ping.id and failed.status is DeliveryStatus.FAILED
    assert failed.last_error == "webhook removed"
    assert meta.claim_webhook_deliveries("a", now_us() + 3600 * SECOND) == []
    model_version(meta)
    assert meta.enqueue_webhook_events() == 0
    with pytest.raises(NotFound):
        meta.enqueue_webhook_ping(added.id, ACTOR)


def test_concurrent_dispatchers_deliver_each_event_once(backend_store: Store) -> None:
    meta = backend_store.metadata
    meta.add_webhook(hook(), SECRET, ACTOR)
    meta.add_webhook(hook(events=("version.created",)), SECRET, ACTOR)
    for _ in range(12):
        model_version(meta)
    claimed: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def dispatcher(owner: str) -> None:
        try:
            for _ in range(20):
                meta.enqueue_webhook_events(limit=3)
                for job in meta.claim_webhook_deliveries(owner, now_us(), limit=2):
                    with lock:
                        claimed.append(job.delivery.id)
                    meta.record_webhook_attempt(job.delivery.id, owner, delivered=True,
                                                status_code=204)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=dispatcher, args=(f"d{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    log = meta.webhook_deliveries(limit=1000)
    # 12 version.created + 1 model.created to the first webhook, 12 to the second
    assert len(log) == 25 and all(d.status is DeliveryStatus.DELIVERED for d in log)
    assert sorted(claimed) == sorted(d.id for d in log), "each delivery claimed exactly once"
    assert Counter((d.webhook_id, d.event_seq) for d in log).most_common(1)[0][1] == 1


@pytest.mark.sql
def test_a_delivery_enqueued_for_a_webhook_removed_meanwhile_fails(backend_store: Store) -> None:
    # The end state of an enqueuer that read the webhooks just before a removal committed and
    # wrote its deliveries just after: a pending delivery of an inactive webhook.
    import sqlalchemy as sa

    from lineal.store.sql import tables_webhooks as tw

    meta = backend_store.metadata
    added = meta.add_webhook(hook(), SECRET, ACTOR)
    ping = meta.enqueue_webhook_ping(added.id, ACTOR)
    with meta.db.write_engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.update(tw.webhooks).where(tw.webhooks.c.id == added.id).values(active=0))
    assert meta.claim_webhook_deliveries("a", now_us()) == []
    (failed,) = meta.webhook_deliveries(webhook_id=added.id)
    assert failed.id == ping.id and failed.status is DeliveryStatus.FAILED
    assert failed.last_error == "webhook removed"
