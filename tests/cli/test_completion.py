"""Shell completion end to end, as bash asks for it (click's ``_LINEAL_COMPLETE=bash_complete``
with ``COMP_WORDS``/``COMP_CWORD``, in a child process, as the shell runs it), on a filled store:
run ids, registered model names and references (a model's versions and aliases, an artifact's
versions), the project of ``--project`` or of the reference, the store of ``--uri`` or
``LINEAL_URI``; silent and creating nothing where there is no store (README, "Shell
completion")."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import lineal


def complete(words: str, *, uri: Path | None = None) -> list[str]:
    """What ``lineal`` offers bash for the last word of ``words`` (a trailing space: a new word)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAL_")}
    env.update({"_LINEAL_COMPLETE": "bash_complete", "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
                "PYTHONPATH": str(Path(lineal.__file__).parents[1])})
    if uri is not None:
        env["LINEAL_URI"] = str(uri)
    done = subprocess.run([sys.executable, "-m", "lineal.cli"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # nothing ever printed into the user's prompt
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]


@dataclass
class Filled:
    where: Path
    run_id: str
    team_run_id: str


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    """Two versions of the model artifact ``churn-model``, registered as ``churn`` (alias
    ``prod`` on v1); in project ``team``, ``fraud`` from ``fraud-model``."""
    root = tmp_path_factory.mktemp("completion")
    where = root / "s"
    store = lineal.open_store(where)
    try:
        for content in ("weights v1", "weights v2"):
            (root / "m.bin").write_text(content)
            with lineal.run("train-churn", capture=False, store=store) as run:
                run.log_artifact(root / "m.bin", name="churn-model", kind="model")
        for v in (1, 2):
            lineal.registry.register_model("churn", f"churn-model@v{v}", store=store)
        lineal.registry.set_alias("churn@v1", "prod", store=store)
        with lineal.run("train-fraud", project="team", capture=False, store=store) as team:
            team.log_artifact(root / "m.bin", name="fraud-model", kind="model")
        lineal.registry.register_model("fraud", "fraud-model@v1", project="team", store=store)
    finally:
        store.close()
    return Filled(where, run.id, team.id)


def test_run_ids(filled: Filled) -> None:
    assert complete(f"lineal runs show {filled.run_id[:20]}", uri=filled.where) == [filled.run_id]
    assert filled.team_run_id in complete("lineal runs show ", uri=filled.where)


def test_model_names_of_the_project(filled: Filled) -> None:
    assert complete("lineal registry versions ch", uri=filled.where) == ["churn"]
    # Another project's model is offered with its project, the way the command accepts it.
    assert complete("lineal registry versions ", uri=filled.where) == ["churn", "team/fraud"]
    assert complete("lineal registry versions team/", uri=filled.where) == ["team/fraud"]
    assert complete("lineal registry versions --project team ",
                    uri=filled.where) == ["default/churn", "fraud"]


def test_references(filled: Filled) -> None:
    assert complete("lineal params ch", uri=filled.where) == ["churn", "churn-model"]
    # A registered model's versions and aliases (the reference rule: the model first).
    assert complete("lineal params churn@", uri=filled.where) == [
        "churn@latest", "churn@prod", "churn@v1", "churn@v2"]
    assert complete("lineal params churn@p", uri=filled.where) == ["churn@prod"]
    # An artifact that is no registered model: its versions.
    assert complete("lineal lineage churn-model@", uri=filled.where) == [
        "churn-model@latest", "churn-model@v1", "churn-model@v2"]
    # Another project's, named with it or through --project.
    assert complete("lineal params team/fr", uri=filled.where) == ["team/fraud", "team/fraud-model"]
    assert complete("lineal params team/fraud@", uri=filled.where) == [
        "team/fraud@latest", "team/fraud@v1"]
    assert complete("lineal params --project team fraud@", uri=filled.where) == [
        "fraud@latest", "fraud@v1"]


def test_the_store_of_uri_on_the_command_line(filled: Filled) -> None:
    assert complete(f"lineal --uri {filled.where} registry versions ch") == ["churn"]


def test_silent_and_creating_nothing_where_there_is_no_store(tmp_path: Path) -> None:
    assert complete("lineal params ch", uri=tmp_path / "none") == []
    assert complete("lineal runs show 01", uri=tmp_path / "none") == []
    assert not (tmp_path / "none").exists()
