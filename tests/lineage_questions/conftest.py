"""Real pipelines recorded through ``lineal.run`` for the lineage questions and the diff.

One scenario per backend (built once per module, then only read):

    pipeline "iris"      ingest -> clean -> features -> train, each a nested run; produces
                         iris-raw, iris-clean, iris-features (datasets) and iris-model (model)
    v1  baseline         C=1.0, scale=1.0, all rows
    v2  param change     C=0.05                                   -> diverges at train
    v3  data change      the source drops 30 rows                 -> diverges at ingest
    v4  package change   the training run's environment has numpy "9.9.9" and an extra
                         package (capture is wrapped to inject them)  -> diverges at train
    fail                 C=-1: scikit-learn raises in train; the pipeline fails
    v5  code change      a new commit in the repository the runs execute in

Everything else is real: capture runs git in a temporary repository (so the code fields are
deterministic whatever happens in the developer's tree) and scans the installed packages;
scikit-learn trains the models; the registry registers and deploys two of them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lineal
import lineal.capture
from lineal.store import Store, open_store

PG_ADMIN = os.environ.get("LINEAL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN = os.environ.get("LINEAL_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/test")

_real_capture = lineal.capture.capture


@dataclasses.dataclass
class Scenario:
    store: Store
    backend: str
    uri: str
    artifacts: str
    models: dict[str, str]
    """label (v1..v5) -> model artifact ref."""
    runs: dict[str, dict[str, str]]
    """label -> step name -> run id (plus "pipeline")."""
    failed_pipeline: str
    failed_train: str
    commits: list[str]

    def cli_args(self) -> list[str]:
        return ["--uri", self.uri, "--artifacts", self.artifacts]


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def _capture_with(packages: dict[str, str | None] | None) -> Any:
    """Real capture (with a deadline long enough for a loaded machine), with ``packages``
    overriding installed versions (None removes one)."""

    def capture(**kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30.0)
        captured = _real_capture(**kwargs)
        if not packages:
            return captured
        env = dict(captured.environment)
        installed = dict(env.get("packages") or {})
        for name, version in packages.items():
            if version is None:
                installed.pop(name, None)
            else:
                installed[name] = version
        env["packages"] = dict(sorted(installed.items()))
        return dataclasses.replace(captured, environment=env)

    return capture


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.write_text("\n".join([",".join(header), *(",".join(str(v) for v in r) for r in rows)]) + "\n")


def _read_csv(path: Path) -> tuple[list[str], list[list[float]]]:
    lines = path.read_text().splitlines()
    return lines[0].split(","), [[float(v) for v in line.split(",")] for line in lines[1:]]


def _dataset_meta(header: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"rows": len(rows), "schema": {h: "double" for h in header}}


def run_pipeline(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    C: float = 1.0,
    scale: float = 1.0,
    drop_rows: int = 0,
    train_packages: dict[str, str | None] | None = None,
    user: str | None = None,
) -> dict[str, str]:
    """ingest -> clean -> features -> train inside one pipeline run; returns run ids by step
    and the model ref. Exceptions propagate (the runs are marked failed)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from lineal.datasets import load_dataset

    workdir.mkdir(parents=True, exist_ok=True)
    ids: dict[str, str] = {}
    tags = {"lineal.user": user} if user else {}
    with lineal.run("iris", kind="pipeline", params={"C": C, "scale": scale}) as pipe:
        ids["pipeline"] = pipe.id
        with lineal.run("ingest", kind="ingest", params={"source": "sklearn.iris"}) as run:
            run.set_tags(tags)  # after capture, which records the OS user
            ids["ingest"] = run.id
            data = load_iris()
            header = [*(f"f{i}" for i in range(4)), "target"]
            rows = [[*map(float, x), int(y)] for x, y in zip(data.data, data.target, strict=True)]
            rows = rows[drop_rows:]
            raw = workdir / "raw.csv"
            _write_csv(raw, header, rows)
            raw_v = run.log_artifact(raw, name="iris-raw", kind="dataset",
                                     metadata=_dataset_meta(header, rows))
        with lineal.run("clean", kind="preprocess", params={"dedupe": True}) as run:
            run.set_tags(tags)
            ids["clean"] = run.id
            header, rows = _read_csv(run.use_artifact(raw_v.ref, role="raw_data"))
            unique = [list(r) for r in dict.fromkeys(tuple(r) for r in rows)]
            clean = workdir / "clean.csv"
            _write_csv(clean, header, unique)
            # Through the datasets API: the version's metadata holds its schema and profile.
            clean_v = run.log_dataset(str(clean), name="iris-clean", context="training")
            run.log_metric("dropped", len(rows) - len(unique))
        with lineal.run("features", kind="preprocess", params={"scale": scale}) as run:
            run.set_tags(tags)
            ids["features"] = run.id
            table = load_dataset(run.use_dataset(clean_v.ref, context="clean_data"), store=run.store)
            header = table.column_names
            rows = [[float(v) for v in row.values()] for row in table.to_pylist()]
            scaled = [[*(round(v * scale, 6) for v in r[:-1]), int(r[-1])] for r in rows]
            header = [*header[:-1], "petal_ratio", header[-1]]
            scaled = [[*r[:-1], round(r[2] / r[3], 6) if r[3] else 0.0, r[-1]] for r in scaled]
            feats = workdir / "features.csv"
            _write_csv(feats, header, scaled)
            feats_v = run.log_artifact(feats, name="iris-features", kind="dataset",
                                       metadata=_dataset_meta(header, scaled))
        monkeypatch.setattr(lineal.capture, "capture", _capture_with(train_packages))
        try:
            with lineal.run("train", kind="train", params={"C": C, "max_iter": 300}) as run:
                run.set_tags(tags)
                ids["train"] = run.id
                header, rows = _read_csv(run.use_artifact(feats_v.ref, role="train_data"))
                x = [r[:-1] for r in rows]
                y = [int(r[-1]) for r in rows]
                model = LogisticRegression(C=C, max_iter=300).fit(x, y)
                run.log_metrics({"accuracy": float(model.score(x, y)),
                                 "loss": float(1 - model.score(x, y))})
                body = {"coef": [[round(float(v), 5) for v in row] for row in model.coef_]}
                (workdir / "model.json").write_text(json.dumps(body, sort_keys=True))
                model_v = run.log_artifact(workdir / "model.json", name="iris-model", kind="model",
                                           role="model")
                ids["model"] = model_v.ref
        finally:
            monkeypatch.setattr(lineal.capture, "capture", _capture_with(None))
    return ids


