"""Each event type, caused through the real SDK, arrives at a real receiver on loopback with a
body that says what happened and a signature that verifies."""

from __future__ import annotations

import json

import pytest

import lineal
from lineal.errors import InvalidArgument
from lineal.store import Store
from lineal.webhooks import WebhookDispatcher, sign, verify_signature
from lineal.webhooks.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)

from .conftest import Receiver, Register

pytestmark = [pytest.mark.server_side]  # dispatchers run inside the server


def test_every_event_type_arrives_signed(
    backend_store: Store, receiver: Receiver, register: Register
) -> None:
    store = backend_store
    hook, secret = lineal.add_webhook(receiver.url, store=store)
    v1 = register(store, "model one")
    lineal.registry.set_alias("churn@v1", "prod", store=store)
    lineal.registry.transition_stage("churn@v1", "staging", comment="ready", store=store)
    lineal.registry.approve("churn@v1", comment="looks good", store=store)
    first = lineal.deployments.record_deployment("churn@v1", name="scorer", environment="prod",
                                                 capture=False, store=store)
    register(store, "model two")
    lineal.deployments.record_deployment("churn@v2", name="scorer", environment="prod",
                                         capture=False, store=store)
    back = lineal.deployments.rollback("scorer", "prod", capture=False, store=store)
    lineal.deployments.end(back, status="stopped", store=store)
    lineal.lineage.taint("churn-train@v1", "labels leaked into features", store=store)

    report = WebhookDispatcher(store).run_once()
    assert report.delivered == report.attempted == report.enqueued == len(receiver.received)

    types = [e["type"] for e in receiver.events()]
    assert types == [
        "model.created", "version.created", "alias.moved", "stage.changed", "version.approved",
        "deployment.started", "version.created", "deployment.ended", "deployment.started",
        "deployment.ended", "deployment.rolled_back", "deployment.ended", "artifact.tainted",
    ]
    for got in receiver.received:
        assert verify_signature(secret, got.body, got.headers[SIGNATURE_HEADER])
        assert not verify_signature("x" * 32, got.body, got.headers[SIGNATURE_HEADER])
        assert got.headers[EVENT_HEADER] == got.event["type"]
        assert got.headers["Content-Type"] == "application/json"
        assert int(got.headers[TIMESTAMP_HEADER]) > 1_700_000_000
    sequences = [e["sequence"] for e in receiver.events()]
    assert sequences == sorted(sequences), "in the order the changes committed"
    log = {d.id: d for d in lineal.webhook_deliveries(store=store)}
    assert {got.headers[DELIVERY_HEADER] for got in receiver.received} == set(log)

    by_type = {e["type"]: e for e in receiver.events()}
    alias = by_type["alias.moved"]
    assert alias["subject"] == {"model": "churn", "version": 1, "alias": "prod",
                                "model_version_id": v1.id, "ref": "default/churn@v1"}
    assert alias["details"]["after"] == {"version": 1} and alias["project"] == "default"
    assert alias["actor"] == lineal.registry.get_version("churn@v1", store=store).created_by
    stage = by_type["stage.changed"]
    assert stage["details"]["before"] == {"stage": "none"}
    assert stage["details"]["after"] == {"stage": "staging"} and stage["details"]["comment"] == "ready"
    assert by_type["version.approved"]["details"]["after"]["decision"] == "approved"
    started = [e for e in receiver.events() if e["type"] == "deployment.started"][0]
    assert started["subject"]["deployment"]["id"] == first.id
    assert started["subject"]["deployment"]["environment"] == "prod"
    rolled = by_type["deployment.rolled_back"]
    assert rolled["subject"]["deployment"]["id"] == back.id
    assert rolled["subject"]["deployment"]["restores"] == first.id
    assert rolled["subject"]["version"] == 1
    ended = [e["details"]["after"]["status"] for e in receiver.events()
             if e["type"] == "deployment.ended"]
    assert ended == ["replaced", "rolled_back", "stopped"]
    taint = by_type["artifact.tainted"]
    assert taint["subject"]["ref"] == "default/churn-train@v1"
    assert taint["details"]["reason"] == "labels leaked into features"
    assert hook.id in {d.webhook_id for d in log.values()}


def test_filters_by_event_type_and_project(
    backend_store: Store, receiver: Receiver, register: Register
) -> None:
    store = backend_store
    lineal.add_webhook(receiver.url, events=["alias.moved"], project="default", store=store)
    lineal.add_webhook(receiver.url, events="stage.changed", project="elsewhere", store=store)
    register(store, "m")
    lineal.registry.set_alias("churn@v1", "prod", store=store)
    lineal.registry.transition_stage("churn@v1", "staging", store=store)
    WebhookDispatcher(store).run_once()
    assert [e["type"] for e in receiver.events()] == ["alias.moved"]


def test_ping_and_the_public_helpers(tmp_path, receiver: Receiver) -> None:
    store = lineal.open_store(tmp_path / "store", artifacts=str(tmp_path / "blobs"))
    hook, secret = lineal.add_webhook(receiver.url, secret="a-long-enough-secret", store=store)
    assert secret == "a-long-enough-secret"
    delivery = lineal.test_webhook(hook.id, store=store)
    assert str(delivery.status) == "delivered" and delivery.last_status_code == 204
    (got,) = receiver.received
    assert got.event["type"] == "ping" and got.event["subject"] == {"webhook": hook.id}
    assert got.headers[SIGNATURE_HEADER] == sign(secret, got.body)
    assert json.loads(got.body)["sequence"] is None
    assert lineal.webhook_deliveries(hook.id[:10], store=store) == [delivery]
    assert lineal.webhook_deliveries(status="failed", store=store) == []
    with pytest.raises(InvalidArgument):
        lineal.webhook_deliveries(status="lost", store=store)
    assert [h.id for h in lineal.list_webhooks(store=store)] == [hook.id]
    assert secret not in json.dumps([h.to_dict() for h in lineal.list_webhooks(store=store)])
    lineal.remove_webhook(hook.id, store=store)
    assert lineal.list_webhooks(store=store) == []
    store.close()


@pytest.mark.parametrize("header", [None, "", "sha256=", "md5=abc", "sha256=00", 42])
def test_verify_signature_refuses_without_raising(header: object) -> None:
    assert verify_signature("s" * 20, b"{}", header) is False  # type: ignore[arg-type]


def test_the_package_exports_what_it_lists() -> None:
    import lineal.webhooks as package

    assert sorted(package.__all__) == sorted(package._EXPORTS)
    for name in package.__all__:
        assert getattr(package, name) is not None
