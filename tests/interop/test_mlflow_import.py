"""``lineal import mlflow``: an MLflow store filled by the real mlflow client (3.17.2), imported
into a real lineal store, then asked lineal's questions."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import assert_one_line_error, cli, ok

from lineal import lineage, registry
from lineal.entities import EdgeDirection, RunStatus
from lineal.identity import current_principal
from lineal.interop.mlflow_import import RUN_ID_TAG, STATE_TAG, _Importer, import_mlflow
from lineal.store import Store, open_store
from lineal.store.base import ArtifactFilter, RunFilter

mlflow = pytest.importorskip("mlflow")

IDENTICAL = b"identical bytes in two runs\n"


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A small MLflow history: two experiments, runs with metric histories, identical artifacts,
    a dataset input, a logged scikit-learn model, a nested run, a deleted run, a registered
    model with two versions (a logged model and a plain run artifact), an alias and a stage."""
    import pandas as pd
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root}/mlflow.db"
    before, cwd = mlflow.get_tracking_uri(), os.getcwd()
    os.chdir(root)  # MLflow puts the Default experiment's artifacts under ./mlruns
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    try:
        churn = client.create_experiment("churn exp", artifact_location=f"file://{root}/art")
        other = client.create_experiment("other", artifact_location=f"file://{root}/art2")
        same = root / "same.txt"
        same.write_bytes(IDENTICAL)
        frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]})
        with mlflow.start_run(experiment_id=churn, run_name="train-1") as run:
            mlflow.log_params({"C": 1.0, "solver": "lbfgs"})
            for step in range(3):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.set_tag("team", "risk")
            mlflow.log_artifact(str(same))
            mlflow.log_input(mlflow.data.from_pandas(frame, name="churn-train", targets="y"),
                             context="training")
            model = LogisticRegression().fit(frame[["a"]], frame["y"])
            # Explicit requirements: inferring them loads the model in a subprocess (slow).
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
            with mlflow.start_run(run_name="fold-0", nested=True) as child:
                mlflow.log_metric("auc", 0.8)
        train1 = client.get_run(run.info.run_id)
        with mlflow.start_run(experiment_id=churn, run_name="train-2") as run:
            mlflow.log_artifact(str(same))
            mlflow.log_metric("loss", 0.5, step=7)
            train2 = run.info.run_id
        with mlflow.start_run(experiment_id=churn, run_name="oops") as run:
            mlflow.log_metric("loss", 9.0)
        client.delete_run(run.info.run_id)
        with mlflow.start_run(experiment_id=other, run_name="elsewhere") as run:
            mlflow.log_param("k", 3)
            elsewhere = run.info.run_id
        v1 = mlflow.register_model(info.model_uri, "churn model")
        v2 = client.create_model_version("churn model", f"runs:/{train2}/same.txt", train2)
        client.set_registered_model_alias("churn model", "champion", v1.version)
        client.transition_model_version_stage("churn model", v1.version, "Staging")
        yield {"uri": uri, "root": root, "train1": train1, "train2": train2,
               "child": child.info.run_id,
               "elsewhere": elsewhere, "model_id": info.model_id, "v2": v2.version,
               "loss": client.get_metric_history(train1.info.run_id, "loss")}
    finally:
        mlflow.set_tracking_uri(before)
        os.chdir(cwd)


@pytest.fixture
def lineal_store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "lineal")
    yield s
    s.close()


def _run(store: Store, mlflow_run_id: str):  # noqa: ANN202
    found = store.metadata.list_runs(RunFilter(tags={RUN_ID_TAG: mlflow_run_id}))
    assert len(found) == 1, found
    return found[0]


def _ledger(store: Store) -> int:
    return len(store.metadata.ledger_entries(limit=1_000_000))