def train_others(workdir: Path) -> dict[str, str]:
    """Two more models on iris-features@v1 outside any pipeline: a tree whose accuracy is
    recorded by a separate evaluate run, and a baseline that records no metric at all."""
    from sklearn.dummy import DummyClassifier
    from sklearn.tree import DecisionTreeClassifier

    workdir.mkdir(parents=True, exist_ok=True)
    ids: dict[str, str] = {}
    models = {"iris-tree": DecisionTreeClassifier(max_depth=2, random_state=0),
              "iris-dummy": DummyClassifier(strategy="most_frequent")}
    for name, estimator in models.items():
        with lineal.run(f"train-{name.removeprefix('iris-')}", kind="train",
                        params={"estimator": type(estimator).__name__}) as run:
            run.set_tags({"lineal.user": "dave"})
            header, rows = _read_csv(run.use_artifact("iris-features@v1", role="train_data"))
            estimator.fit([r[:-1] for r in rows], [int(r[-1]) for r in rows])
            path = workdir / f"{name}.json"
            path.write_text(json.dumps({"estimator": repr(estimator)}))
            ids[name] = run.log_artifact(path, name=name, kind="model").ref
            ids[f"train-{name}"] = run.id
        if name == "iris-tree":
            with lineal.run("evaluate", kind="evaluate") as run:
                run.use_artifact(ids[name], role="model")
                header, rows = _read_csv(run.use_artifact("iris-features@v1", role="test_data"))
                score = estimator.score([r[:-1] for r in rows], [int(r[-1]) for r in rows])
                run.log_metric("accuracy", float(score))
                ids["evaluate"] = run.id
    return ids


def _fresh_database(admin_url: str) -> Iterator[str]:
    import sqlalchemy as sa

    name = f"lineal_q_{uuid.uuid4().hex[:12]}"
    try:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{admin_url} is not reachable: {error}")
        pytest.skip(f"{admin_url} is not reachable: {error}")
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        engine.dispose()


def build_scenario(root: Path, store: Store, backend: str, uri: str, artifacts: str) -> Scenario:
    import lineal.store as store_module
    from lineal import deployments, registry

    repo = root / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "pipeline.py").write_text("# the iris pipeline\n")
    _git(repo, "add", "pipeline.py")
    _git(repo, "commit", "-q", "-m", "first")
    commits = [_git(repo, "rev-parse", "HEAD")]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        mp.setattr(lineal.capture, "capture", _capture_with(None))
        store_module.set_default_store(store)
        runs: dict[str, dict[str, str]] = {}
        runs["v1"] = run_pipeline(root / "w1", mp, user="alice")
        runs["v2"] = run_pipeline(root / "w2", mp, C=0.05, user="bob")
        runs["v3"] = run_pipeline(root / "w3", mp, drop_rows=30, user="carol")
        runs["v4"] = run_pipeline(root / "w4", mp, train_packages={"numpy": "9.9.9",
                                                                 "left-pad": "1.3.0"})
        with pytest.raises(ValueError):
            run_pipeline(root / "wf", mp, C=-1.0)
        (repo / "pipeline.py").write_text("# the iris pipeline, faster\n")
        _git(repo, "commit", "-q", "-am", "second")
        commits.append(_git(repo, "rev-parse", "HEAD"))
        runs["v5"] = run_pipeline(root / "w5", mp, scale=1.0)
        runs["others"] = train_others(root / "wo")
        store_module.set_default_store(None)
    from lineal.store.base import RunFilter

    failed_pipe = store.metadata.list_runs(RunFilter(name="iris", status="failed", limit=1))[0]
    failed_train = store.metadata.list_runs(RunFilter(name="train", status="failed", limit=1))[0]
    registry.register_model("iris", runs["v1"]["model"], store=store)
    registry.register_model("iris", runs["v2"]["model"], store=store)
    deployments.record_deployment("iris@v1", name="iris-api", environment="prod", store=store)
    deployments.record_deployment("iris@v2", name="iris-api", environment="staging", store=store)
    models = {label: ids["model"] for label, ids in runs.items() if "model" in ids}
    return Scenario(store, backend, uri, artifacts, models, runs, failed_pipe.id,
                    failed_train.id, commits)


@pytest.fixture(scope="package", params=["sqlite", "postgres", "mysql"])
def scenario(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """The scenario on one backend; read-only for the tests that use it."""
    root = tmp_path_factory.mktemp(f"scenario-{request.param}")
    artifacts = str(root / "blobs")
    databases: Iterator[str] | None = None
    if request.param == "sqlite":
        uri = str(root / "store")
    else:
        databases = _fresh_database(PG_ADMIN if request.param == "postgres" else MYSQL_ADMIN)
        uri = next(databases)
    store = open_store(uri, artifacts=artifacts)
    try:
        yield build_scenario(root, store, request.param, uri, artifacts)
    finally:
        store.close()
        if databases is not None:
            next(databases, None)
