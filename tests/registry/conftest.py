"""Fixtures of the registry and deployment tests: model artifacts with real lineage (a training
run with params and metrics, a dataset input, a captured-looking environment and code)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lineal
from lineal.entities import ArtifactVersion, EdgeDirection, Storage
from lineal.store import Store
from lineal.store.base import NewArtifactVersion

Train = Callable[..., ArtifactVersion]


def _json_artifact(store: Store, name: str, kind: str, body: dict[str, Any]) -> ArtifactVersion:
    from lineal.canonical import canonical_json

    blob = store.blobs.put_bytes(canonical_json(body).encode())
    spec = NewArtifactVersion(project="default", name=name, kind=kind, digest=blob.digest,
                              uri=blob.uri, size=blob.size, storage=Storage.STORED, metadata=body)
    return store.metadata.create_artifact_version(spec, "tester")[0]


@pytest.fixture
def train(tmp_path: Path) -> Train:
    """``train(store, content, params=..., metrics=..., packages=..., commit=..., data=...)``:
    record a training run that consumes a dataset, an environment and code, and logs a model
    artifact ``churn-model`` with ``content``; returns the model artifact version."""

    def _train(
        store: Store,
        content: str,
        *,
        name: str = "churn-model",
        kind: str = "model",
        params: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        packages: dict[str, str] | None = None,
        commit: str = "a" * 40,
        data: str = "x,y\n1,0\n",
    ) -> ArtifactVersion:
        folder = tmp_path / f"train-{abs(hash((content, name)))}"
        folder.mkdir(exist_ok=True)
        (folder / "train.csv").write_text(data)
        (folder / "model.bin").write_text(content)
        dataset = _log_dataset(store, folder / "train.csv")
        with lineal.run("train", kind="train", params=params or {}, capture=False, store=store) as run:
            run.use_version(dataset, role="train_data")
            env = _json_artifact(store, "environment", "environment", {
                "python": {"version": "3.11.7"},
                "packages": packages or {"scikit-learn": "1.5.0", "numpy": "2.0.0"},
            })
            code = _json_artifact(store, "code", "code", {"git": {"commit": commit, "dirty": False}})
            store.metadata.add_edge(run.id, env.id, EdgeDirection.INPUT, "environment", "tester")
            store.metadata.add_edge(run.id, code.id, EdgeDirection.INPUT, "code", "tester")
            run.log_metrics(metrics or {})
            model = run.log_artifact(folder / "model.bin", name=name, kind=kind)
        return model

    return _train


def _log_dataset(store: Store, path: Path) -> str:
    with lineal.run("ingest", kind="ingest", capture=False, store=store) as run:
        version = run.log_artifact(path, name="churn-train", kind="dataset")
    return version.ref


@pytest.fixture
def ledger_size() -> Callable[[Store], int]:
    """The sequence number of the last audit ledger entry: unchanged means nothing was written."""

    def _size(store: Store) -> int:
        entries = store.metadata.ledger_entries(limit=1_000_000)
        return entries[-1].seq if entries else 0

    return _size


class CliResult:
    """What one ``lineal`` invocation did: exit code, stdout, stderr."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        import json

        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[-2000:]!r}, err={self.err!r})"


Lineal = Callable[..., CliResult]


@pytest.fixture
def lineal_cli(backend_store: Store) -> Lineal:
    """``lineal_cli("registry", "show", "churn")``: run the ``lineal`` command in this process
    against ``backend_store``, through the same entry point as the console script (so library
    errors become one line on stderr and the error's exit code)."""
    from click.testing import CliRunner

    from lineal.cli import main

    uri = backend_store.metadata.url  # type: ignore[attr-defined]
    artifacts = backend_store.blobs.root_uri.removeprefix("file://")  # type: ignore[attr-defined]

    def _run(*args: str) -> CliResult:
        runner = CliRunner()
        # A wide terminal so that table cells are not wrapped or cut in the assertions.
        with runner.isolation(env={"COLUMNS": "250"}) as (out, err, _):
            try:
                main(["--uri", uri, "--artifacts", artifacts, *args])
                code = 0
            except SystemExit as done:
                code = int(done.code or 0)
            return CliResult(code, out.getvalue().decode(), err.getvalue().decode())

    return _run


@pytest.fixture
def patient_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment capture with a long deadline: run capture has 0.15 s by default, which a
    loaded test machine can overrun (the package scan is then left out, by design). Tests that
    assert on the captured packages use this."""
    import functools

    import lineal.capture

    monkeypatch.setattr(lineal.capture, "capture",
                        functools.partial(lineal.capture.capture, timeout=30.0))