def test_import_keeps_runs_metrics_times_and_lineage(mlflow_store: dict[str, Any],
                                                      lineal_store: Store) -> None:
    summary = import_mlflow(mlflow_store["uri"], store=lineal_store)
    assert not summary.failed, summary.to_dict()
    assert summary.imported["runs"] == 4 and summary.experiments == 3  # with Default
    deleted = [n for n in summary.not_imported if n.kind == "run"]
    assert len(deleted) == 1 and deleted[0].reason == "deleted in MLflow" and not deleted[0].failed

    mlrun = mlflow_store["train1"]
    run = _run(lineal_store, mlrun.info.run_id)
    assert run.name == "train-1" and run.status is RunStatus.FINISHED
    assert run.experiment == "churn-exp"
    assert int(run.started_at.timestamp() * 1000) == mlrun.info.start_time
    assert run.ended_at is not None and int(run.ended_at.timestamp() * 1000) == mlrun.info.end_time
    assert run.params == {"C": "1.0", "solver": "lbfgs"}
    assert run.tags["team"] == "risk" and run.tags["mlflow.user"] == mlrun.info.user_id
    assert run.tags[STATE_TAG] == "complete"
    assert run.created_by == current_principal()
    history = lineal_store.metadata.metric_history(run.id, "loss")
    assert [(p.step, p.value, p.timestamp_us) for p in history] == [
        (m.step, m.value, m.timestamp * 1000) for m in mlflow_store["loss"]]
    child = _run(lineal_store, mlflow_store["child"])
    assert child.parent_id == run.id

    # Identical bytes logged by two runs: one version, produced by both, one blob.
    other = _run(lineal_store, mlflow_store["train2"])
    versions = lineal_store.metadata.list_artifact_versions(ArtifactFilter(name="same.txt"))
    assert len(versions) == 1 and versions[0].size == len(IDENTICAL)
    for producer in (run, other):
        assert any(e.artifact_id == versions[0].id and e.direction is EdgeDirection.OUTPUT
                   for e in lineal_store.metadata.list_edges(run_id=producer.id))
    assert lineal_store.blobs.read_bytes(versions[0].digest) == IDENTICAL
    assert summary.imported["artifacts_reused"] >= 1

    # dataset -> run -> model -> registered version, through lineal's own questions
    trained = lineage.trained_on("churn-model@champion", store=lineal_store)
    assert [(d.name, d.role, d.rows, d.direct) for d in trained] == [
        ("churn-train", "training", 4, True)]
    version = registry.get_version("churn-model@champion", store=lineal_store)
    assert version.version == 1 and str(version.stage) == "staging"
    assert version.tags["lineal.mlflow.version"] == "1"
    up = lineage.upstream("churn-model@champion", store=lineal_store)
    assert {n.name for n in up.nodes} >= {"train-1", "churn-train"}
    model = lineal_store.metadata.get_artifact_version(version.artifact_version_id)
    assert model.kind == "model" and model.producer_run_id == run.id
    assert model.tags["lineal.mlflow.model_id"] == mlflow_store["model_id"]
    # v2 registered a plain run artifact: downloaded and linked as a model produced by train-2
    v2 = registry.get_version("churn-model@v2", store=lineal_store)
    linked = lineal_store.metadata.get_artifact_version(v2.artifact_version_id)
    assert linked.kind == "model" and linked.producer_run_id == other.id
    assert lineal_store.metadata.verify_ledger().ok


def test_second_import_writes_nothing(mlflow_store: dict[str, Any], lineal_store: Store) -> None:
    import_mlflow(mlflow_store["uri"], store=lineal_store)
    entries = _ledger(lineal_store)
    again = import_mlflow(mlflow_store["uri"], store=lineal_store)
    assert again.nothing_new, again.imported
    assert again.already["runs"] == 4 and again.already["model_versions"] == 2
    assert again.already["aliases"] == 1 and not again.failed
    assert _ledger(lineal_store) == entries


