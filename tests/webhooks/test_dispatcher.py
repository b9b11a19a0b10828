"""The dispatcher's own rules: a slow receiver does not hold up other webhooks, a claim lost
mid-send is not an error, a ping is tried once, and ``test_webhook`` against a store that keeps
secrets to itself (a lineal server) waits for the server's dispatcher instead."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lineal
from lineal.entities import now_us
from lineal.errors import PermissionDenied
from lineal.store import Store
from lineal.webhooks import DeliveryStatus, WebhookDispatcher

from .conftest import Receiver, Register, wait_until


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    found = lineal.open_store(tmp_path / "store", artifacts=str(tmp_path / "blobs"))
    yield found
    found.close()


@pytest.fixture
def other() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


def test_a_stuck_receiver_does_not_hold_up_another_webhook(
    store: Store, receiver: Receiver, other: Receiver, register: Register
) -> None:
    receiver.hold = threading.Event()
    lineal.add_webhook(receiver.url, events=["version.created"], store=store)
    lineal.add_webhook(other.url, events=["version.created"], store=store)
    register(store, "m")
    dispatcher = WebhookDispatcher(store)
    passing = threading.Thread(target=dispatcher.run_once)
    passing.start()
    try:
        wait_until(lambda: len(other.received) == 1)
        assert not receiver.hold.is_set(), "delivered while the first receiver still hangs"
    finally:
        receiver.hold.set()
        passing.join(30)
    assert len(receiver.received) == 1
    dispatcher.close()


def test_a_claim_lost_while_sending_is_left_to_its_new_owner(
    store: Store, receiver: Receiver
) -> None:
    hook, _ = lineal.add_webhook(receiver.url, store=store)
    ping = store.metadata.enqueue_webhook_ping(hook.id, "tester")
    dispatcher = WebhookDispatcher(store)
    (job,) = store.metadata.claim_webhook_deliveries(dispatcher.owner, now_us())
    lineal.remove_webhook(hook.id, store=store)  # while the dispatcher holds the claim
    assert dispatcher.deliver(job) is None
    (after,) = lineal.webhook_deliveries(hook.id, store=store)
    assert after.id == ping.id and after.status is DeliveryStatus.FAILED
    assert after.last_error == "webhook removed"
    dispatcher.close()


def test_a_ping_is_tried_once(store: Store, receiver: Receiver) -> None:
    receiver.status = 503
    hook, _ = lineal.add_webhook(receiver.url, store=store)
    failed = lineal.test_webhook(hook.id, store=store)
    assert failed.status is DeliveryStatus.FAILED and failed.last_status_code == 503
    assert WebhookDispatcher(store, backoff=0.01).run_once().attempted == 0


class SecretKeepingStore:
    """The metadata store as a lineal server's client sees it: every call goes through, but
    the server refuses to hand out webhook secrets (the HTTP store itself is not built here)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def claim_webhook_deliveries(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionDenied("webhook secrets stay on the server")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_testing_through_a_server_waits_for_its_dispatcher(
    store: Store, receiver: Receiver
) -> None:
    hook, _ = lineal.add_webhook(receiver.url, store=store)
    client = Store(SecretKeepingStore(store.metadata), store.blobs, store.location)  # type: ignore[arg-type]
    server = WebhookDispatcher(store, poll_interval=0.05)
    server.start()
    try:
        done = lineal.test_webhook(hook.id, store=client)
    finally:
        server.stop(timeout=30)
    assert done.status is DeliveryStatus.DELIVERED and done.event_type == "ping"
    assert [e["type"] for e in receiver.events()] == ["ping"]


def test_testing_through_a_server_without_a_dispatcher_says_pending(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lineal.webhooks import api

    monkeypatch.setattr(api, "PING_MARGIN", 0.5)
    hook, _ = lineal.add_webhook(receiver.url, store=store)
    client = Store(SecretKeepingStore(store.metadata), store.blobs, store.location)  # type: ignore[arg-type]
    waited = lineal.test_webhook(hook.id, timeout=0.1, store=client)
    assert waited.status is DeliveryStatus.PENDING and waited.attempts == 0
    assert receiver.received == []


def test_a_send_that_could_outlast_its_claim_is_not_started(
    store: Store, receiver: Receiver
) -> None:
    hook, _ = lineal.add_webhook(receiver.url, store=store)
    store.metadata.enqueue_webhook_ping(hook.id, "tester")
    dispatcher = WebhookDispatcher(store, timeout=5)
    # a claim with 2 s left, less than one attempt may take
    (job,) = store.metadata.claim_webhook_deliveries(dispatcher.owner, now_us(), lease_us=2_000_000)
    assert dispatcher.deliver(job) is None
    assert receiver.received == [], "nothing sent: another dispatcher may take it over"
    dispatcher.close()
