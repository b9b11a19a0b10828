"""Every command of the CLI, run on the demo's store at 80 and 120 columns: no line it prints, on
stdout or stderr, is wider than the terminal (tables, ``label: value`` blocks, and the sentences,
hints, warnings and errors between them; only a line holding one unbreakable word, a path or a
URL, may be), no id, number or word of a table is broken across lines (a name may be cut, with
an ellipsis), no word of a sentence is broken either, and no column is dropped (each is in the
header or, in the one-record-per-block layout, labels its line).

The commands are enumerated from the click tree: a new command fails
``test_every_command_is_run_here`` until it is given an invocation below (or a reason why it
prints nothing to check), so a new table is checked without anyone remembering to.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest

from lineal.cli import render
from lineal.identity import os_account

from .conftest import Result, cli

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"

#: Commands not run here, and why.
NOT_RUN = {
    "lineal server": "serves HTTP until stopped; prints no table",
    "lineal ui": "serves the web UI until stopped; prints no table",
    "lineal cache explain": "the demo has no memoised step; prints sentences, no table "
                            "(tests/steps/test_steps.py runs it)",
}

#: How each command is run, in this order, on a copy of the demo's store (``{name}`` fields are
#: filled from ``Ids``). Writers come first so that the listings after them have rows; what
#: removes or ends something comes last.
INVOCATIONS: list[tuple[str, ...]] = [
    ("store", "init", "--uri", "{root}/fresh"),
    ("store", "upgrade"),
    ("registry", "admins", "--set", "{me}"),
    ("token", "create", "--role", "writer", "--project", "default", "--name", "ci-pipeline"),
    ("token", "create", "--role", "admin", "--name", "bootstrap-administrator"),
    ("webhooks", "add", "http://127.0.0.1:9/lineal/hooks/receiver", "--event", "alias.moved",
     "--event", "deployment.started"),
    ("webhooks", "test", "{hook}", "--timeout", "0.5"),
    ("webhooks", "deliver", "--once", "--timeout", "0.5", "--max-attempts", "1"),
    ("artifacts", "log", "{root}/notes.md", "--name", "cancer-release-notes-with-a-long-name",
     "--kind", "report"),
    ("registry", "create", "cancer-classifier-challenger-experimental",
     "--description", "A challenger model with a long name, to make the tables work"),
    ("registry", "register", "cancer-classifier-challenger-experimental", "--from",
     "cancer-forest@v2"),
    ("registry", "update", "cancer-classifier-challenger-experimental@v1",
     "--description", "the forest retrained"),
    ("registry", "alias", "cancer-classifier-challenger-experimental@v1", "candidate"),
    ("registry", "stage", "cancer-classifier-challenger-experimental@v1", "staging"),
    ("registry", "policy", "cancer-classifier-challenger-experimental", "--require-approval",
     "--no-separation-of-duties"),
    ("registry", "approve", "cancer-classifier-challenger-experimental@v1",
     "--comment", "AUC within a point of the champion"),
    ("registry", "reject", "cancer-classifier@v2", "--comment", "worse on the holdout rows"),
    ("registry", "admins"),
    ("deploy", "record", "cancer-classifier-challenger-experimental@v1", "--name",
     "cancer-api-shadow-traffic", "--env", "staging", "--set", "replicas=3"),
    ("taint", "cancer-features-train@v1", "--reason",
     "label leak: the target column was duplicated into a feature"),
    # What reads.
    ("runs", "list"),
    ("runs", "list", "--wide"),
    ("runs", "list", "--filter", "metrics.train_accuracy > 0.5", "--order-by",
     "metrics.train_accuracy DESC"),
    ("runs", "show", "{evaluate}"),
    ("runs", "show", "{train}", "--metric", "train_accuracy"),
    ("runs", "show", "{failed}"),
    ("runs", "close", "--stale", "--older-than", "1s", "--dry-run"),
    ("artifacts", "list"),
    ("artifacts", "list", "--wide"),
    ("artifacts", "show", "cancer-features-train@v1"),
    ("artifacts", "show", "cancer-logreg@v1"),
    ("artifacts", "get", "cancer-validation@v1", "-o", "{root}/validation.json"),
    ("datasets", "list"),
    ("datasets", "show", "cancer-features-train@v1"),
    ("datasets", "diff", "cancer-features-train@v1", "cancer-features-test@v1", "--all"),
    ("models", "list"),
    ("models", "show", "cancer-logreg@v1"),
    ("store", "info"),
    ("verify",),
    ("audit", "log"),
    ("audit", "log", "--wide"),
    ("audit", "verify"),
    ("gc", "--dry-run"),
    ("registry", "models"),
    ("registry", "show", "cancer-classifier"),
    ("registry", "show", "cancer-classifier@v1"),
    ("registry", "versions", "cancer-classifier"),
    ("registry", "history", "cancer-classifier"),
    ("registry", "in-stage", "cancer-classifier", "production", "--from", "1 hour ago"),
    ("registry", "as-of", "cancer-classifier", "1 hour ago"),
    ("registry", "resolve", "cancer-classifier@champion"),
    ("registry", "compare", "cancer-classifier@v1", "cancer-classifier@v2"),
    ("deploy", "list"),
    ("deploy", "current"),
    ("deploy", "at", "1 second ago"),
    ("deploy", "timeline", "cancer-classifier"),
    ("deploy", "timeline", "cancer-classifier", "--wide"),
    ("deploy", "show", "{deployment}"),
    ("deploy", "last", "cancer-classifier", "--env", "prod"),
    ("deploy", "recover", "cancer-api", "--env", "prod"),
    ("last-deployed", "cancer-classifier", "--env", "prod"),
    ("lineage", "cancer-classifier@v1", "--up"),
    ("lineage", "cancer-raw@v1", "--down"),
    ("impact", "cancer-raw@v1"),
    ("taints",),
    ("trained-on", "cancer-classifier@v1"),
    ("params", "cancer-classifier@v1"),
    ("pipeline", "cancer-classifier@v1"),
    ("env", "cancer-classifier@v1"),
    ("runs-using", "scikit-learn>=1.0"),
    ("why-failed", "train-logreg"),
    ("leaderboard", "cancer-features-train@v1", "--metric", "train_accuracy"),
    ("diff", "cancer-classifier@v1", "cancer-classifier@v2"),
    ("reproduce", "cancer-classifier@v1", "-o", "{root}/rebuild"),
    ("import", "mlflow", "--from", "{mlruns}", "--dry-run"),
    ("token", "list"),
    ("webhooks", "list"),
    ("webhooks", "deliveries"),
    # What removes or ends.
    ("untaint", "cancer-features-train@v1"),
    ("registry", "unalias", "cancer-classifier-challenger-experimental", "candidate"),
    ("deploy", "rollback", "cancer-api", "--env", "prod", "--to", "cancer-classifier@v2"),
    ("deploy", "end", "{shadow}", "--comment", "the shadow test is over"),
    ("token", "revoke", "{token}"),
    ("webhooks", "remove", "{hook}"),
    ("purge", "cancer-release-notes-with-a-long-name@v1", "--reason",
     "erasure request from the data protection office"),
]

WIDTHS = (80, 120)


def leaf_commands() -> list[str]:
    """``lineal runs list``, ``lineal verify``...: every command of the click tree that runs."""
    from lineal.cli import cli as root
    from lineal.cli.docgen import iter_commands

    return [ctx.command_path for ctx, command in
            iter_commands(root, click.Context(root, info_name="lineal"))
            if not isinstance(command, click.Group)]


def test_every_command_is_run_here() -> None:
    def invoked(path: str) -> bool:
        words = tuple(path.split()[1:])
        return any(args[:len(words)] == words for args in INVOCATIONS)

    missing = [path for path in leaf_commands() if path not in NOT_RUN and not invoked(path)]
    assert not missing, f"give these commands an invocation in INVOCATIONS: {missing}"


# -- the store ----------------------------------------------------------------------------------
@dataclass
class Demo:
    """The demo's store (built once) and what the invocations refer to."""

    store: Path
    mlruns: Path
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    import lineal
    from lineal import deployments
    from lineal.store import open_store

    root = tmp_path_factory.mktemp("tables-demo")
    store_dir = root / "store"
    done = subprocess.run([sys.executable, str(DEMO), "--store", str(store_dir)],
                          capture_output=True, text=True, cwd=root, timeout=600)
    assert done.returncode == 0, done.stderr
    store = open_store(store_dir)
    try:
        runs = {r.name: r for r in lineal.list_runs(store=store, limit=100)}
        failed = lineal.list_runs(status="failed", store=store)[0]
        live = deployments.current("prod", store=store)[0]
        ids = {"evaluate": runs["evaluate"].id, "train": runs["train-forest"].id,
               "failed": failed.id, "deployment": live.id}
    finally:
        store.close()
    return Demo(store=store_dir, mlruns=_mlruns(root / "mlruns"), ids=ids)


