"""Tables that fit: ids, times and numbers stay whole, names are cut with an ellipsis, free text
wraps between words, and a table that cannot fit becomes one record per block. Checked on the
renderer itself and on the real commands at 80 and 120 columns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lineal import deployments, registry
from lineal.cli import render
from lineal.store import open_store

from .conftest import World, build_world

STEPS = ("#", "step", "kind", "status", "duration", "run", "commit", "outputs")
ROWS = [
    (1, "ingest", "ingest", "finished", "120ms", "01M87G5PEE25ANZRDF1FVJFQ4D", "2e7ddb79",
     "cancer-raw@v1"),
    (3, "features", "preprocess", "finished", "95ms", "01M87G5PN3WYYTWTZ82V7B4TST", "2e7ddb79",
     "cancer-features-train@v1\ncancer-features-test@v1"),
    (4, "* train-logreg", "train", "finished", "1.3s", "01M87G5PW0HD6WBN38TKSB9B26", "2e7ddb79",
     "cancer-logreg@v1"),
]


# -- the renderer ---------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [60, 80, 100, 200])
def test_print_table_never_exceeds_the_terminal(width: int, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    render.print_table("steps", STEPS, ROWS)
    lines = capsys.readouterr().out.splitlines()
    assert lines and max(len(line) for line in lines) <= width
    text = "\n".join(lines)
    # The ids people copy into the next command are never broken: one prefix, at least 8
    # characters, long enough to tell the three apart (they share their first 7).
    assert all(row[5][:9] in text for row in ROWS)
    assert "01M87G5PW0HD" not in text  # short by default
    assert all(f"{c}:" in text for c in STEPS) or all(c in lines[2] for c in STEPS)


def test_wide_keeps_full_ids_and_times(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    rows = [("01M87G5PEE25ANZRDF1FVJFQ4D", "2024-05-01 14:03:12")]
    render.print_table(None, ("id", "started"), rows, wide=True)
    assert capsys.readouterr().out.splitlines()[2].split() == [
        "01M87G5PEE25ANZRDF1FVJFQ4D", "2024-05-01", "14:03:12"]
    render.print_table(None, ("id", "started"), rows)
    assert capsys.readouterr().out.splitlines()[2].split() == ["01M87G5P", "2024-05-01", "14:03"]


def test_a_narrow_table_cuts_names_with_an_ellipsis_and_keeps_the_version() -> None:
    rows = [("default/cancer-features-train@v12", "deploy-cancer-api", "0.99771", "finished")]
    lines = render.table_lines(("artifact", "run", "accuracy", "status"), rows, width=50,
                               whole=())
    assert lines[0].split() == ["artifact", "run", "accuracy", "status"]
    # A reference keeps its end (name and version tell rows apart), a name its start.
    assert lines[2].split() == ["…res-train@v12", "deploy-cancer…", "0.99771", "finished"]


def test_free_text_wraps_between_words_never_inside_one() -> None:
    rows = [("a1", "rollback to v1 (replaces v2) after latency regression")]
    lines = render.table_lines(("id", "change"), rows, width=20)
    body = " ".join(line[4:].strip() for line in lines[2:])
    assert body == "rollback to v1 (replaces v2) after latency regression"
    assert all(len(line) <= 20 for line in lines)


def test_what_cannot_fit_becomes_one_record_per_block() -> None:
    rows = [("01M87G5PEE25ANZRDF1FVJFQ4D", "2024-05-01 14:03:12", "863.4 KiB", "0.9977"),
            ("01M87G5PN3WYYTWTZ82V7B4TST", "2024-05-01 14:03:13", "1.2 GiB", "0.9976")]
    lines = render.table_lines(("id", "started", "size", "accuracy"), rows, width=30, wide=True)
    assert lines == [
        "id:       01M87G5PEE25ANZRDF1FVJFQ4D",
        "started:  2024-05-01 14:03:12",
        "size:     863.4 KiB",
        "accuracy: 0.9977",
        "",
        "id:       01M87G5PN3WYYTWTZ82V7B4TST",
        "started:  2024-05-01 14:03:13",
        "size:     1.2 GiB",
        "accuracy: 0.9976",
    ]


def test_floats_get_the_digits_that_tell_them_apart() -> None:
    assert render.significant([0.123456, 12345.678, 1.0]) == ["0.1235", "1.235e+04", "1"]
    assert render.significant([0.99771, 0.99774, 0.5]) == ["0.99771", "0.99774", "0.5"]
    assert render.significant([float("nan"), 0.25]) == ["nan", "0.25"]
    lines = render.table_lines(("model", "auc"), [("a", 0.912341), ("b", 0.912349)], width=80)
    assert [line.split()[1] for line in lines[2:]] == ["0.91234", "0.91235"]


def test_short_ids_share_one_length_that_tells_them_apart() -> None:
    ids = ["01M87G5PEE25ANZRDF1FVJFQ4D", "01M87G5PEX00000000000000AA", "01M99ZZZZZZZZZZZZZZZZZZZZZ"]
    assert render.short_ids(ids) == {i: i[:10] for i in ids}
    assert render.short_ids(ids[2:]) == {ids[2]: ids[2][:8]}


def test_the_pager_is_for_terminals_only() -> None:
    assert render.should_page(100, is_tty=True, height=40)
    assert not render.should_page(30, is_tty=True, height=40)
    assert not render.should_page(100, is_tty=False, height=40)  # pipes, files, tests


def test_markup_prints_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    render.print_table(None, ("tag", "value"), [("note", "[red]not markup[/red]")])
    assert "[red]not markup[/red]" in capsys.readouterr().out


# -- the commands at 80 and 120 columns ---------------------------------------------------------
@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The CLI tests' world, with the model registered twice and deployed, rolled forward and
    rolled back: every listing has rows."""
    root = tmp_path_factory.mktemp("render")
    uri = str(root / "store")
    store = open_store(uri)
    try:
        world = build_world(store, uri, root)
        registry.register_model("iris-classifier", "iris@v1", store=store)
        registry.register_model("iris-classifier", "iris-tree@v1", store=store)
        for ref in ("iris-classifier@v1", "iris-classifier@v2"):
            deployments.record_deployment(ref, name="iris-api", environment="production",
                                          capture=False, store=store)
        yield world
    finally:
        store.close()


