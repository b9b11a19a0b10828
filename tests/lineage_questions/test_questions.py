"""The seven questions, asked through the SDK of real recorded pipelines, on SQLite, PostgreSQL
and MariaDB (the scenario is described in conftest.py)."""

from __future__ import annotations

import platform

import pytest

from lineal import lineage
from lineal.errors import InvalidArgument, NotFound
from lineal.refs import parse_ref
from lineal.requirements import parse_requirement, version_matcher

from .conftest import Scenario


# -- 1. which data -------------------------------------------------------------------------------
def test_trained_on_walks_the_whole_pipeline(scenario: Scenario) -> None:
    store = scenario.store
    report = lineage.trained_on("iris@v1", store=store)
    assert report.subject.artifact and report.subject.artifact.ref == "default/iris-model@v1"
    assert [d.ref for d in report] == [
        "default/iris-features@v1", "default/iris-clean@v1", "default/iris-raw@v1"]
    assert [(d.role, d.step, d.depth, d.direct) for d in report] == [
        ("train_data", "train", 2, True), ("clean_data", "features", 4, False),
        ("raw_data", "clean", 6, False)]
    assert [d.rows for d in report] == [149, 149, 150]
    for d in report:
        assert d.digest == store.metadata.resolve(parse_ref(d.ref)).digest
    # The steps named are this pipeline's own runs.
    v1 = scenario.runs["v1"]
    assert [d.step_run_id for d in report] == [v1["train"], v1["features"], v1["clean"]]


def test_trained_on_other_data_and_from_a_run(scenario: Scenario) -> None:
    v3 = lineage.trained_on(scenario.models["v3"], store=scenario.store)
    assert [d.ref for d in v3] == [
        "default/iris-features@v2", "default/iris-clean@v2", "default/iris-raw@v2"]
    assert [d.rows for d in v3] == [119, 119, 120]
    from_run = lineage.trained_on(f"run:{scenario.runs['v1']['train']}", store=scenario.store)
    assert [(d.ref, d.depth, d.direct) for d in from_run][0] == ("default/iris-features@v1", 1, True)
    assert len(from_run) == 3
    with pytest.raises(NotFound):
        lineage.trained_on("no-such-model@v1", store=scenario.store)


# -- 2. which hyperparameters --------------------------------------------------------------------
def test_params_of_run_pipeline_and_upstream_steps(scenario: Scenario) -> None:
    report = lineage.params("iris@v2", store=scenario.store)
    v2 = scenario.runs["v2"]
    assert report.run.id == v2["train"]
    assert report.params == {"C": 0.05, "max_iter": 300}
    assert report.pipeline is not None and report.pipeline.id == v2["pipeline"]
    assert report.pipeline.params == {"C": 0.05, "scale": 1.0}
    # iris-features@v1 was produced by v1's features run and again (same bytes) by v2's: the
    # one in this model's own pipeline is reported, once.
    assert [(r.name, r.id) for r, _ in report.steps] == [
        ("features", v2["features"]), ("clean", v2["clean"]), ("ingest", v2["ingest"])]
    flat = report.flat()
    assert flat["C"] == 0.05 and flat["features.scale"] == 1.0 and flat["ingest.source"] == "sklearn.iris"
    assert ("upstream", "clean", "dedupe", True) in report.rows()


# -- 3. which pipeline ---------------------------------------------------------------------------
def test_pipeline_steps_in_order_with_code(scenario: Scenario) -> None:
    report = lineage.pipeline(scenario.models["v3"], store=scenario.store)
    v3 = scenario.runs["v3"]
    assert report.pipeline is not None and report.pipeline.id == v3["pipeline"]
    assert [s.run.name for s in report.steps] == ["ingest", "clean", "features", "train"]
    assert [s.run.id for s in report.steps] == [v3[n] for n in ("ingest", "clean", "features", "train")]
    assert [s.produced_subject for s in report.steps] == [False, False, False, True]
    assert all(str(s.run.status) == "finished" and (s.run.duration_s or 0) > 0 for s in report.steps)
    assert report.steps[-1].outputs == [scenario.models["v3"]]
    assert report.code["commit"] == scenario.commits[0]
    assert report.code["branch"] == "main" and report.code["dirty"] is False
    assert report.code["entry_point_kind"] == "pytest"
    assert report.upstream_elsewhere == []
    later = lineage.pipeline(f"run:{scenario.runs['v5']['train']}", store=scenario.store)
    assert later.code["commit"] == scenario.commits[1]
    assert {s.commit for s in later.steps} == {scenario.commits[1]}


