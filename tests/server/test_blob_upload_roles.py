"""A writer in one project logs artifacts through the server: new bytes, and bytes the store
already holds, are uploaded or reused without the reader role anywhere else."""

from __future__ import annotations

from pathlib import Path

import pytest

import lineal
from lineal.auth import AuthSettings
from lineal.server import ServerSettings
from lineal.server.testing import in_process
from lineal.store import Store


def test_a_project_scoped_writer_logs_new_and_known_bytes(
        embedded: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = lineal.create_token("writer", project="churn", store=embedded)[1]
    monkeypatch.setenv("LINEAL_TOKEN", secret)
    settings = ServerSettings(auth=AuthSettings(enabled=True), webhooks=False)
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00\x01" * 5000)
    with in_process(embedded, settings) as remote, \
            lineal.run("train", project="churn", capture=False, store=remote) as run:
        first = run.log_artifact(weights, "weights", kind="model")
        again = run.log_artifact(weights, "weights-copy", kind="model")  # bytes known
    assert first.digest == again.digest
    assert embedded.blobs.exists(first.digest)
    assert {v.name for v in lineal.list_artifacts(project="churn", store=embedded)} == {
        "weights", "weights-copy"}
