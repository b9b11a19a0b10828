"""The official ``mlflow`` client (pinned 3.17.2) against a real ``lineal server`` process, with
``MLFLOW_TRACKING_URI`` and a lineal API token as ``MLFLOW_TRACKING_TOKEN``, and no other change:
what it logs becomes lineal runs, datasets, artifact versions and registered versions."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow")
pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from lineal.entities import EdgeDirection  # noqa: E402
from lineal.server.testing import ServerProcess  # noqa: E402
from lineal.store import Store, open_store  # noqa: E402
from lineal.tokens import create_token  # noqa: E402

pytestmark = pytest.mark.slow


def lineal_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lineal.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


@contextmanager
def stored_data(logged: Logged) -> Iterator[Store]:
    """The server's store, opened directly (SQLite takes a second reader)."""
    store = open_store(str(logged.backend))
    try:
        yield store
    finally:
        store.close()


class Logged:
    """What the module's MLflow session logged."""

    def __init__(self, server: ServerProcess, backend: Path, token: str) -> None:
        self.server, self.backend, self.token = server, backend, token
        self.run_id = ""
        self.other_run_id = ""
        self.model_id = ""
        self.frame: Any = None
        self.model: Any = None
        self.files: Path = backend
        self.reader = ""
        self.child_run_id = ""


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    from sklearn.linear_model import LogisticRegression

    tmp = tmp_path_factory.mktemp("mlflow-client")
    backend = tmp / "store"
    store = open_store(str(backend))
    try:
        token = create_token("writer", name="trainer", store=store)[1]
        reader = create_token("reader", name="viewer", store=store)[1]
    finally:
        store.close()
    env = {"LINEAL_MLFLOW_STAGING": str(tmp / "staging")}
    with ServerProcess(backend=str(backend), extra_args=["--auth"], env=env) as server, \
            pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", server.url)
        patch.setenv("MLFLOW_TRACKING_TOKEN", token)
        patch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        patch.setenv("MLFLOW_EXPERIMENT_ID", "0")  # set_experiment sets it: restored after
        out = Logged(server, backend, token)
        out.reader = reader
        out.files = tmp / "files"
        (out.files / "outputs").mkdir(parents=True)
        (out.files / "notes.txt").write_text("hello")
        (out.files / "outputs" / "x.txt").write_text("x")
        (out.files / "outputs" / "y.txt").write_text("y")
        frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "b": [0, 0, 0, 1, 1, 1]})
        mlflow.set_experiment("churn training")
        with mlflow.start_run(run_name="train") as run:
            mlflow.log_param("lr", 0.1)
            mlflow.log_params({"depth": 3, "kind": "lin"})
            mlflow.log_metric("loss", 0.5, step=0)
            mlflow.log_metrics({"loss": 0.4, "acc": 0.9}, step=1)
            mlflow.log_metric("loss", 0.3, step=2, synchronous=False)
            mlflow.log_metrics({"acc": 0.95}, step=2, synchronous=False)
            mlflow.set_tag("team", "ml")
            mlflow.set_tags({"stage": "dev"})
            mlflow.log_artifact(str(out.files / "notes.txt"))
            mlflow.log_artifacts(str(out.files / "outputs"), artifact_path="outputs")
            mlflow.log_input(mlflow.data.from_pandas(frame, name="train-data", targets="b"),
                             context="training")
            model = LogisticRegression().fit(frame[["a"]], frame["b"])
            # cloudpickle: MLflow's default (skops) spends ~15 s importing itself; the bytes
            # travel through lineal the same way whatever the format.
            info = mlflow.sklearn.log_model(model, name="model",
                                            pip_requirements=["scikit-learn"],
                                            serialization_format="cloudpickle")
            with mlflow.start_run(run_name="evaluate", nested=True) as child:
                mlflow.log_metric("auc", 0.8)
        other = mlflow.start_run(run_name="baseline")
        mlflow.log_param("kind", "const")
        mlflow.log_metric("loss", 2.0)
        mlflow.end_run()
        out.run_id, out.other_run_id = run.info.run_id, other.info.run_id
        out.child_run_id = child.info.run_id
        out.model_id, out.frame, out.model = info.model_id, frame, model
        try:
            yield out
        finally:  # the client's module state names this server's experiment: forget it
            mlflow.tracking.fluent._active_experiment_id = None
            mlflow.tracking.fluent._last_active_run_id.set(None)