def test_pipeline_of_a_failed_step_and_of_a_run_without_pipeline(scenario: Scenario) -> None:
    failed = lineage.pipeline(f"run:{scenario.failed_train}", store=scenario.store)
    assert failed.pipeline is not None and failed.pipeline.id == scenario.failed_pipeline
    assert [(s.run.name, str(s.run.status)) for s in failed.steps][-1] == ("train", "failed")
    alone = lineage.pipeline(scenario.runs["others"]["iris-tree"], store=scenario.store)
    assert alone.pipeline is None and [s.run.name for s in alone.steps] == ["train-tree"]
    # The data it trained on came from a pipeline it is not part of.
    assert {r.name for r in alone.upstream_elsewhere} == {"features", "clean", "ingest"}


# -- 4. which environment ------------------------------------------------------------------------
def test_environment_python_frameworks_packages(scenario: Scenario) -> None:
    import numpy
    import sklearn

    report = lineage.environment("iris@v1", store=scenario.store)
    assert report.python["version"] == platform.python_version()
    assert report.os["system"] == platform.system()
    assert report.frameworks["sklearn"] == sklearn.__version__
    assert report.packages["numpy"] == numpy.__version__
    assert report.package_count == len(report.packages) > 20
    only = lineage.environment("iris@v1", package=["numpy", "scikit-*"], store=scenario.store)
    assert set(only.packages) == {n for n in report.packages
                                  if "numpy" in n or n.startswith("scikit-")}
    assert only.package_count == report.package_count
    injected = lineage.environment(f"run:{scenario.runs['v4']['train']}", store=scenario.store)
    assert injected.packages["numpy"] == "9.9.9" and injected.packages["left-pad"] == "1.3.0"
    assert injected.environment_digest != report.environment_digest


def test_runs_using_a_package_version(scenario: Scenario) -> None:
    import numpy

    store = scenario.store
    odd = lineage.runs_using("numpy", "9.9.*", store=store)
    assert [u.run.id for u in odd] == [scenario.runs["v4"]["train"]]
    assert odd.versions == {"9.9.9": 1} and odd.total == 1
    assert [u.run.id for u in lineage.runs_using("left-pad==1.3.0", store=store)] == [
        scenario.runs["v4"]["train"]]
    assert [u.run.id for u in lineage.runs_using("numpy", ">=9,<10", store=store)] == [
        scenario.runs["v4"]["train"]]
    real = lineage.runs_using("NumPy", numpy.__version__, store=store)
    ids = {u.run.id for u in real}
    assert scenario.runs["v1"]["train"] in ids and scenario.runs["v4"]["train"] not in ids
    assert scenario.runs["v1"]["pipeline"] in ids
    every = lineage.runs_using("numpy", store=store, limit=3)
    assert len(every) == 3 and every.truncated and every.total == len(real) + 1
    assert lineage.runs_using("left-pad", "2.*", store=store).total == 0


def test_version_specs() -> None:
    match = version_matcher("2.3.*")
    assert match("2.3") and match("2.3.1") and not match("2.30.0") and not match("2.4")
    assert version_matcher("==2.3.1")("2.3.1+cpu") and not version_matcher("2.3.1")("2.3.10")
    assert version_matcher(None)("anything")
    assert version_matcher(">=2.3,<3")("2.5.0") and not version_matcher(">=2.3,<3")("3.0")
    assert parse_requirement("torch==2.3.1") == ("torch", "==2.3.1")
    assert parse_requirement("scikit-learn") == ("scikit-learn", None)
    with pytest.raises(InvalidArgument):
        version_matcher(">=two")
    with pytest.raises(InvalidArgument):
        parse_requirement("==1.0")


# -- 5. why did it fail --------------------------------------------------------------------------
def test_why_failed_names_the_step_the_error_and_the_difference(scenario: Scenario) -> None:
    import numpy

    report = lineage.why_failed("train", store=scenario.store)
    assert report.run.id == scenario.failed_train
    assert report.pipeline is not None and report.pipeline.id == scenario.failed_pipeline
    assert report.error.type.endswith("InvalidParameterError")
    assert "'C' parameter" in report.error.message
    assert "InvalidParameterError" in report.traceback_tail[-1] and len(report.traceback_tail) <= 12
    # The last train run that finished before it is v4's (with the injected packages).
    assert report.last_good is not None and report.last_good.id == scenario.runs["v4"]["train"]
    c = report.comparison
    assert c is not None and c.differs_in == ["params", "environment"]
    assert c.params["changed"] == {"C": [1.0, -1.0]}
    assert c.packages["changed"] == {"numpy": ["9.9.9", numpy.__version__]}
    assert c.packages["only_a"] == {"left-pad": "1.3.0"}
    assert c.inputs["changed"] == {} and c.code["changed"] == {}


