"""Receivers that are down, failing or stuck: deliveries are retried with backoff and delivered
once when the receiver comes back, and no SDK write waits for or fails because of them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import lineal
from lineal.errors import InvalidArgument
from lineal.store import Store
from lineal.webhooks import DeliveryStatus, WebhookDispatcher

from .conftest import Receiver, Register, wait_until


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    found = lineal.open_store(tmp_path / "store", artifacts=str(tmp_path / "blobs"))
    yield found
    found.close()


def test_a_receiver_that_is_down_then_back_gets_the_event_once(
    store: Store, receiver: Receiver, register: Register
) -> None:
    receiver.stop()  # down: connection refused
    hook, _ = lineal.add_webhook(receiver.url, events=["alias.moved"], store=store)
    register(store, "m")
    lineal.registry.set_alias("churn@v1", "prod", store=store)
    dispatcher = WebhookDispatcher(store, backoff=0.2, max_attempts=10)

    first = dispatcher.run_once()
    assert (first.enqueued, first.attempted, first.retrying, first.delivered) == (1, 1, 1, 0)
    (pending,) = lineal.webhook_deliveries(hook.id, store=store)
    assert pending.status is DeliveryStatus.PENDING and pending.attempts == 1
    assert pending.last_status_code is None and "Connect" in (pending.last_error or "")
    assert pending.next_attempt_at is not None and pending.next_attempt_at > pending.created_at

    receiver.start()  # back, on the same port
    wait_until(lambda: dispatcher.run_once().delivered == 1)
    (done,) = lineal.webhook_deliveries(hook.id, store=store)
    assert done.status is DeliveryStatus.DELIVERED and done.attempts >= 2
    assert done.last_error is None and done.last_status_code == 204
    assert [e["type"] for e in receiver.events()] == ["alias.moved"], "delivered once"
    for _ in range(3):
        assert dispatcher.run_once().attempted == 0
    assert len(receiver.received) == 1
    dispatcher.close()


def test_an_error_status_is_retried_and_attempts_run_out(
    store: Store, receiver: Receiver, register: Register
) -> None:
    receiver.status = 500
    hook, _ = lineal.add_webhook(receiver.url, events=["version.created"], store=store)
    register(store, "m")
    dispatcher = WebhookDispatcher(store, backoff=0.01, max_backoff=0.02, max_attempts=3)
    wait_until(lambda: dispatcher.run_once().failed == 1 or
               lineal.webhook_deliveries(hook.id, store=store)[0].status is DeliveryStatus.FAILED)
    (failed,) = lineal.webhook_deliveries(hook.id, store=store)
    assert failed.status is DeliveryStatus.FAILED and failed.attempts == 3
    assert failed.last_status_code == 500 and failed.last_error == "HTTP 500"
    assert len(receiver.received) == 3, "one POST per attempt, none after the last"
    # the same event, unchanged, on every attempt (the signature covers identical bytes)
    assert len({r.body for r in receiver.received}) == 1
    receiver.status = 200
    assert dispatcher.run_once().attempted == 0, "failed is final"
    dispatcher.close()


def test_writes_never_wait_for_a_stuck_or_dead_receiver(
    store: Store, receiver: Receiver, register: Register
) -> None:
    receiver.hold = threading.Event()  # every request hangs until released
    lineal.add_webhook(receiver.url, store=store)
    lineal.add_webhook("http://127.0.0.1:9/nobody-listens", store=store)
    dispatcher = WebhookDispatcher(store, backoff=0.05, poll_interval=0.05, timeout=30)
    dispatcher.start()
    try:
        register(store, "one")
        receiver.arrived.wait(30)
        assert receiver.arrived.is_set(), "the dispatcher is now inside a POST that hangs"
        # While it hangs, writes go on: they neither wait for delivery nor fail because of it.
        lineal.registry.set_alias("churn@v1", "prod", store=store)
        register(store, "two")
        lineal.registry.set_alias("churn@v2", "prod", store=store)
        assert lineal.registry.get_version("churn@prod", store=store).version == 2
        receiver.hold.set()
        wait_until(lambda: {"alias.moved"} <= {e["type"] for e in receiver.events()}
                   and sum(e["type"] == "alias.moved" for e in receiver.events()) == 2)
    finally:
        dispatcher.stop(timeout=30)
    log = lineal.webhook_deliveries(limit=1000, store=store)
    dead = [d for d in log if d.status is DeliveryStatus.PENDING]
    assert dead and all(d.last_error for d in dead), "the dead receiver's deliveries wait to retry"
    assert store.metadata.verify_ledger().ok


def test_dispatcher_settings_are_checked() -> None:
    with pytest.raises(InvalidArgument):
        WebhookDispatcher(object(), timeout=0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        WebhookDispatcher(object(), max_attempts=0)  # type: ignore[arg-type]