def test_runs_params_metrics_and_tags_are_lineal_runs(logged: Logged) -> None:
    client = mlflow.MlflowClient()
    run = client.get_run(logged.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.1", "depth": "3", "kind": "lin"}
    assert run.data.metrics == {"loss": 0.3, "acc": 0.95}
    assert [(m.step, m.value) for m in client.get_metric_history(logged.run_id, "loss")] == [
        (0, 0.5), (1, 0.4), (2, 0.3)]
    assert run.data.tags["team"] == "ml" and run.data.tags["stage"] == "dev"
    with stored_data(logged) as store:
        stored = store.metadata.get_run(logged.run_id)
    assert stored.experiment == "churn-training"
    assert stored.tags["lineal.mlflow.experiment_id"] == "churn-training"
    assert stored.params["depth"] == "3" and stored.metrics["loss"] == 0.3
    # The run's user is the token's principal; what the client claims stays a tag.
    assert stored.created_by.startswith("token:") and stored.created_by == run.info.user_id
    assert stored.tags["mlflow.user"] == getpass.getuser() != stored.created_by
    assert mlflow.get_experiment_by_name("churn training").experiment_id == "churn-training"
    with stored_data(logged) as store:  # a nested run's parent is its MLflow parent
        assert store.metadata.get_run(logged.child_run_id).parent_id == logged.run_id


def test_artifacts_are_versions_produced_by_the_run(logged: Logged, tmp_path: Path) -> None:
    client = mlflow.MlflowClient()
    listed = {(f.path, f.is_dir) for f in client.list_artifacts(logged.run_id)}
    assert listed == {("notes.txt", False), ("outputs", True)}
    assert [f.path for f in client.list_artifacts(logged.run_id, "outputs")] == [
        "outputs/x.txt", "outputs/y.txt"]
    got = Path(client.download_artifacts(logged.run_id, "outputs", str(tmp_path)))
    assert (got / "x.txt").read_text() == "x" and (got / "y.txt").read_text() == "y"
    assert Path(mlflow.artifacts.download_artifacts(
        run_id=logged.run_id, artifact_path="notes.txt", dst_path=str(tmp_path / "n"))
    ).read_text() == "hello"
    with stored_data(logged) as store:
        meta = store.metadata
        produced = [meta.get_artifact_version(e.artifact_id) for e in meta.list_edges(
            run_id=logged.run_id) if e.direction is EdgeDirection.OUTPUT]
    paths = {v.tags.get("lineal.mlflow.path"): v for v in produced}
    assert {"notes.txt", "outputs/x.txt", "outputs/y.txt"} <= set(paths)
    assert paths["notes.txt"].digest.startswith("sha256:") and paths["notes.txt"].size == 5


def test_a_dataset_input_is_lineage(logged: Logged) -> None:
    run = mlflow.MlflowClient().get_run(logged.run_id)
    (given,) = run.inputs.dataset_inputs
    assert given.dataset.name == "train-data"
    assert {t.key: t.value for t in given.tags} == {"mlflow.data.context": "training"}
    env = {"LINEAL_URI": logged.server.url, "LINEAL_TOKEN": logged.token}
    shown = lineal_cli("trained-on", logged.run_id, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "train-data" in shown.stdout
    lineage = lineal_cli("lineage", logged.run_id, "--json", env=env)
    assert lineage.returncode == 0, lineage.stderr
    assert "train-data" in lineage.stdout


def test_log_model_register_alias_and_load(logged: Logged) -> None:
    client = mlflow.MlflowClient()
    client.create_registered_model("churn model", description="the churn classifier")
    made = client.create_model_version("churn model", f"models:/{logged.model_id}",
                                       run_id=logged.run_id, model_id=logged.model_id)
    assert made.version == "1" and made.status == "READY"
    client.set_registered_model_alias("churn model", "prod", made.version)
    by_alias = client.get_model_version_by_alias("churn model", "prod")
    assert by_alias.version == "1" and by_alias.run_id == logged.run_id
    loaded = mlflow.pyfunc.load_model("models:/churn model@prod")
    features = logged.frame[["a"]]
    assert list(loaded.predict(features)) == list(logged.model.predict(features))
    # runs:/<run>/model finds the run's logged model, as MLflow 3 does.
    again = mlflow.sklearn.load_model(f"runs:/{logged.run_id}/model")
    assert list(again.predict(features)) == list(logged.model.predict(features))
    with stored_data(logged) as store:
        meta = store.metadata
        (version,) = meta.list_model_versions("default", "churn-model")
        artifact = meta.get_artifact_version(version.artifact_version_id)
        model = meta.find_registered_model("default", "churn-model")
    assert model is not None and model.aliases == {"prod": 1}
    assert artifact.kind == "model" and artifact.is_directory
    assert artifact.producer_run_id == logged.run_id
    assert artifact.tags["lineal.mlflow.model_id"] == logged.model_id
    assert version.created_by.startswith("token:")


def test_search_runs_with_mlflow_filters(logged: Logged) -> None:
    found = mlflow.search_runs(filter_string="metrics.loss < 1 and params.kind = 'lin'")
    assert list(found["run_id"]) == [logged.run_id]
    found = mlflow.search_runs(filter_string="attributes.status = 'FINISHED'",
                               order_by=["metrics.loss DESC"])
    # Runs without the sort key come last.
    assert list(found["run_id"]) == [logged.other_run_id, logged.run_id, logged.child_run_id]
    assert list(mlflow.search_runs(filter_string="tags.team = 'ml'")["run_id"]) == [
        logged.run_id]
    with pytest.raises(mlflow.exceptions.MlflowException) as bad:
        mlflow.search_runs(filter_string="metrics.loss <")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_unserved_routes_answer_501_and_errors_use_mlflow_shape(logged: Logged) -> None:
    import httpx

    client = mlflow.MlflowClient()
    with pytest.raises(mlflow.exceptions.MlflowException) as refused:
        client.delete_run(logged.run_id)
    assert refused.value.error_code == "NOT_IMPLEMENTED"
    assert "lineal server does not implement POST /api/2.0/mlflow/runs/delete" in str(
        refused.value)
    headers = {"Authorization": f"Bearer {logged.token}"}
    answer = httpx.post(f"{logged.server.url}/api/2.0/mlflow/traces", json={}, headers=headers)
    assert answer.status_code == 501
    assert answer.json()["error_code"] == "NOT_IMPLEMENTED"
    with pytest.raises(mlflow.exceptions.MlflowException) as missing:
        client.get_run("01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    anonymous = httpx.get(f"{logged.server.url}/api/2.0/mlflow/runs/get",
                          params={"run_id": logged.run_id})
    assert anonymous.status_code == 401
    assert json.loads(anonymous.text)["error_code"] == "UNAUTHENTICATED"


def test_roles_apply_and_a_retried_write_is_applied_once(logged: Logged) -> None:
    import httpx

    url = f"{logged.server.url}/api/2.0/mlflow"
    as_reader = {"Authorization": f"Bearer {logged.reader}"}
    seen = httpx.get(f"{url}/runs/get", params={"run_id": logged.run_id}, headers=as_reader)
    assert seen.status_code == 200 and seen.json()["run"]["info"]["status"] == "FINISHED"
    refused = httpx.post(f"{url}/runs/log-metric", headers=as_reader, json={
        "run_id": logged.run_id, "key": "loss", "value": 9.0, "timestamp": 1, "step": 9})
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "PERMISSION_DENIED"
    # The MLflow client retries a write whose answer it lost: the same batch is kept once.
    as_writer = {"Authorization": f"Bearer {logged.token}"}
    batch = {"run_id": logged.other_run_id,
             "metrics": [{"key": "retried", "value": 1.5, "timestamp": 1000, "step": 3}]}
    for _ in range(2):
        sent = httpx.post(f"{url}/runs/log-batch", headers=as_writer, json=batch)
        assert sent.status_code == 200, sent.text
    history = mlflow.MlflowClient().get_metric_history(logged.other_run_id, "retried")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(3, 1.5, 1000)]