def test_why_failed_from_the_pipeline_or_the_model(scenario: Scenario) -> None:
    store = scenario.store
    from_pipeline = lineage.why_failed(f"run:{scenario.failed_pipeline}", store=store)
    assert from_pipeline.run.id == scenario.failed_train
    assert from_pipeline.pipeline is not None and from_pipeline.pipeline.id == scenario.failed_pipeline
    from_model = lineage.why_failed("iris@v1", tail=2, store=store)
    assert from_model.run.id == scenario.failed_train and len(from_model.traceback_tail) == 2
    with pytest.raises(InvalidArgument, match="did not fail"):
        lineage.why_failed(f"run:{scenario.runs['v1']['train']}", store=store)
    with pytest.raises(NotFound):
        lineage.why_failed("ingest", store=store)
    with pytest.raises(NotFound):
        lineage.why_failed("iris-raw@v1", store=store)


# -- 6. last deployed ----------------------------------------------------------------------------
def test_last_deployed(scenario: Scenario) -> None:
    store = scenario.store
    prod = lineage.last_deployed("iris", "prod", store=store)
    assert prod.deployment.model_ref == "default/iris@v1" and prod.live
    assert prod.artifact.ref == scenario.models["v1"]
    anywhere = lineage.last_deployed("iris", store=store)
    assert anywhere.deployment.model_ref == "default/iris@v2"
    assert anywhere.deployment.environment == "staging"
    assert lineage.last_deployed("iris@v1", store=store).deployment.environment == "prod"
    # By the model artifact's name, without the registry name.
    by_artifact = lineage.last_deployed("iris-model", store=store)
    assert by_artifact.deployment.id == anywhere.deployment.id
    assert lineage.last_deployed("iris-model", "prod", store=store).deployment.id == prod.deployment.id
    assert lineage.last_deployed("iris-model@v1", store=store).deployment.id == prod.deployment.id
    with pytest.raises(NotFound, match="never deployed"):
        lineage.last_deployed("iris-tree", store=store)
    with pytest.raises(NotFound, match="never deployed to qa"):
        lineage.last_deployed("iris", "qa", store=store)
    with pytest.raises(NotFound):
        lineage.last_deployed("nothing-here", store=store)


# -- 7. leaderboard ------------------------------------------------------------------------------
def test_leaderboard_ranks_every_model_downstream(scenario: Scenario) -> None:
    board = lineage.leaderboard("iris-features@v1", "accuracy", store=scenario.store)
    others = scenario.runs["others"]
    refs = [e.model.ref for e in board]
    assert set(refs) == {scenario.models["v1"], scenario.models["v2"], others["iris-tree"],
                         others["iris-dummy"]}
    ranked = [e for e in board if e.rank is not None]
    assert [e.rank for e in ranked] == [1, 2, 3]
    values = [e.value for e in ranked]
    assert values == sorted(values, reverse=True)  # type: ignore[type-var]
    last = board.entries[-1]
    assert last.model.ref == others["iris-dummy"] and last.rank is None and last.value is None
    tree = next(e for e in board if e.model.ref == others["iris-tree"])
    # Its producing run logged no accuracy; the evaluate run that consumed it did.
    assert tree.metric_run is not None and tree.metric_run.id == others["evaluate"]
    assert tree.run is not None and tree.run.id == others["train-iris-tree"]
    v1 = next(e for e in board if e.model.ref == scenario.models["v1"])
    assert v1.user == "alice" and v1.registered == ["default/iris@v1"]
    assert tree.user == "dave"


def test_leaderboard_lower_is_better_and_other_data(scenario: Scenario) -> None:
    board = lineage.leaderboard("iris-features@v1", "loss", lower_is_better=True,
                                store=scenario.store)
    assert [e.model.ref for e in board if e.rank] == [scenario.models["v1"], scenario.models["v2"]]
    assert [e.rank for e in board][2:] == [None, None]
    raw2 = lineage.leaderboard("iris-raw@v2", "accuracy", store=scenario.store)
    assert [e.model.ref for e in raw2] == [scenario.models["v3"]]
    with pytest.raises(InvalidArgument):
        lineage.leaderboard(f"run:{scenario.runs['v1']['train']}", "accuracy", store=scenario.store)
    with pytest.raises(InvalidArgument):
        lineage.leaderboard("iris-features@v1", " ", store=scenario.store)
