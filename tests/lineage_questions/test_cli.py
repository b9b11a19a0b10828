"""The question commands through the real ``lineal`` entry point (``lineal.cli.main``, the
function the console script calls): a table by default, JSON with ``--json``, and bad input as
one line on stderr with the error's exit code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from tests.cli.conftest import messages

from .conftest import Scenario


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def lineal(scenario: Scenario, *args: str) -> Result:
    from lineal.cli import main

    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            main([*scenario.cli_args(), *args])
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        return Result(code, out.getvalue().decode(), err.getvalue().decode())


def ok(scenario: Scenario, *args: str) -> Result:
    result = lineal(scenario, *args)
    assert result.code == 0, (args, result.err)
    return result


def one_line_error(result: Result, code: int, fragment: str) -> None:
    assert result.code == code, (result.code, result.out, result.err)
    lines = messages(result.err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.err
    assert result.out == ""


def test_trained_on(scenario: Scenario) -> None:
    out = ok(scenario, "trained-on", "iris@v1").out
    assert "default/iris@v1 (default/iris-model@v1) was trained on 3 dataset version(s)" in out
    for ref in ("iris-features@v1", "iris-clean@v1", "iris-raw@v1"):
        assert f"\ndefault/{ref} " in out  # tables name the project, default/ too
    data = ok(scenario, "trained-on", "iris@v1", "--json").json()
    assert [d["ref"] for d in data["datasets"]][0] == "default/iris-features@v1"
    assert data["datasets"][0]["direct"] is True
    one_line_error(lineal(scenario, "trained-on", "nope@v9"), 3, "nope")


def test_params(scenario: Scenario) -> None:
    out = ok(scenario, "params", "iris@v2").out
    assert f"run train {scenario.runs['v2']['train']}" in out and "0.05" in out
    assert "upstream" in out and "dedupe" in out
    data = ok(scenario, "params", "iris@v2", "--json").json()
    assert data["run"]["params"] == {"C": 0.05, "max_iter": 300}
    assert data["pipeline"]["params"]["scale"] == 1.0
    assert [u["name"] for u in data["upstream"]] == ["features", "clean", "ingest"]


def test_pipeline(scenario: Scenario) -> None:
    out = ok(scenario, "pipeline", scenario.models["v3"]).out
    assert f"iris {scenario.runs['v3']['pipeline']}" in out
    assert scenario.commits[0] in out and "* train" in out
    assert out.index("ingest") < out.index("clean") < out.index("features")
    data = ok(scenario, "pipeline", scenario.models["v3"], "--json").json()
    assert [s["name"] for s in data["steps"]] == ["ingest", "clean", "features", "train"]
    assert data["code"]["commit"] == scenario.commits[0] and data["code"]["dirty"] is False


def test_env_and_runs_using(scenario: Scenario) -> None:
    import numpy

    out = ok(scenario, "env", "iris@v1", "--package", "numpy").out
    assert any(line.split() == ["numpy", numpy.__version__] for line in out.splitlines())
    assert "python:" in out and "frameworks:" in out and "sklearn" in out
    data = ok(scenario, "env", f"run:{scenario.runs['v4']['train']}", "--json").json()
    assert data["packages"]["numpy"] == "9.9.9"
    out = ok(scenario, "runs-using", "numpy==9.9.9").out
    assert "1 run(s) used numpy==9.9.9" in out and scenario.runs["v4"]["train"][:8] in out
    assert scenario.runs["v4"]["train"] in ok(scenario, "runs-using", "numpy==9.9.9", "--wide").out
    data = ok(scenario, "runs-using", "left-pad", "--json").json()
    assert [r["run_id"] for r in data["runs"]] == [scenario.runs["v4"]["train"]]
    one_line_error(lineal(scenario, "runs-using", "numpy>=x.y"), 2, "specifier")


def test_why_failed(scenario: Scenario) -> None:
    out = ok(scenario, "why-failed", "train", "--tail", "3").out
    assert f"run train {scenario.failed_train} failed" in out
    assert f"step of pipeline iris {scenario.failed_pipeline}" in out
    assert "InvalidParameterError" in out and "differs in params, environment" in out
    assert "left-pad" in out and "(removed)" in out
    data = ok(scenario, "why-failed", f"run:{scenario.failed_pipeline}", "--json").json()
    assert data["run"]["id"] == scenario.failed_train
    assert data["differences"]["params"]["changed"] == {"C": [1.0, -1.0]}
    assert 0 < len(data["error"]["traceback_tail"]) <= 12
    assert data["error"]["traceback_tail"][0].startswith("Traceback")
    one_line_error(lineal(scenario, "why-failed", f"run:{scenario.runs['v1']['train']}"), 2,
                   "did not fail")


def test_questions_take_a_run_id_prefix_as_runs_list_prints_it(scenario: Scenario) -> None:
    failed = scenario.failed_pipeline
    short = failed[:16].lower()  # unique among the scenario's runs; any case
    full = ok(scenario, "why-failed", f"run:{failed}", "--json").json()
    assert ok(scenario, "why-failed", f"run:{short}", "--json").json() == full
    up = ok(scenario, "lineage", short, "--up", "--json").json()
    assert up == ok(scenario, "lineage", f"run:{failed}", "--up", "--json").json()
    # Every run of the scenario shares its first characters (the ULID's time part).
    common = failed[:6]
    one_line_error(lineal(scenario, "why-failed", f"run:{common}"), 2, "ambiguous")
    one_line_error(lineal(scenario, "why-failed", "run:7ZZZZZZZZZ"), 3, "no run with id")


def test_last_deployed(scenario: Scenario) -> None:
    out = ok(scenario, "last-deployed", "iris", "--env", "prod").out
    assert "default/iris@v1" in out and "iris-api in prod" in out and "live" in out
    data = ok(scenario, "last-deployed", "iris-model", "--json").json()
    assert data["model_version"] == "default/iris@v2" and data["live"] is True
    one_line_error(lineal(scenario, "last-deployed", "iris", "--env", "qa"), 3, "never deployed")


def test_leaderboard(scenario: Scenario) -> None:
    out = ok(scenario, "leaderboard", "iris-features@v1", "--metric", "accuracy").out
    lines = [line for line in out.splitlines() if line.strip()[:1].isdigit() or line.startswith("-")]
    assert lines[0].startswith("1") and " default/iris-model@v1 " in lines[0] and "alice" in lines[0]
    assert scenario.runs["v1"]["train"][:10] in lines[0]
    assert out.splitlines()[-1].startswith("-  default/iris-dummy@v1")
    data = ok(scenario, "leaderboard", "iris-features@v1", "--metric", "loss",
              "--lower-is-better", "--json").json()
    assert [e["model"] for e in data["entries"]][:2] == [scenario.models["v1"], scenario.models["v2"]]
    assert data["entries"][-1]["rank"] is None
    result = lineal(scenario, "leaderboard", "iris-features@v1")
    assert result.code == 2 and "--metric" in result.err


def test_diff(scenario: Scenario) -> None:
    out = ok(scenario, "diff", "iris@v1", "iris@v2").out
    assert "first divergence: step train" in out and "param C: 1.0 -> 0.05" in out
    out = ok(scenario, "diff", scenario.models["v1"], scenario.models["v3"]).out
    assert "first divergence: step ingest" in out and "150 -> 120" in out
    data = ok(scenario, "diff", f"run:{scenario.runs['v1']['train']}",
              f"run:{scenario.runs['v4']['train']}", "--json").json()
    assert data["environment"]["train"]["added"] == {"left-pad": "1.3.0"}
    one_line_error(lineal(scenario, "diff", "iris@v1", "iris@v99"), 3, "version 99")


@pytest.mark.parametrize("command", ["trained-on", "params", "pipeline", "env", "runs-using",
                                     "why-failed", "last-deployed", "leaderboard", "diff"])
def test_help(scenario: Scenario, command: str) -> None:
    result = ok(scenario, command, "--help")
    assert result.out.startswith(f"Usage: lineal {command}") and "--json" in result.out
