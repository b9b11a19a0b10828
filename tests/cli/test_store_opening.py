"""Opening stores from the CLI: reading never creates a store, --uri at any position, the
nearest .lineal/ upward, `lineal store init`."""

from __future__ import annotations

from pathlib import Path

import pytest

import lineal
from lineal.cli import hoist_global_options
from lineal.errors import NotFound
from lineal.store import open_store_for_reading

from .conftest import cli, messages


def test_read_commands_refuse_a_missing_store_and_create_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "typo"
    for args in (["registry", "models"], ["runs", "list"], ["deploy", "current"],
                 ["audit", "log"], ["store", "info"], ["registry", "show", "churn@v1"]):
        r = cli(*args, uri=typo)
        assert r.code == 3, (args, r)
        assert f"no lineal store at {typo}" in r.err and "lineal store init" in r.err, r.err
        assert len(messages(r.err)) == 1, r.err
    assert not typo.exists()


def test_sdk_read_path_refuses_and_write_path_creates(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no lineal store"):
        open_store_for_reading(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()
    lineal.open_store(tmp_path / "made").close()
    open_store_for_reading(tmp_path / "made").close()


def test_store_init_creates_then_reads_work(tmp_path: Path) -> None:
    where = tmp_path / "new"
    r = cli("store", "init", "--json", uri=where)
    assert r.code == 0 and r.json() == {"location": str(where), "created": True}
    assert cli("store", "init", "--json", uri=where).json()["created"] is False
    assert cli("registry", "models", "--json", uri=where).code == 0


def test_uri_works_after_the_command(tmp_path: Path) -> None:
    where = tmp_path / "s"
    assert cli("store", "init", uri=where).code == 0
    after = cli("runs", "list", "--json", "--uri", str(where))
    assert after.code == 0, after.err
    assert cli("registry", "models", f"--uri={where}", "--json").code == 0
    missing = cli("runs", "list", "--uri", str(tmp_path / "typo"))
    assert missing.code == 3 and "typo" in missing.err


def test_hoist_global_options() -> None:
    assert hoist_global_options(["runs", "list", "--uri", "x", "--json"]) == [
        "--uri", "x", "runs", "list", "--json"]
    assert hoist_global_options(["a", "--artifacts=b", "--", "--uri", "c"]) == [
        "--artifacts=b", "a", "--", "--uri", "c"]


def test_store_found_upward_from_a_subfolder_outside_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "home" / "proj"
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LINEAL_URI")
    monkeypatch.chdir(project)
    assert cli("store", "init").code == 0
    assert (project / ".lineal" / "lineal.db").exists()
    monkeypatch.chdir(deep)
    r = cli("store", "info", "--json")
    assert r.code == 0, r.err
    assert r.json()["location"] == str(project / ".lineal")
    assert not (deep / ".lineal").exists()


def test_upward_search_stops_at_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".lineal").mkdir()  # above the home folder: not ours
    home = tmp_path / "home"
    (home / "work").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("LINEAL_URI")
    monkeypatch.chdir(home / "work")
    r = cli("runs", "list")
    assert r.code == 3 and str(home / "work" / ".lineal") in r.err


def test_project_option_alike_on_questions_registry_and_deploy(tmp_path: Path) -> None:
    """--project after the command, on the questions and on `registry` / `deploy` alike."""
    where = tmp_path / "s"
    model = tmp_path / "m.bin"
    model.write_text("weights")
    store = lineal.open_store(where)
    try:
        with lineal.run("train", project="team", capture=False, store=store) as run:
            run.log_artifact(model, name="churn-model", kind="model")
        lineal.registry.register_model("churn", "churn-model@v1", project="team", store=store)
    finally:
        store.close()
    for args in (["registry", "show", "churn@v1"], ["registry", "versions", "churn"],
                 ["registry", "resolve", "churn@v1"], ["deploy", "timeline", "churn"],
                 ["params", "churn@v1"]):
        r = cli(*args, "--project", "team", "--json", uri=where)
        assert r.code == 0, (args, r.err)
        missing = cli(*args, "--json", uri=where)
        assert missing.code == 3, (args, missing)


def test_sdk_reads_on_the_default_store_never_create_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lineal import store as store_module

    where = tmp_path / "fresh"
    monkeypatch.setenv("LINEAL_URI", str(where))
    store_module.set_default_store(None)
    try:
        with pytest.raises(NotFound, match="no lineal store"):
            lineal.list_runs()
        with pytest.raises(NotFound, match="no lineal store"):
            lineal.get_artifact("x@v1")
        assert not where.exists()
        with lineal.run("first", capture=False):  # a write creates it
            pass
        assert [r.name for r in lineal.list_runs()] == ["first"]
    finally:
        store_module.set_default_store(None)


@pytest.mark.parametrize("server", ["pg_url", "mysql_url"])
def test_an_empty_server_database_is_not_a_store_for_reading(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    url = request.getfixturevalue(server)
    r = cli("runs", "list", uri=url, artifacts=tmp_path / "blobs")
    assert r.code == 3 and "no lineal store at" in r.err, r
    from lineal.store import resolve_location

    engine = sa.create_engine(resolve_location(url, "unused").database_url)
    try:
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []  # nothing was created
    finally:
        engine.dispose()
    assert cli("store", "init", uri=url, artifacts=tmp_path / "blobs").code == 0
    assert cli("runs", "list", "--json", uri=url, artifacts=tmp_path / "blobs").code == 0
