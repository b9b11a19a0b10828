"""``lineal runs list|show`` on a store filled through the SDK."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from tests.cli.conftest import messages

from .conftest import World, assert_one_line_error


def ids(result_json: list[dict]) -> set[str]:
    return {run["id"] for run in result_json}


def test_list_table_shows_every_run_with_status_and_metrics(world: World) -> None:
    out = world.ok("runs", "list").out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    # Ids are cut to one prefix length (at least 8) that still tells every shown run apart.
    shown = {line.split()[0] for line in out.splitlines()[2:] if line.strip()}
    assert len({len(i) for i in shown}) == 1 and min(map(len, shown)) >= 8
    short = {name: next(i for i in shown if run_id.startswith(i))
             for name, run_id in world.runs.items()}
    assert len(set(short.values())) == len(world.runs)
    for name in world.runs:
        assert name in out
    assert "failed" in lines[short["broken"]]
    assert "finished" in lines[short["train"]]
    # Latest metric values, four significant digits, sorted by name.
    assert "acc=0.96 f1=0.95 loss=0.25" in lines[short["train"]]
    wide = world.ok("runs", "list", "--wide").out
    assert all(run_id in wide for run_id in world.runs.values())


def test_list_json_has_the_run_fields(world: World) -> None:
    runs = world.ok("runs", "list", "--json").json()
    assert ids(runs) == set(world.runs.values())
    train = next(r for r in runs if r["id"] == world.runs["train"])
    assert train["name"] == "train" and train["kind"] == "train"
    assert train["status"] == "finished" and train["project"] == "default"
    assert train["params"] == {"C": 0.5, "solver": "lbfgs"}
    assert train["metrics"] == {"acc": 0.96, "f1": 0.95, "loss": 0.25}
    assert train["tags"]["team"] == "ml"
    assert train["parent_id"] == world.runs["pipeline"]
    assert train["experiment"] == "exp1"
    assert train["duration_s"] > 0
    assert train["started_at"].endswith("+00:00") and train["ended_at"]
    # Newest first.
    started = [r["started_at"] for r in runs]
    assert started == sorted(started, reverse=True)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--project", "other"), {"broken"}),
        (("--name", "train"), {"train"}),
        (("--kind", "train"), {"train", "broken"}),
        (("--status", "failed"), {"broken"}),
        (("--experiment", "exp1"), {"train"}),
        (("--tag", "team=ml"), {"train", "broken"}),
        (("--tag", "team=ml", "--project", "default"), {"train"}),
        (("--tag", "team=data", "--tag", "stage=raw"), {"ingest"}),
        (("--tag", "team=data", "--tag", "stage=cooked"), set()),
        (("--kind", "train", "--status", "finished"), {"train"}),
    ],
)
def test_list_filters(world: World, args: tuple[str, ...], expected: set[str]) -> None:
    found = world.ok("runs", "list", *args, "--json").json()
    assert ids(found) == {world.runs[name] for name in expected}


def test_list_time_filters_and_limit(world: World) -> None:
    assert world.cutoff is not None
    cutoff = world.cutoff.isoformat()
    after = world.ok("runs", "list", "--since", cutoff, "--json").json()
    assert ids(after) == {world.runs["broken"]}
    before = world.ok("runs", "list", "--until", cutoff, "--json").json()
    assert ids(before) == set(world.runs.values()) - {world.runs["broken"]}
    # An age: everything here started within the last hour, nothing in the future.
    assert len(world.ok("runs", "list", "--since", "1h", "--json").json()) == len(world.runs)
    tomorrow = (world.cutoff + timedelta(days=1)).date().isoformat()
    assert world.ok("runs", "list", "--since", tomorrow, "--json").json() == []
    assert world.ok("runs", "list", "--since", tomorrow).out.strip() == "no runs match"
    newest = world.ok("runs", "list", "--limit", "2", "--json").json()
    assert [r["id"] for r in newest] == [world.runs["broken"], world.runs["evaluate"]]


def test_list_parent_takes_an_id_prefix(world: World) -> None:
    found = world.ok("runs", "list", "--parent", world.runs["pipeline"][:20], "--json").json()
    assert ids(found) == {world.runs["preprocess"], world.runs["train"]}


def test_show_text(world: World) -> None:
    out = world.ok("runs", "show", world.runs["train"]).out
    assert f"{world.runs['train']}  train" in out
    assert "experiment: exp1" in out
    assert f"parent:     {world.runs['pipeline']} pipeline (finished)" in out
    assert "'lbfgs'" in out and "0.5" in out  # params; strings quoted
    assert "acc" in out and "0.96" in out
    # A tag value that looks like rich markup is printed as it is.
    assert "[red]not markup[/red]" in out
    assert "train_data" in out and "default/features@v1" in out  # input
    assert "default/iris@v1" in out and "default/iris-tree@v1" in out  # outputs


def test_show_captured_code_and_environment(world: World) -> None:
    out = world.ok("runs", "show", world.runs["ingest"]).out
    assert "Code and environment" in out
    assert "python:" in out and "packages:" in out
    details = world.ok("runs", "show", world.runs["ingest"], "--json").json()
    assert details["environment"]["packages"] > 10
    assert details["environment"]["python"]["version"]
    assert details["code"]["entry_point"]
    roles = {i["role"] for i in details["inputs"]}
    assert {"code", "environment"} <= roles


def test_show_failed_run_has_its_error(world: World) -> None:
    out = world.ok("runs", "show", world.runs["broken"]).out
    assert "status:     failed" in out
    assert "Error: ValueError: boom" in out
    assert "Traceback" in out  # the run's recorded traceback, which is what the user asked for


def test_show_json(world: World) -> None:
    details = world.ok("runs", "show", world.runs["pipeline"], "--json").json()
    assert details["run"]["id"] == world.runs["pipeline"]
    assert {c["id"] for c in details["children"]} == {world.runs["preprocess"],
                                                       world.runs["train"]}
    train = world.ok("runs", "show", world.runs["train"], "--json").json()
    assert train["parent"]["id"] == world.runs["pipeline"]
    assert [(i["role"], i["ref"]) for i in train["inputs"]] == [("train_data",
                                                                 "default/features@v1")]
    outputs = {o["ref"]: o for o in train["outputs"]}
    assert set(outputs) == {"default/iris@v1", "default/iris-tree@v1"}
    assert outputs["default/iris@v1"]["digest"] == world.versions["iris"].digest
    assert train["run"]["metrics"]["loss"] == 0.25


def test_show_accepts_a_unique_prefix_in_any_case(world: World) -> None:
    run_id = world.runs["broken"]
    details = world.ok("runs", "show", run_id[:-2].lower(), "--json").json()
    assert details["run"]["id"] == run_id


def test_unknown_run_is_one_line_not_found(world: World) -> None:
    assert_one_line_error(world.cli("runs", "show", "01ZZZZZZZZZZZZZZZZZZZZZZZZ"), 3,
                          "no run", "01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    assert_one_line_error(world.cli("runs", "show", "nope"), 3)


def test_ambiguous_prefix_names_the_candidates(world: World) -> None:
    # Step runs of one pipeline start milliseconds apart: their ULIDs share the leading
    # timestamp characters.
    prefix = os.path.commonprefix([world.runs["preprocess"], world.runs["train"]])
    assert len(prefix) >= 6
    result = world.cli("runs", "show", prefix)
    assert_one_line_error(result, 2, "ambiguous", world.runs["train"][:8])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--since", "someday"), "--since: not a time: 'someday'"),
        (("--until", "2024-13-45"), "--until"),
        (("--tag", "team"), "bad tag 'team'"),
    ],
)
def test_bad_filters_are_one_line_errors(world: World, args: tuple[str, ...], fragment: str) -> None:
    assert_one_line_error(world.cli("runs", "list", *args), 2, fragment)


def test_bad_status_is_a_usage_error(world: World) -> None:
    result = world.cli("runs", "list", "--status", "sleeping")
    assert result.code == 2 and "Traceback" not in result.err
    assert "sleeping" in result.err


def test_missing_store_is_not_created(tmp_path) -> None:
    from .conftest import cli

    target = tmp_path / "nowhere"
    assert_one_line_error(cli("runs", "list", uri=target), 3, "no lineal store")
    assert not target.exists()


def test_a_listing_cut_by_limit_says_so_on_stderr(world: World) -> None:
    cut = world.ok("runs", "list", "--limit", "2")
    assert "there may be more: --limit N" in cut.err
    assert len([line for line in cut.out.splitlines() if line[:2] == "01"]) == 2
    assert world.ok("runs", "list", "--limit", "2", "--json").err == ""
    assert world.ok("runs", "list", "--limit", "100").err == ""


def test_console_script_error_is_one_line(world: World) -> None:
    """The installed `lineal` script, in its own process, maps errors the same way."""
    import subprocess
    import sys
    from pathlib import Path

    lineal = Path(sys.executable).parent / "lineal"
    done = subprocess.run([str(lineal), "--uri", world.uri, "runs", "show", "01ZZZZZZZZZZ"],
                          capture_output=True, text=True)
    assert done.returncode == 3 and done.stdout == ""
    assert len(messages(done.stderr)) == 1 and done.stderr.startswith("error: no run")


def test_show_metric_history(world: World) -> None:
    out = world.ok("runs", "show", world.runs["train"], "--metric", "loss").out
    assert "History of loss" in out
    history = world.ok("runs", "show", world.runs["train"], "--metric", "loss", "--metric", "acc",
                       "--json").json()["history"]
    assert [(p["step"], p["value"]) for p in history["loss"]] == [(0, 0.9), (1, 0.5), (2, 0.25)]
    assert [p["value"] for p in history["acc"]] == [0.96]
    assert history["loss"][0]["timestamp"].endswith("+00:00")
    assert_one_line_error(world.cli("runs", "show", world.runs["train"], "--metric", "los"), 3,
                          "no metric 'los'", "loss")