def _check(out: str, width: int, columns: tuple[str, ...], whole: list[str]) -> None:
    """Every line fits; every column is in the header or (one record per block) labels each
    record; every value in ``whole`` (ids, numbers, sizes, times, statuses) is on one line."""
    lines = out.splitlines()
    assert lines and max(map(len, lines)) <= width, out
    rule = next((i for i, line in enumerate(lines) if line.startswith("─")), None)
    if rule is not None:
        assert re.split(r"\s{2,}", lines[rule - 1].strip()) == list(columns), out
    else:
        labels = {line.split(":")[0] for line in lines if re.match(r"^\S[^:]*:", line)}
        assert set(columns) <= labels, out
    for value in whole:
        assert value in out, (value, out)
    # A word cut at the line's end continues on the next line only in free text: no line of a
    # table starts with the tail of a number.
    assert not any(re.match(r"^\s*\d*\.\d", line) for line in lines[rule + 1 if rule else 0:]
                   if not line.lstrip().startswith(("0.", "1.")))


@pytest.mark.parametrize("width", [80, 120])
def test_listings_fit_at_80_and_120_columns(deployed: World, width: int) -> None:
    env = {"COLUMNS": str(width)}
    short = {name: run_id[:8] for name, run_id in deployed.runs.items()}
    out = deployed.ok("runs", "list", env=env).out
    _check(out, width, ("id", "name", "kind", "status", "started", "duration", "metrics"),
           [*short.values(), "finished", "failed", "preprocess"])
    out = deployed.ok("models", "list", env=env).out
    _check(out, width, ("model", "format", "framework", "inputs", "size", "run", "metrics",
                        "created"), ["KiB", short["train"]])
    out = deployed.ok("artifacts", "list", env=env).out
    digest = render.short_digest(deployed.versions["raw"].digest)
    _check(out, width, ("artifact", "kind", "size", "storage", "digest", "aliases", "created"),
           [digest, "dataset"])
    out = deployed.ok("deploy", "timeline", "iris-classifier", env=env).out
    _check(out, width, ("id", "env", "name", "model", "status", "started", "ended", "change"),
           ["production", "replaced", "live", "replaces v1"])
    out = deployed.ok("registry", "versions", "iris-classifier", env=env).out
    _check(out, width, ("version", "stage", "status", "aliases", "artifact", "created", "by"),
           ["v1", "v2"])
    out = deployed.ok("leaderboard", "features@v1", "--metric", "acc", env=env).out
    _check(out, width, ("#", "model", "acc", "run", "user", "created", "registered"),
           ["0.96"])


def test_at_120_columns_the_listings_are_tables(deployed: World) -> None:
    env = {"COLUMNS": "120"}
    for args in (("runs", "list"), ("artifacts", "list"), ("deploy", "timeline", "iris-classifier"),
                 ("registry", "versions", "iris-classifier"),
                 ("leaderboard", "features@v1", "--metric", "acc")):
        out = deployed.ok(*args, env=env).out
        assert "─" in out, (args, out)


def test_the_limit_has_a_short_form_everywhere() -> None:
    from lineal.cli import cli

    def commands(group: object, path: str = "") -> Iterator[tuple[str, object]]:
        for name, command in getattr(group, "commands", {}).items():
            yield f"{path} {name}".strip(), command
            yield from commands(command, f"{path} {name}")

    for name, command in commands(cli):
        for param in getattr(command, "params", []):
            if "--limit" in getattr(param, "opts", []):
                assert "-n" in param.opts, name


def test_sizes_use_binary_units() -> None:
    assert [render.human_size(n) for n in (512, 1536, 5 * 2**20, 3 * 2**30)] == [
        "512 B", "1.5 KiB", "5.0 MiB", "3.0 GiB"]


def test_every_table_names_the_project(deployed: World, tmp_path: Path) -> None:
    # One rule for references: always with their project, default/ included.
    out = deployed.ok("deploy", "timeline", "iris-classifier", env={"COLUMNS": "200"}).out
    assert "default/iris-classifier@v1" in out
    out = deployed.ok("leaderboard", "features@v1", "--metric", "acc").out
    assert "default/iris@v1" in out


def test_a_short_id_names_one_run_of_the_store_not_only_of_the_table(deployed: World) -> None:
    # One run listed; the runs logged in the same second share its first 8 characters.
    train = deployed.runs["train"]
    assert any(r != train and r[:8] == train[:8] for r in deployed.runs.values())
    out = deployed.ok("runs", "list", "--name", "train").out
    shown = out.splitlines()[2].split()[0]
    assert train.startswith(shown) and len(shown) > 8
    assert deployed.ok("runs", "show", shown, "--json").json()["run"]["id"] == train