def test_every_backend_imports_once(mlflow_store: dict[str, Any], backend_store: Store) -> None:
    """The import speaks only the store contract: the same on PostgreSQL and MariaDB, where the
    registry, tags and metric points take their own SQL."""
    steps: list[tuple[str, int, int]] = []
    first = import_mlflow(mlflow_store["uri"], store=backend_store,
                          progress=lambda what, done, total: steps.append((what, done, total)))
    assert not first.failed, first.to_dict()
    assert [done for _, done, _ in steps] == list(range(1, len(steps) + 1))
    assert steps[-1][1] == steps[-1][2] and steps[-1][0] == "registered models"
    entries = _ledger(backend_store)
    assert import_mlflow(mlflow_store["uri"], store=backend_store).nothing_new
    assert _ledger(backend_store) == entries
    trained = lineage.trained_on("churn-model@champion", store=backend_store)
    assert [d.name for d in trained] == ["churn-train"]
    assert backend_store.metadata.verify_ledger().ok


def test_dry_run_writes_nothing(mlflow_store: dict[str, Any], lineal_store: Store) -> None:
    entries = _ledger(lineal_store)
    summary = import_mlflow(mlflow_store["uri"], store=lineal_store, dry_run=True)
    assert summary.dry_run and summary.imported["runs"] == 4
    assert summary.imported["metric_points"] == 3 + 1 + 1 + 0
    assert summary.imported["model_versions"] == 2 and summary.imported["aliases"] == 1
    assert _ledger(lineal_store) == entries
    assert lineal_store.metadata.list_runs(RunFilter()) == []


