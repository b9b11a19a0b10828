"""The server's own behaviour: health, metrics, one error body, limits, streamed bytes."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from lineal.server import ServerSettings, create_app
from lineal.store import Store


@pytest.fixture
def client(embedded: Store) -> Iterator[TestClient]:
    with TestClient(create_app(ServerSettings(webhooks=False, max_body_bytes=10_000,
                                              max_page=50), store=embedded)) as test_client:
        yield test_client


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    client.get("/api/v1/runs?limit=10")
    text = client.get("/metrics").text
    assert 'lineal_http_requests_total{method="GET",route="/api/v1/runs",status="200"} 1.0' in text
    assert "lineal_http_request_seconds_bucket" in text


def test_readyz_says_when_the_store_cannot_be_opened(tmp_path: Path) -> None:
    settings = ServerSettings(backend="postgresql://nobody@127.0.0.1:1/none",
                              artifacts=str(tmp_path), webhooks=False)
    with TestClient(create_app(settings)) as client:
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.json()["status"] == "unavailable"
        assert client.get("/healthz").status_code == 200


def test_one_error_body_for_every_failure(client: TestClient) -> None:
    cases = [
        (client.get("/api/v1/runs/nope"), 404, "NotFound", "no run"),
        (client.get("/api/v1/no-such-thing"), 404, "NotFound", "no such endpoint"),
        (client.delete("/api/v1/runs"), 405, "MethodNotAllowed", ""),
        (client.post("/api/v1/runs", content=b"{not json"), 400, "InvalidArgument", "not valid JSON"),
        (client.post("/api/v1/runs", json={"run": {}, "nonsense": 1}), 400, "InvalidArgument",
         "unknown argument 'nonsense'"),
        (client.post("/api/v1/runs", json={}), 400, "InvalidArgument", "missing argument 'run'"),
        (client.post("/api/v1/runs/search", json={"filter": "metrics.auc >>> 1"}), 400,
         "InvalidArgument", ""),
        (client.post("/api/v1/models/p/m/versions/1/stage", json={"stage": "bogus"}), 400,
         "InvalidArgument", "bogus"),
        (client.get("/api/v1/runs?limit=51"), 400, "InvalidArgument", "page size of 50"),
        (client.post("/api/v1/runs", content=b"x" * 20_000), 413, "InvalidArgument", "over 10000"),
    ]
    for answer, status, code, fragment in cases:
        body = answer.json()
        assert answer.status_code == status, (answer.request.url, answer.text)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
        assert body["error"]["code"] == code and fragment in body["error"]["message"], body


def test_bytes_stream_in_and_out_with_ranges(client: TestClient) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    answer = client.put(f"/api/v1/blobs/{digest}", content=data)
    assert answer.status_code == 200 and answer.json()["created"] is True
    assert client.head(f"/api/v1/blobs/{digest}").headers["content-length"] == str(len(data))
    assert client.get(f"/api/v1/blobs/{digest}").content == data
    part = client.get(f"/api/v1/blobs/{digest}", headers={"range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    tail = client.get(f"/api/v1/blobs/{digest}", headers={"range": "bytes=-10"})
    assert tail.content == data[-10:]
    assert client.get(f"/api/v1/blobs/{digest}",
                      headers={"range": f"bytes={len(data)}-"}).status_code == 416


def test_an_upload_that_does_not_hash_to_its_name_is_refused(client: TestClient,
                                                             embedded: Store) -> None:
    digest = "sha256:" + hashlib.sha256(b"promised").hexdigest()
    answer = client.put(f"/api/v1/blobs/{digest}", content=b"delivered")
    assert answer.status_code == 400 and "hash to" in answer.json()["error"]["message"]
    assert not embedded.blobs.exists(digest)


@pytest.mark.parametrize("name", ["..%2F..%2Fetc%2Fpasswd", "sha256:..", "sha256:" + "0" * 63 + "/",
                                  "md5:abc"])
def test_blob_names_never_reach_outside_the_store(client: TestClient, name: str) -> None:
    answer = client.get(f"/api/v1/blobs/{name}")
    assert answer.status_code in (400, 404), answer.text
    assert "root:" not in answer.text


def test_each_request_is_logged_as_one_json_line(client: TestClient,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="lineal.server.access"):
        client.get("/api/v1/runs/nope", headers={"x-request-id": "abc"})
    line = json.loads(caplog.records[-1].getMessage())
    assert line["request_id"] == "abc" and line["status"] == 404
    assert line["route"] == "/api/v1/runs/{run_id}" and line["principal"]


def test_the_openapi_document_is_served_and_kept_in_docs(client: TestClient) -> None:
    served = client.get("/api/v1/openapi.json").json()
    kept = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
    assert served == kept, "regenerate: python -m lineal.server.openapi -o docs/openapi.json"
    assert "/api/v1/runs/{run_id}/batch" in served["paths"]


def test_a_call_that_takes_too_long_is_answered_503(embedded: Store,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    release = threading.Event()

    def slow_info() -> dict:
        release.wait(10)
        return {}

    monkeypatch.setattr(embedded.metadata, "info", slow_info)
    settings = ServerSettings(webhooks=False, request_timeout=0.2)
    with TestClient(create_app(settings, store=embedded)) as slow:
        answer = slow.get("/api/v1/store")
        release.set()
    assert answer.status_code == 503
    assert answer.json()["error"] == {
        "code": "StoreError", "message": "info did not finish in 0.2 s",
        "details": {"hint": "the store is slow or locked; try again (a retried write is applied "
                            "once)"}}
