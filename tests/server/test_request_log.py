"""``lineal server`` writes its request log: one JSON object per request on stdout."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from lineal.server.testing import ServerProcess


@pytest.mark.slow
def test_each_request_is_one_json_line(tmp_path: Path) -> None:
    with ServerProcess(backend=str(tmp_path / "store"), artifacts=str(tmp_path / "blobs"),
                       extra_args=["--log-level", "info"]) as server:
        answer = httpx.get(server.url + "/api/v1/runs", headers={"x-request-id": "req-42"})
        assert answer.status_code == 200
        deadline = time.monotonic() + 5
        while "req-42" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = [json.loads(line) for line in server.output().splitlines()
                 if line.startswith("{")]
    ours = [line for line in lines if line["request_id"] == "req-42"]
    assert len(ours) == 1, lines
    assert ours[0]["method"] == "GET" and ours[0]["route"] == "/api/v1/runs"
    assert ours[0]["status"] == 200 and ours[0]["ms"] >= 0


@pytest.mark.slow
def test_a_quieter_level_leaves_it_out(tmp_path: Path) -> None:
    with ServerProcess(backend=str(tmp_path / "store"), artifacts=str(tmp_path / "blobs"),
                       extra_args=["--log-level", "warning"]) as server:
        assert httpx.get(server.url + "/api/v1/runs").status_code == 200
        time.sleep(0.3)
        assert '"request_id"' not in server.output()
