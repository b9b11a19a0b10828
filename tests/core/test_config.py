"""lineal.toml / [tool.lineal] settings, found upward, with environment variables first."""

from __future__ import annotations

from pathlib import Path

import pytest

from lineal.config import capture_enabled, default_project, load_config, setting
from lineal.errors import InvalidArgument
from lineal.store import resolve_location


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("LINEAL_URI", "LINEAL_ARTIFACTS", "LINEAL_PROJECT", "LINEAL_CAPTURE",
                "LINEAL_CAPTURE_TIMEOUT", "LINEAL_SERVER"):
        monkeypatch.delenv(var, raising=False)
    return home


def test_lineal_toml_found_upward(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "proj" / "sub").mkdir(parents=True)
    (home / "proj" / "lineal.toml").write_text(
        'uri = "store"\nproject = "churn"\ncapture = false\ncapture_timeout = 5\n'
        'server = "https://lineal.example.com"\n')
    monkeypatch.chdir(home / "proj" / "sub")
    assert setting("uri") == str(home / "proj" / "store")  # relative to the file
    assert default_project() == "churn"
    assert default_project("other") == "other"
    assert capture_enabled() is False
    assert setting("capture_timeout") == 5
    assert setting("server") == "https://lineal.example.com"
    assert resolve_location().display == str(home / "proj" / "store")


def test_pyproject_tool_section(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "p").mkdir()
    (home / "p" / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.lineal]\nproject = "fraud"\nartifacts = "s3://b/p"\n')
    monkeypatch.chdir(home / "p")
    assert default_project() == "fraud"
    assert setting("artifacts") == "s3://b/p"


def test_pyproject_without_section_is_passed_over(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "lineal.toml").write_text('project = "outer"\n')
    (home / "inner").mkdir()
    (home / "inner" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    monkeypatch.chdir(home / "inner")
    assert default_project() == "outer"


def test_environment_wins(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "lineal.toml").write_text('project = "file"\ncapture = false\n')
    monkeypatch.chdir(home)
    monkeypatch.setenv("LINEAL_PROJECT", "env")
    monkeypatch.setenv("LINEAL_CAPTURE", "1")
    assert default_project() == "env"
    assert capture_enabled() is True


def test_no_file_means_defaults(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(home)
    assert load_config().path is None
    assert default_project() == "default"
    assert capture_enabled() is True


@pytest.mark.parametrize("text, message", [
    ('projekt = "x"\n', "unknown lineal setting 'projekt'"),
    ('capture = "no"\n', "wrong type"),
    ('project = \n', "not valid TOML"),
])
def test_bad_files_are_refused(home: Path, monkeypatch: pytest.MonkeyPatch,
                               text: str, message: str) -> None:
    (home / "lineal.toml").write_text(text)
    monkeypatch.chdir(home)
    with pytest.raises(InvalidArgument, match=message):
        load_config()


def test_sdk_run_uses_config_project_and_capture(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import lineal

    (home / "lineal.toml").write_text(
        f'uri = "{tmp_path / "cfgstore"}"\nproject = "cfgproj"\ncapture = false\n')
    monkeypatch.chdir(home)
    with lineal.run("r") as run:
        pass
    store = lineal.open_store(tmp_path / "cfgstore")
    try:
        assert store.metadata.get_run(run.id).project == "cfgproj"
    finally:
        store.close()
