"""``lineal ui``: the server on the local store with the web UI, its URL printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import lineal
from lineal.server.testing import free_port
from lineal.server.ui_bundle import PACKAGED_UI
from lineal.store import open_store

from .conftest import cli

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def test_ui_serves_the_store_and_the_bundle_and_prints_its_url(tmp_path: Path) -> None:
    if not (PACKAGED_UI / "index.html").is_file():
        if IN_CI:
            pytest.fail("the UI bundle is not built (CI=true): run `make ui`")
        pytest.skip("the UI bundle is not built: run `make ui`")
    store = open_store(tmp_path / "store")
    with lineal.run("train", capture=False, store=store):
        pass
    store.close()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "lineal.cli", "--uri", str(tmp_path / "store"), "ui",
         "--no-browser", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert f"lineal UI on http://127.0.0.1:{port}/" in line, line
        page = httpx.get(f"http://127.0.0.1:{port}/runs", timeout=10)
        assert page.status_code == 200 and '<div id="root">' in page.text
        runs = httpx.post(f"http://127.0.0.1:{port}/api/v1/runs/search", json={}, timeout=10)
        assert [r["name"] for r in runs.json()["runs"]] == ["train"]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout:
            process.stdout.close()


def test_ui_without_a_bundle_says_how_to_build_it(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import lineal.server.ui_bundle as bundle

    monkeypatch.setattr(bundle, "PACKAGED_UI", tmp_path / "no-bundle")
    result = cli("ui", "--no-browser", uri=tmp_path / "store")
    assert result.code == 3, result
    assert "the web UI is not built" in result.err and "make ui" in result.err
