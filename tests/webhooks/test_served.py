"""Webhooks through ``lineal server``: registered over HTTP by an admin, delivered by the
server's own dispatcher for a change a client made over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

import lineal
import lineal.store as store_module
from lineal.server import ServerSettings
from lineal.server.testing import in_process
from lineal.store import open_store
from lineal.webhooks import verify_signature

from .conftest import Receiver, wait_until


def test_a_change_made_over_http_is_delivered_by_the_server(tmp_path: Path,
                                                            receiver: Receiver) -> None:
    embedded = open_store(tmp_path / "store", artifacts=str(tmp_path / "blobs"))
    with in_process(embedded, ServerSettings(webhooks=True)) as remote:
        store_module.set_default_store(remote)
        hook, secret = lineal.add_webhook(receiver.url, events=["artifact.tainted"])
        assert [h.id for h in lineal.list_webhooks()] == [hook.id]
        data = tmp_path / "raw.csv"
        data.write_text("a\n1\n")
        with lineal.run(project="default", name="ingest", kind="ingest") as run:
            version = run.log_artifact(data, name="raw", kind="dataset")
        lineal.lineage.taint(version.ref, reason="bad labels")
        wait_until(lambda: bool(receiver.received), seconds=30)
    embedded.close()
    got = receiver.received[0]
    assert got.event["type"] == "artifact.tainted"
    assert verify_signature(secret, got.body, got.headers.get("X-Lineal-Signature"))


def test_a_client_cannot_claim_deliveries(tmp_path: Path) -> None:
    embedded = open_store(tmp_path / "store")
    with in_process(embedded) as remote, pytest.raises(lineal.PermissionDenied,
                                                       match="server's own"):
        remote.metadata.claim_webhook_deliveries("me", 0)
    embedded.close()
