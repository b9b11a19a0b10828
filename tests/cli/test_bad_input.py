"""Bad input on the command line (issue 11, part 7): one line on stderr naming what is wrong and
how to fix it, a non-zero exit, no traceback, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

import lineal
from lineal.store import open_store

from .conftest import assert_one_line_error, cli, ok


@pytest.fixture
def small(tmp_path: Path) -> str:
    """A store with two runs whose names are display names, not references."""
    uri = str(tmp_path / "store")
    store = open_store(uri)
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    with lineal.run("baseline lr=0.1", params={"lr": 0.1}, store=store, capture=False) as run:
        run.log_artifact(data, name="data")
    with lineal.run("exp/1", store=store, capture=False):
        pass
    store.close()
    return uri


LISTINGS = [
    ("runs", "list"), ("artifacts", "list"), ("models", "list"), ("datasets", "list"),
    ("audit", "log"),
]


@pytest.mark.parametrize("command", LISTINGS)
@pytest.mark.parametrize("limit", ["100000000000000000000", "0", "-1", "ten"])
def test_every_limit_is_bounded(small: str, command: tuple[str, ...], limit: str) -> None:
    result = cli(*command, "--limit", limit, uri=small)
    assert_one_line_error(result, 2, "--limit must be a whole number from 1 to 10,000,000", limit)


def test_audit_paging_beyond_64_bits_is_one_line(small: str) -> None:
    result = cli("audit", "log", "--after", "100000000000000000000", uri=small)
    assert_one_line_error(result, 2, "after_seq must be a ledger sequence number")


@pytest.mark.parametrize("command", [("runs", "list"), ("artifacts", "list"), ("models", "list"),
                                     ("audit", "log")])
@pytest.mark.parametrize("since", ["99999999d", "99999999 weeks ago", "0000-01-01"])
def test_a_time_out_of_range_is_one_line(small: str, command: tuple[str, ...], since: str) -> None:
    result = cli(*command, "--since", since, uri=small)
    assert_one_line_error(result, 2, "--since" if command[0] != "audit" else "time", since)


def test_since_takes_the_same_forms_everywhere(small: str) -> None:
    for command in (("runs", "list"), ("artifacts", "list"), ("audit", "log")):
        assert ok(*command, "--since", "yesterday", "--json", uri=small).json()
        assert ok(*command, "--since", "3d", "--json", uri=small).json()


def test_a_version_beyond_64_bits_is_one_line(small: str) -> None:
    result = cli("artifacts", "show", "data@v99999999999999999999999", uri=small)
    assert_one_line_error(result, 2, "too large", "9223372036854775807")


def test_a_name_ending_in_a_newline_is_refused(small: str) -> None:
    assert_one_line_error(cli("artifacts", "show", "data\n@v1", uri=small), 2, "invalid")


def test_runs_with_display_names_are_listed_and_shown(small: str) -> None:
    runs = ok("runs", "list", "--json", uri=small).json()
    assert sorted(r["name"] for r in runs) == ["baseline lr=0.1", "exp/1"]
    table = ok("runs", "list", uri=small).out
    assert "baseline lr=0.1" in table and "exp/1" in table
    for run in runs:
        shown = ok("runs", "show", run["id"], uri=small).out
        assert run["name"] in shown
        shown_json = ok("runs", "show", run["id"], "--json", uri=small).json()
        assert shown_json["run"]["name"] == run["name"]


@pytest.mark.parametrize("content", [b"", b"not a database"])
def test_an_empty_database_file_is_refused(tmp_path: Path, content: bytes) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "lineal.db").write_bytes(content)
    for command in (("runs", "list"), ("store", "info")):
        result = cli(*command, uri=folder)
        assert_one_line_error(result, 8, f"{folder / 'lineal.db'}", "not a lineal store", "rm '")
    assert (folder / "lineal.db").read_bytes() == content


def test_a_path_where_no_store_can_be_created(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\n")
    result = cli("artifacts", "log", str(data), "--name", "data", uri="/proc/x")
    assert_one_line_error(result, 8, "cannot create a lineal store at /proc/x",
                          "No such file or directory")