def _mlruns(folder: Path) -> Path:
    """An mlruns folder with one experiment and one run, written by the real mlflow client."""
    mlflow = pytest.importorskip("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        client = mlflow.MlflowClient(tracking_uri=folder.as_uri())
        experiment = client.create_experiment("churn-prediction-with-gradient-boosting")
        run = client.create_run(experiment, run_name="gbm-baseline-with-default-hyperparameters")
        client.log_param(run.info.run_id, "learning_rate", "0.1")
        client.log_metric(run.info.run_id, "roc_auc", 0.912345678)
        client.set_terminated(run.info.run_id)
    return folder


# -- what a table must be -----------------------------------------------------------------------
@dataclass
class Printed:
    """A table as the renderer was given it (its columns, its cells as strings) and the lines
    it became; or (``columns`` empty) ``label: value`` lines."""

    columns: list[str]
    cells: list[list[str]]
    lines: list[str] = field(default_factory=list)


@pytest.fixture
def printed(monkeypatch: pytest.MonkeyPatch) -> list[Printed]:
    """Every table and every block of fields the commands print, recorded in the renderer."""
    seen: list[Printed] = []
    cells, table_lines, field_lines = render._cells, render.table_lines, render.field_lines

    def recording_cells(columns: Sequence[str], rows: list[Sequence[Any]], wide: bool
                        ) -> list[list[str]]:
        table = cells(columns, rows, wide)
        seen.append(Printed(list(columns), [list(row) for row in table]))
        return table

    def recording_table(*args: Any, **kwargs: Any) -> list[str]:
        lines = table_lines(*args, **kwargs)
        seen[-1].lines = lines
        return lines

    def recording_fields(fields: Sequence[tuple[str, Any]], width: int) -> list[str]:
        lines = field_lines(fields, width)
        seen.append(Printed([], [], lines))
        return lines

    monkeypatch.setattr(render, "_cells", recording_cells)
    monkeypatch.setattr(render, "table_lines", recording_table)
    monkeypatch.setattr(render, "field_lines", recording_fields)
    return seen


def _whole(word: str, words: set[str], cut: list[str]) -> bool:
    """``word`` is on one line of the output, or was cut visibly (``…`` at the end of a name, at
    the start of a reference)."""
    if word in words:
        return True
    return any((c.endswith("…") and len(c) > 1 and word.startswith(c[:-1]))
               or (c.startswith("…") and len(c) > 1 and word.endswith(c[1:])) for c in cut)


def _cut_whole(cell: str, text: str) -> bool:
    """``cell`` (a name) shown cut to its start or its end, the ellipsis marking the cut."""
    return any(f"{cell[:k]}…" in text or f"…{cell[-k:]}" in text for k in range(1, len(cell)))


def _unbreakable(line: str) -> bool:
    """A line that holds one word after its label (``label: ``, or a right-aligned ``label  ``)
    or indent (a path, a URL, a full digest): wider than the terminal only because that word is."""
    return len(re.sub(r"^\S[^:]*?(:\s+| {2,})", "", line.strip()).split()) == 1


def check_output(args: Sequence[str], result: Result, printed: list[Printed], width: int
                 ) -> None:
    """The rules of this module, on what one command printed: every line fits (tables,
    ``label: value`` blocks, and sentences on stdout and stderr alike), and tables keep their
    cells and columns whole."""
    where = f"lineal {' '.join(args)} at {width} columns:\n{result.out}{result.err}"
    lines = result.out.splitlines()
    too_wide = [line for line in lines + result.err.splitlines()
                if render._cell_len(line) > width and not _unbreakable(line)]
    assert not too_wide, (f"{len(too_wide)} line(s) wider than the terminal: {too_wide}; "
                          f"{where}")
    # A table drawn some other way (rich's boxes) escapes every rule below.
    drawn = {line for block in printed for line in block.lines}
    stray = [line for line in lines if re.search("[│┃┏┡└┌╇━]|─{3}", line) and line not in drawn]
    assert not stray, f"a table not printed by render.print_table; {where}"
    words = set(result.out.split())
    cut = [w for w in words if "…" in w]
    for block in printed:
        assert all(line in lines for line in block.lines if line.strip()), where
        if not block.columns:
            continue
        # No column silently dropped: the header names them all, or each record's lines do.
        header = re.split(r" {2,}", block.lines[0].strip()) if block.lines else []
        if header != [c for c in block.columns if c]:
            for column in block.columns:
                assert any(line.startswith(f"{column}:") for line in block.lines), (
                    f"column {column!r} missing; {where}")
        # No id, number or word of a cell broken across lines.
        text = "\n".join(block.lines)
        for row in block.cells:
            for cell in row:
                broken = [w for w in cell.split() if not _whole(w, words, cut)]
                assert not broken or _cut_whole(cell, text), f"{broken} broken; {where}"


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_every_table_fits(demo: Demo, width: int, tmp_path: Path,
                          printed: list[Printed]) -> None:
    store = tmp_path / "store"
    shutil.copytree(demo.store, store)
    (tmp_path / "notes.md").write_text("# release notes\n")
    fields = {**demo.ids, "root": str(tmp_path), "mlruns": str(demo.mlruns),
              "me": os_account()}
    env = {"COLUMNS": str(width), "LINEAL_URI": str(store), "LINEAL_ARTIFACTS": None,
           "LINEAL_PROJECT": None}
    failures: list[str] = []
    for args in INVOCATIONS:
        filled = tuple(a.format(**fields) for a in args)
        printed.clear()
        result = cli(*filled, env=env)  # type: ignore[arg-type]
        if result.code != 0:
            failures.append(f"lineal {' '.join(filled)} exited {result.code}: {result.err}")
            continue
        _remember(filled, result, fields)
        try:
            check_output(filled, result, printed, width)
        except AssertionError as error:
            failures.append(str(error))
    assert not failures, "\n\n".join(failures)


def _remember(args: Sequence[str], result: Result, fields: dict[str, str]) -> None:
    """The ids that later invocations name: the webhook, the token, the shadow deployment."""
    text = result.out + result.err
    if args[:2] == ("webhooks", "add"):
        fields["hook"] = re.search(r"\b[0-9A-Z]{26}\b", text).group(0)  # type: ignore[union-attr]
    elif args[:2] == ("token", "create") and "token" not in fields:
        fields["token"] = re.search(r"\b[0-9A-Z]{26}\b", text).group(0)  # type: ignore[union-attr]
    elif args[:2] == ("deploy", "record"):
        fields["shadow"] = re.search(r"\b[0-9A-Z]{26}\b", text).group(0)  # type: ignore[union-attr]


@pytest.mark.parametrize("width", WIDTHS)
def test_an_error_wraps_between_words(tmp_path: Path, width: int) -> None:
    # A long path in the error and its hint: each line fits, or holds the one word that cannot;
    # every word comes out whole, continuation lines hang under the message.
    typo = tmp_path / ("a-folder-with-a-rather-long-name-that-holds-no-store-" * 2) / "typo"
    result = cli("runs", "list", "--uri", str(typo), env={"COLUMNS": str(width)})
    assert result.code == 3, result
    lines = result.err.splitlines()
    assert len(lines) > 1 and lines[0].startswith("error: "), result.err
    assert all(render._cell_len(line) <= width or _unbreakable(line) for line in lines), lines
    assert all(line.startswith(" " * len("error: ")) for line in lines[1:]), lines
    assert str(typo) in result.err.split()
    # The same error to a pipe (no COLUMNS, no terminal): one line, for scripts.
    piped = cli("runs", "list", "--uri", str(typo), env={"COLUMNS": ""})
    assert len(piped.err.strip().splitlines()) == 1, piped.err
    assert " ".join(result.err.split()) == " ".join(piped.err.split())


def test_prose_wraps_between_words_and_keeps_ids_whole() -> None:
    ulid = "01M90TTGBWQ25A817TQ8RGTZGK"
    ref = "default/cancer-classifier-challenger-experimental@v12"
    text = (f"registered {ref} -> default/cancer-forest@v2 (sha256:ef9f6841b2d6), run {ulid}, "
            "1,234,567.89 rows")
    wrapped = render.wrap_prose(text, 40).splitlines()
    assert all(render._cell_len(line) <= 40 or len(line.split()) == 1 for line in wrapped)
    assert " ".join(" ".join(wrapped).split()) == text
    for word in (f"{ulid},", ref, "1,234,567.89", "(sha256:ef9f6841b2d6),"):
        assert any(word in line.split() for line in wrapped), (word, wrapped)
    # A label's value wraps under itself; no width (a pipe): untouched.
    labelled = render.wrap_prose("  review  approved for production by someone at noon, after "
                                 "the holdout rows were checked twice", 50)
    assert labelled.splitlines()[1][:11].strip() == "n", labelled  # "noon", under "approved"
    assert render.wrap_prose(text, None) == text


def test_a_command_to_copy_wraps_with_continuations() -> None:
    import shlex

    command = ("lineal deploy record default/cancer-classifier@v1 --name cancer-api --env prod "
               "--target https://ml.example.com/cancer --config '{\"replicas\": 2}'")
    lines = render.command_lines("      redeploy  ", command, 60)
    assert len(lines) > 1 and all(render._cell_len(line) <= 60 for line in lines), lines
    assert all(line.endswith(" \\") for line in lines[:-1]), lines
    pasted = " ".join(line.removesuffix("\\") for line in lines).removeprefix("      redeploy  ")
    assert shlex.split(pasted) == shlex.split(command)
