"""A real store filled through the SDK, and a way to run the real ``lineal`` entry point on it.

``cli(...)`` calls ``lineal.cli.main`` in-process (the same function the console script calls,
so errors go through the same one-line handler) with stdout and stderr captured separately.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import lineal
from lineal.entities import ArtifactVersion
from lineal.store import Store, open_store


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*args: str, uri: str | Path | None = None, artifacts: str | Path | None = None,
        env: dict[str, str] | None = None) -> Result:
    """Run ``lineal [--uri URI] [--artifacts DIR] ARGS...`` in-process."""
    from lineal.cli import main

    argv = []
    if uri is not None:
        argv += ["--uri", str(uri)]
    if artifacts is not None:
        argv += ["--artifacts", str(artifacts)]
    argv += list(args)
    runner = CliRunner()
    with runner.isolation(env=env) as (out, err, _):
        try:
            main(argv)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        return Result(code, out.getvalue().decode(), err.getvalue().decode())


def ok(*args: str, **kwargs: Any) -> Result:
    """``cli(...)`` that must succeed."""
    result = cli(*args, **kwargs)
    assert result.code == 0, f"lineal {' '.join(args)} exited {result.code}: {result.err}"
    return result


def messages(err: str) -> list[str]:
    """The messages on stderr: each line with the indented lines that continue it (a message
    wrapped at ``$COLUMNS``), joined back into one line."""
    out: list[str] = []
    for line in err.strip().splitlines():
        if out and line[:1].isspace():
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def assert_one_line_error(result: Result, code: int, *fragments: str) -> None:
    """A user error: the given exit code, nothing on stdout, one message on stderr (one line, or
    one wrapped at ``$COLUMNS`` onto lines indented under it), no traceback."""
    assert result.code == code, (result.code, result.out, result.err)
    assert result.out == "", result.out
    lines = result.err.strip().splitlines()
    assert lines[0].startswith("error: "), result.err
    assert all(line.startswith(" " * len("error: ")) for line in lines[1:]), result.err
    assert "Traceback" not in result.err
    (message,) = messages(result.err)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@dataclass
class World:
    """What ``build_world`` recorded, for tests to compare the CLI's output with."""

    store: Store
    uri: str
    artifacts: str | None
    root: Path
    runs: dict[str, str] = field(default_factory=dict)
    """Run name -> run id."""
    versions: dict[str, ArtifactVersion] = field(default_factory=dict)
    cutoff: datetime | None = None
    """A time after the ``default`` project's runs and before the ``other`` project's."""

    def cli(self, *args: str, **kwargs: Any) -> Result:
        return cli(*args, uri=self.uri, artifacts=self.artifacts, **kwargs)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        return ok(*args, uri=self.uri, artifacts=self.artifacts, **kwargs)


def make_files(root: Path) -> tuple[Path, Path]:
    """A small CSV and a folder with nested, binary and empty files."""
    root.mkdir(parents=True, exist_ok=True)
    csv = root / "raw.csv"
    csv.write_text("x,y\n" + "".join(f"{i},{i * i}\n" for i in range(200)))
    folder = root / "features"
    (folder / "part" / "deep").mkdir(parents=True, exist_ok=True)
    (folder / "train.bin").write_bytes(os.urandom(5000))
    (folder / "part" / "a.txt").write_text("alpha\n")
    (folder / "part" / "deep" / "b.txt").write_text("beta\n")
    (folder / "empty.txt").write_bytes(b"")
    return csv, folder


def build_world(store: Store, uri: str, root: Path, artifacts: str | None = None,
                models: bool = True) -> World:
    """Runs, artifacts and (with ``models``) two scikit-learn models in project ``default``;
    a failed run and a report in project ``other``, all logged through the SDK."""
    world = World(store=store, uri=uri, artifacts=artifacts, root=root)
    csv, folder = make_files(root / "files")
    with lineal.run("ingest", kind="ingest", tags={"team": "data", "stage": "raw"},
                    store=store) as run:  # the one run with automatic capture
        world.versions["raw"] = run.log_artifact(csv, name="raw", kind="dataset",
                                                 tags={"source": "generated"})
    world.runs["ingest"] = run.id
    with lineal.run("pipeline", kind="pipeline", capture=False, store=store) as pipeline:
        with lineal.run("preprocess", kind="preprocess", parent=pipeline, capture=False,
                        store=store) as run:
            run.use_artifact("raw")
            world.versions["features"] = run.log_artifact(folder, name="features", kind="dataset")
        world.runs["preprocess"] = run.id
        with lineal.run("train", kind="train", experiment="exp1", parent=pipeline,
                        params={"C": 0.5, "solver": "lbfgs"},
                        tags={"team": "ml", "note": "[red]not markup[/red]"},
                        capture=False, store=store) as run:
            run.use_artifact("features", role="train_data")
            for step, loss in enumerate((0.9, 0.5, 0.25)):
                run.log_metric("loss", loss, step=step)
            run.log_metrics({"acc": 0.96, "f1": 0.95})
            if models:
                world.versions["iris"] = _log_models(run)
        world.runs["train"] = run.id
    world.runs["pipeline"] = pipeline.id
    if models:
        with lineal.run("evaluate", kind="evaluate", capture=False, store=store) as run:
            lineal.load_model("iris", store=store)
        world.runs["evaluate"] = run.id
    time.sleep(0.02)
    world.cutoff = datetime.now(UTC)
    time.sleep(0.02)
    notes = root / "files" / "notes.md"
    notes.write_text("# notes\n")
    with (
        pytest.raises(ValueError, match="boom"),
        lineal.run("broken", kind="train", project="other", tags={"team": "ml"}, capture=False,
                   store=store) as run,
    ):
        world.versions["notes"] = run.log_artifact(notes, name="notes", kind="report")
        raise ValueError("boom")
    world.runs["broken"] = run.id
    return world


def _log_models(run: Any) -> ArtifactVersion:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    data = load_iris(as_frame=True)
    x, y = data.data, data.target
    version = run.log_model(LogisticRegression(max_iter=300).fit(x.values, y),
                            "iris", input_example=x.values[:3])
    run.log_model(DecisionTreeClassifier(max_depth=2).fit(x, y), "iris-tree",
                  input_example=x.head(3), format="joblib")
    return version


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A populated embedded store shared by every read-only test (built once: logging the
    models is the slow part)."""
    root = tmp_path_factory.mktemp("world")
    uri = str(root / "store")
    store = open_store(uri)
    try:
        yield build_world(store, uri, root)
    finally:
        store.close()


@pytest.fixture
def fresh_world(tmp_path: Path) -> Iterator[World]:
    """A populated embedded store of the test's own, for tests that damage it."""
    uri = str(tmp_path / "store")
    store = open_store(uri)
    try:
        yield build_world(store, uri, tmp_path, models=False)
    finally:
        store.close()


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def backend_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The same (model-less) world on each metadata backend, blobs in a local folder."""
    if request.param == "sqlite":
        uri = str(tmp_path / "store")
    else:
        uri = request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")
    blobs = str(tmp_path / "blobs")
    store = open_store(uri, artifacts=blobs)
    try:
        yield build_world(store, uri, tmp_path, artifacts=blobs, models=False)
    finally:
        store.close()