def test_interrupted_import_is_resumed(mlflow_store: dict[str, Any], lineal_store: Store,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after a run was created leaves it marked incomplete (and running): the next
    import finishes it without writing its metric points twice."""
    real = _Importer._artifacts

    def broken(self: _Importer, run: Any, run_id: str) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(_Importer, "_artifacts", broken)
    first = import_mlflow(mlflow_store["uri"], store=lineal_store)
    assert {n.reason for n in first.failed} == {"disk full"}
    half = _run(lineal_store, mlflow_store["train1"].info.run_id)
    assert half.status is RunStatus.RUNNING and half.tags[STATE_TAG] == "incomplete"
    monkeypatch.setattr(_Importer, "_artifacts", real)
    second = import_mlflow(mlflow_store["uri"], store=lineal_store)
    assert not second.failed, second.to_dict()
    done = _run(lineal_store, mlflow_store["train1"].info.run_id)
    assert done.status is RunStatus.FINISHED and done.tags[STATE_TAG] == "complete"
    assert len(lineal_store.metadata.metric_history(done.id, "loss")) == 3


def test_content_that_fails_is_retried(mlflow_store: dict[str, Any], lineal_store: Store,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """An artifact that cannot be imported is reported as failed, its run ends marked
    ``partial``, and the next import brings the artifact in and marks the run complete."""
    import lineal.artifacts

    real = lineal.artifacts.log_content

    def flaky(store: Store, path: Any, **kwargs: Any) -> Any:
        if Path(path).name == "same.txt":
            raise OSError("object store timed out")
        return real(store, path, **kwargs)

    monkeypatch.setattr(lineal.artifacts, "log_content", flaky)
    first = import_mlflow(mlflow_store["uri"], store=lineal_store)
    failed = {(n.kind, n.reason) for n in first.failed}
    assert ("artifact", "object store timed out") in failed
    partial = _run(lineal_store, mlflow_store["train2"])
    assert partial.status is RunStatus.FINISHED and partial.tags[STATE_TAG] == "partial"
    monkeypatch.setattr(lineal.artifacts, "log_content", real)
    second = import_mlflow(mlflow_store["uri"], store=lineal_store)
    assert not second.failed, second.to_dict()
    assert _run(lineal_store, mlflow_store["train2"]).tags[STATE_TAG] == "complete"
    assert len(lineal_store.metadata.metric_history(partial.id, "loss")) == 1
    assert lineal_store.metadata.list_artifact_versions(ArtifactFilter(name="same.txt"))


def test_registered_name_taken_in_lineal(mlflow_store: dict[str, Any], lineal_store: Store) -> None:
    registry.create_model("churn-model", store=lineal_store)
    summary = import_mlflow(mlflow_store["uri"], store=lineal_store)
    [taken] = summary.failed
    assert taken.kind == "registered_model" and taken.mlflow_id == "churn model"
    assert "not imported from it" in taken.reason
    assert registry.list_versions("churn-model", store=lineal_store) == []


def test_selected_experiments(mlflow_store: dict[str, Any], lineal_store: Store) -> None:
    summary = import_mlflow(mlflow_store["uri"], store=lineal_store, experiments=["other"])
    assert summary.imported["runs"] == 1 and summary.experiments == 1
    assert _run(lineal_store, mlflow_store["elsewhere"]).params == {"k": "3"}
    reasons = {n.reason for n in summary.not_imported if n.kind == "model_version"}
    assert reasons == {"its run is outside the selected experiments"}
    from lineal.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="no MLflow experiment"):
        import_mlflow(mlflow_store["uri"], store=lineal_store, experiments=["nope"])


def test_mlruns_folder(tmp_path: Path, lineal_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file store MLflow 3 keeps in maintenance mode (writing it needs
    MLFLOW_ALLOW_FILE_STORE; the import sets it itself to read)."""
    folder = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(folder.as_uri())
    try:
        exp = mlflow.create_experiment("files")
        with mlflow.start_run(experiment_id=exp, run_name="r") as run:
            mlflow.log_param("a", 1)
            for step in (1, 2):
                mlflow.log_metric("m", step * 1.5, step=step)
    finally:
        mlflow.set_tracking_uri(before)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    summary = import_mlflow(folder, store=lineal_store)
    assert not summary.failed, summary.to_dict()
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    imported = _run(lineal_store, run.info.run_id)
    points = lineal_store.metadata.metric_history(imported.id, "m")
    assert [(p.step, p.value) for p in points] == [(1, 1.5), (2, 3.0)]


def test_cli(mlflow_store: dict[str, Any], tmp_path: Path) -> None:
    uri = tmp_path / "cli-store"
    dry = ok("import", "mlflow", "--from", mlflow_store["uri"], "--dry-run", uri=uri)
    assert "would import" in dry.out and not uri.exists()
    first = ok("import", "mlflow", "--from", mlflow_store["uri"], "--json", uri=uri)
    assert json.loads(first.out)["imported"]["runs"] == 4
    again = ok("import", "mlflow", "--from", str(Path(mlflow_store["root"]) / "mlflow.db"),
               uri=uri)
    assert "nothing new" not in again.out  # the deleted run is listed as not imported
    assert "deleted in MLflow" in again.out and "already imported" in again.out
    for bad in ("/no/such/place", str(tmp_path)):
        assert_one_line_error(cli("import", "mlflow", "--from", bad, uri=uri), 2, bad)
    assert_one_line_error(cli("import", "mlflow", "--from", "sqlite:////nope/mlflow.db",
                              uri=uri), 2, "no MLflow database")
    assert cli("import", "mlflow", uri=uri).code == 2  # --from is required
    # A server that is not there fails at once (MLflow's client would retry for minutes).
    from tests.conftest import free_port

    down = f"http://127.0.0.1:{free_port()}"
    fresh = tmp_path / "never-created"
    assert_one_line_error(cli("import", "mlflow", "--from", down, uri=fresh), 8, "cannot reach")
    assert not fresh.exists()


def test_import_file_still_works(tmp_path: Path) -> None:
    """`lineal import FILE` is the same command as before `lineal import mlflow` joined it."""
    lines = tmp_path / "g.jsonl"
    lines.write_text(json.dumps({"type": "run", "key": "r", "name": "train"}) + "\n")
    uri = tmp_path / "s"
    assert "imported 1 runs" in ok("import", str(lines), uri=uri).out
    assert json.loads(ok("import", "--json", str(lines), uri=uri).out)["runs"] == 1
    assert_one_line_error(cli("import", str(tmp_path / "none.jsonl"), uri=uri), 2)
    helped = ok("import", "--help").out
    assert "FILE" in helped and "mlflow" in helped and "--project" in helped
    assert "Missing argument 'FILE'" in cli("import", uri=uri).err
