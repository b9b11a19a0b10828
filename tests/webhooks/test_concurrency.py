"""Several dispatchers on one database, in threads and in separate processes (the scale-out
case: two servers on one PostgreSQL): every event reaches the receiver exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import lineal
from lineal.store import Store, open_store
from lineal.webhooks import DeliveryStatus, WebhookDispatcher

from .conftest import Receiver, Register, wait_until

pytestmark = [pytest.mark.server_side]  # dispatchers run inside the server

EVENTS = 2 * 6 + 1  # six versions (model.created once, version.created, alias.moved each)


def _produce(store: Store, register: Register) -> None:
    for n in range(6):
        register(store, f"model {n}")
        lineal.registry.set_alias(f"churn@v{n + 1}", "prod", store=store)


def _all_delivered(store: Store, count: int) -> bool:
    log = lineal.webhook_deliveries(limit=1000, store=store)
    return len(log) == count and all(d.status is DeliveryStatus.DELIVERED for d in log)


def test_dispatcher_threads_deliver_each_event_once(
    backend_store: Store, receiver: Receiver, register: Register
) -> None:
    store = backend_store
    lineal.add_webhook(receiver.url, events=["model.created", "version.created", "alias.moved"],
                       store=store)
    dispatchers = [WebhookDispatcher(store, poll_interval=0.01, batch=2) for _ in range(3)]
    for dispatcher in dispatchers:
        dispatcher.start()
    try:
        _produce(store, register)
        wait_until(lambda: _all_delivered(store, EVENTS))
    finally:
        for dispatcher in dispatchers:
            dispatcher.stop(timeout=30)
    ids = Counter(e["id"] for e in receiver.events())
    assert len(ids) == EVENTS and set(ids.values()) == {1}, ids.most_common(3)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_on_postgresql_deliver_each_event_once(
    pg_url: str, tmp_path: Path, receiver: Receiver, register: Register
) -> None:
    store = open_store(pg_url, artifacts=str(tmp_path / "blobs"))
    lineal.add_webhook(receiver.url, events=["model.created", "version.created", "alias.moved"],
                       store=store)
    env = {**os.environ, "LINEAL_URI": pg_url, "LINEAL_ARTIFACTS": str(tmp_path / "blobs"),
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    command = [sys.executable, "-m", "lineal.cli", "webhooks", "deliver", "--poll", "0.01"]
    workers = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE) for _ in range(2)]
    try:
        _produce(store, register)
        wait_until(lambda: _all_delivered(store, EVENTS), seconds=60)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            _, err = worker.communicate(timeout=30)
            assert b"Traceback" not in err, err.decode()
    ids = Counter(e["id"] for e in receiver.events())
    assert len(ids) == EVENTS and set(ids.values()) == {1}, ids.most_common(3)
    store.close()
