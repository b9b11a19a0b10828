"""A real git repository with a real training script, run as a subprocess so that capture
records its commit, entry point, argv, cwd and environment variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import lineal
import lineal.store as store_module
from lineal.cli import main
from lineal.store import Store, open_store

# Deterministic unless MODEL_NOISE is set; with TIMESTAMP=1 the model file holds the time, so no
# two runs produce the same bytes. The dataset output never depends on either.
TRAIN = '''\
import argparse, csv, json, os, time
from pathlib import Path

import lineal

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--C", type=float, default=1.0)
args = parser.parse_args()
from lineal.capture import capture
capture(timeout=30)  # warm the package scan: the run's own capture has a deadline

with lineal.run("train", kind="train", params={"C": args.C}) as run:
    raw = run.use_artifact(args.data, role="train")
    rows = list(csv.reader(raw.open()))
    X = [[float(v) for v in row[:-1]] for row in rows]
    y = [int(row[-1]) for row in rows]
    out = Path("out")
    out.mkdir(exist_ok=True)
    (out / "features.csv").write_text("\\n".join(",".join(f"{v:.3f}" for v in r) for r in X))
    run.log_artifact(out / "features.csv", name="features", kind="dataset")
    from sklearn.linear_model import LogisticRegression
    model = LogisticRegression(C=args.C, max_iter=500).fit(X, y)
    coef = [[round(float(v), 6) for v in row] for row in model.coef_]
    body = {"coef": coef, "noise": os.environ.get("MODEL_NOISE")}
    if os.environ.get("TIMESTAMP"):
        body["trained_at"] = time.time_ns()
    (out / "model.json").write_text(json.dumps(body, sort_keys=True))
    run.log_artifact(out / "model.json", name="model", kind="model", role="model")
'''


@dataclass
class Project:
    """A repository with train.py in pipeline/, its bare remote, and the store it logs into."""

    root: Path
    remote: Path
    store: Store
    commit: str

    @property
    def workdir(self) -> Path:
        return self.root / "pipeline"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("MODEL_NOISE", "TIMESTAMP")}
        env.update(LINEAL_URI=self.store.location, **extra)
        return env

    def train(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """``python train.py --data iris-raw@v1 ARGS`` from pipeline/, as a user would."""
        done = subprocess.run(
            [sys.executable, "train.py", "--data", "iris-raw@v1", *args],
            cwd=self.workdir, env=self.env(**env), capture_output=True, text=True, check=False,
        )
        assert done.returncode == 0, done.stderr
        return done

    def git(self, *args: str) -> str:
        return git(self.root, *args)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()


def make_project(tmp: Path, store: Store) -> Project:
    """Commit train.py in a fresh repository, push it to a bare remote, log iris-raw@v1."""
    from sklearn.datasets import load_iris

    root, remote = tmp / "repo", tmp / "remote.git"
    (root / "pipeline").mkdir(parents=True)
    (root / "pipeline" / "train.py").write_text(TRAIN)
    (root / ".gitignore").write_text("out/\n")
    git(tmp, "init", "-q", "--bare", str(remote))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "train")
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    # Ten rows of iris are enough to train on and keep the test fast.
    data = load_iris()
    rows = [",".join(f"{v}" for v in x) + f",{t}" for x, t in list(zip(data.data, data.target, strict=True))[::15]]
    csv = tmp / "iris.csv"
    csv.write_text("\n".join(rows))
    with lineal.run("ingest", kind="ingest", capture=False, store=store) as run:
        run.log_artifact(csv, name="iris-raw", kind="dataset")
    return Project(root, remote, store, git(root, "rev-parse", "HEAD"))


@pytest.fixture
def project(tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A fresh project of this test's own, nothing trained yet."""
    monkeypatch.setenv("LINEAL_URI", store.location)  # the CLI opens the store by location
    return make_project(tmp_path, store)


@pytest.fixture(scope="module")
def _trained_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    tmp = tmp_path_factory.mktemp("trained")
    shared = open_store(tmp / "store")
    made = make_project(tmp, shared)
    made.train("--C", "0.5")
    yield made
    shared.close()


@pytest.fixture
def trained(_trained_once: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """One project per test module, trained once with ``--C 0.5`` (training costs seconds):
    tests using it may add runs, but must not change the repository."""
    monkeypatch.setenv("LINEAL_URI", _trained_once.store.location)
    store_module.set_default_store(_trained_once.store)
    return _trained_once


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the real console entry point; returns (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def tags_of(store: Store, run_id: str) -> dict[str, str]:
    return store.metadata.get_run(run_id).tags


def report_of(store: Store, run_id: str) -> dict[str, object]:
    return json.loads(tags_of(store, run_id)["lineal.reproduce.report"])


def assert_captured(store: Store, run_id: str) -> None:
    """The run's capture must be complete, or the test would check nothing about it."""
    tags = tags_of(store, run_id)
    assert "lineal.capture.errors" not in tags, tags["lineal.capture.errors"]
    assert tags.get("lineal.git.commit"), tags
