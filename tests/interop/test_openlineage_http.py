"""The real ``openlineage-python`` HTTP transport against a real ``lineal server``: a data
pipeline's events become lineal lineage, behind the server's authentication."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpConfig,
    HttpTransport,
)

import lineal
from lineal.server.testing import ServerProcess
from lineal.store import open_store
from lineal.store.base import RunFilter

from .test_openlineage import make_features_run

pytestmark = pytest.mark.slow


def _client(url: str, key: str | None) -> OpenLineageClient:
    if key is None:
        config = HttpConfig(url=url, timeout=10, retry={"total": 0})
    else:
        config = HttpConfig(url=url, timeout=10, retry={"total": 0},
                            auth=ApiKeyTokenProvider({"apiKey": key}))
    return OpenLineageClient(transport=HttpTransport(config))


def test_openlineage_http_transport_into_lineal_server(tmp_path: Path) -> None:
    backend = tmp_path / "store"
    store = open_store(backend)
    _, writer = lineal.create_token("writer", store=store)  # the job's and datasets' projects
    _, other = lineal.create_token("writer", project="elsewhere", store=store)
    store.close()
    with ServerProcess(backend=str(backend), extra_args=["--auth"]) as server:
        make_features_run(_client(server.url, writer))
        # Without a token, and with one for another project: refused, nothing written.
        for key in (None, other):
            with pytest.raises(Exception):  # noqa: B017, PT011 - the transport's own error
                make_features_run(_client(server.url, key))
        env = {**os.environ, "LINEAL_URI": str(backend)}
        shown = subprocess.run([sys.executable, "-m", "lineal.cli", "lineage",
                                "warehouse/features@latest", "--json"],
                               capture_output=True, text=True, env=env, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "raw" in shown.stdout and "make_features" in shown.stdout
    reopened = open_store(backend)
    runs = reopened.metadata.list_runs(RunFilter(project="pipeline"))
    assert len(runs) == 1 and runs[0].name == "make_features"  # START and COMPLETE: one run
    entries = reopened.metadata.ledger_entries(limit=10_000)
    assert any(e.actor.startswith("token:") for e in entries)
    reopened.close()
