"""``lineage.diff``: what changed between two versions across their upstream graphs, and the
first step where the lineages diverge, for each kind of change the scenario records."""

from __future__ import annotations

import numpy

from lineal import lineage

from .conftest import Scenario


def test_a_param_change_diverges_at_train(scenario: Scenario) -> None:
    d = lineage.diff("iris@v1", "iris@v2", store=scenario.store)
    assert d.same_content is False
    assert d.first_divergence is not None
    assert d.first_divergence.step == "train"
    assert d.first_divergence.reasons == ["param C: 1.0 -> 0.05"]
    assert d.params == {"train": {"changed": {"C": [1.0, 0.05]}, "only_a": {}, "only_b": {}}}
    assert d.code == {} and d.environment == {}
    assert set(d.metrics["train"]["changed"]) == {"accuracy", "loss"}
    assert not any(x.changed for x in d.data)
    assert {x.name for x in d.data} == {"default/iris-raw", "default/iris-clean",
                                        "default/iris-features"}
    # From the sources down; the steps before train ran again with the same result.
    assert [s.step for s in d.steps] == ["ingest", "clean", "features", "train"]
    assert [s.status for s in d.steps] == ["same", "same", "same", "changed"]


def test_a_data_change_diverges_at_the_source(scenario: Scenario) -> None:
    d = lineage.diff(scenario.models["v1"], scenario.models["v3"], store=scenario.store)
    first = d.first_divergence
    assert first is not None and first.step == "ingest"
    assert "outputs differ" in first.reasons[0]
    assert first.a_run and first.a_run.id == scenario.runs["v1"]["ingest"]
    assert first.b_run and first.b_run.id == scenario.runs["v3"]["ingest"]
    data = {x.name: x for x in d.data}
    raw = data["default/iris-raw"]
    assert raw.changed and raw.rows == [150, 120]
    assert raw.a and raw.a.ref == "default/iris-raw@v1" and raw.b and raw.b.ref == "default/iris-raw@v2"
    clean = data["default/iris-clean"]
    assert clean.rows == [149, 119]
    # iris-clean was logged with run.log_dataset: its recorded profile is diffed as well.
    assert clean.profile is not None and clean.profile["row_count"] == [149, 119]
    assert {s["name"] for s in clean.profile["column_shifts"]} >= {"f0", "f2"}
    assert d.params == {} and d.code == {}
    clean_step = next(s for s in d.steps if s.step == "clean")
    assert clean_step.comparison is not None
    assert list(clean_step.comparison.inputs["changed"]) == ["raw_data:default/iris-raw"]


def test_a_package_change_diverges_at_train(scenario: Scenario) -> None:
    d = lineage.diff(f"run:{scenario.runs['v1']['train']}", f"run:{scenario.runs['v4']['train']}",
                     store=scenario.store)
    assert d.same_content is None
    first = d.first_divergence
    assert first is not None and first.step == "train"
    assert first.reasons == [f"packages: numpy {numpy.__version__} -> 9.9.9, +left-pad 1.3.0"]
    assert d.environment == {"train": {"added": {"left-pad": "1.3.0"}, "removed": {},
                                       "changed": {"numpy": [numpy.__version__, "9.9.9"]},
                                       "python": None}}
    assert d.params == {} and d.metrics == {}


def test_a_code_change_diverges_at_the_first_step(scenario: Scenario) -> None:
    d = lineage.diff(f"run:{scenario.runs['v1']['train']}", f"run:{scenario.runs['v5']['train']}",
                     store=scenario.store)
    first = d.first_divergence
    assert first is not None and first.step == "ingest"
    old, new = scenario.commits
    assert first.reasons == [f"code commit: {old} -> {new}"]
    assert set(d.code) == {"ingest", "clean", "features", "train"}
    assert d.code["train"]["changed"] == {"commit": [old, new]}
    assert not any(x.changed for x in d.data)


def test_identical_lineages_and_dataset_subjects(scenario: Scenario) -> None:
    same = lineage.diff("iris@v1", scenario.models["v1"], store=scenario.store)
    assert same.same_content is True and same.first_divergence is None
    assert all(s.status == "shared" for s in same.steps)
    data = lineage.diff("iris-clean@v1", "iris-clean@v2", store=scenario.store)
    assert [x.name for x in data.data if x.changed] == ["default/iris-clean", "default/iris-raw"]
    assert data.first_divergence is not None and data.first_divergence.step == "ingest"
    assert [s.step for s in data.steps] == ["ingest", "clean"]


def test_diff_to_dict_is_json(scenario: Scenario) -> None:
    import json

    d = lineage.diff("iris@v1", "iris@v2", store=scenario.store).to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["first_divergence"]["step"] == "train"
    assert d["steps"][-1]["comparison"]["params"]["changed"] == {"C": [1.0, 0.05]}


def test_lineage_diff_stays_the_function_after_every_module_is_imported() -> None:
    # Regression: the implementation once lived in lineal/lineage/diff.py, and importing that
    # submodule (the CLI does) replaced the lazily exported function with the module.
    import importlib

    from lineal import lineage

    for module in ("lineal.cli.questions", "lineal.lineage._diff", "lineal.lineage.questions",
                   "lineal.lineage._usage", "lineal.lineage._failure"):
        importlib.import_module(module)
    assert callable(lineage.diff) and lineage.diff.__name__ == "diff"
    for name in ("trained_on", "params", "pipeline", "environment", "runs_using", "why_failed",
                 "last_deployed", "leaderboard"):
        assert callable(getattr(lineage, name)), name
