"""How tables share a terminal's width: names stay whole where they can, free text wraps."""

from __future__ import annotations

import pytest

from lineal.cli import render

STEPS = ("#", "step", "kind", "status", "duration", "run", "commit", "outputs")
ROWS = [
    (1, "ingest", "ingest", "finished", "120ms", "01M87G5PEE25ANZRDF1FVJFQ4D", "2e7ddb79",
     "cancer-raw@v1"),
    (3, "features", "preprocess", "finished", "95ms", "01M87G5PN3WYYTWTZ82V7B4TST", "2e7ddb79",
     "cancer-features-train@v1\ncancer-features-test@v1"),
    (4, "* train-logreg", "train", "finished", "1.3s", "01M87G5PW0HD6WBN38TKSB9B26", "2e7ddb79",
     "cancer-logreg@v1"),
]


def test_a_wide_terminal_keeps_every_column_but_free_text_whole() -> None:
    whole = render._kept_whole(STEPS, ROWS, ("run",), 200)
    assert whole == {"#", "step", "kind", "duration", "run", "commit"}


def test_a_narrow_terminal_keeps_the_short_columns_whole_and_folds_the_longest() -> None:
    whole = render._kept_whole(STEPS, ROWS, ("run",), 100)
    # Width runs out: the narrowest columns stay whole, the longest name column may fold.
    assert {"#", "duration", "commit", "kind", "run"} <= whole
    assert "step" not in whole and "outputs" not in whole


def test_multi_line_cells_count_their_longest_line() -> None:
    # Two refs on two lines need the width of the longer one, not of both joined.
    rows = [("a", "x" * 30 + "\n" + "y" * 30)]
    assert render._kept_whole(("name", "ref"), rows, (), 40) == {"name", "ref"}


@pytest.mark.parametrize("width", [80, 100, 200])
def test_print_table_never_exceeds_the_terminal(width: int, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    render.print_table("steps", STEPS, ROWS)
    lines = capsys.readouterr().out.splitlines()
    assert lines and max(len(line) for line in lines) <= width
    text = "\n".join(lines)
    # The ids that people copy into the next command are never broken.
    assert all(row[5] in text for row in ROWS)
