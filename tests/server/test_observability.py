"""The request log middleware: every answer carries a request id, every request is counted
under its route template with its status, and streamed bodies pass through whole."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from lineal.server import ServerSettings, create_app
from lineal.store import Store


@pytest.fixture
def client(embedded: Store) -> Iterator[TestClient]:
    with TestClient(create_app(ServerSettings(webhooks=False), store=embedded)) as client:
        yield client


def _count(client: TestClient, method: str, route: str, status: int) -> float:
    text = client.get("/metrics").text
    pattern = (rf'^lineal_http_requests_total\{{method="{method}",route="{re.escape(route)}",'
               rf'status="{status}"\}} (\S+)$')
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert client.get("/healthz", headers={"x-request-id": "abc-1"}).headers["x-request-id"] \
        == "abc-1"
    made = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.headers["x-request-id"]


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    route = "/api/v1/runs/{run_id}"
    before_404 = _count(client, "GET", route, 404)
    for _ in range(3):
        assert client.get("/api/v1/runs/01NOSUCHRUN").status_code == 404
    assert _count(client, "GET", route, 404) == before_404 + 3
    client.get("/api/v1/no-such-thing")
    assert _count(client, "GET", "unmatched", 404) >= 1


def test_access_log_names_route_status_and_principal(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="lineal.server.access"):
        client.get("/api/v1/runs/01NOSUCHRUN", headers={"x-request-id": "log-1"})
    lines = [r.getMessage() for r in caplog.records if r.name == "lineal.server.access"]
    assert any('"request_id": "log-1"' in line and '"status": 404' in line
               and '"route": "/api/v1/runs/{run_id}"' in line and '"principal": ' in line
               and '"principal": null' not in line for line in lines), lines


def test_streamed_upload_and_download_pass_through_whole(client: TestClient) -> None:
    data = bytes(range(256)) * 12_289  # 3 MiB and a bit: several chunks each way, uneven
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    answer = client.put(f"/api/v1/blobs/{digest}", content=iter([data[:70_000], data[70_000:]]),
                        headers={"content-type": "application/octet-stream"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["size"] == len(data)
    got = client.get(f"/api/v1/blobs/{digest}")
    assert got.status_code == 200 and got.content == data
    part = client.get(f"/api/v1/blobs/{digest}", headers={"range": "bytes=1048570-"})
    assert part.status_code == 206 and part.content == data[1_048_570:]
