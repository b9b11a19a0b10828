"""``lineal reproduce REF --run`` applies only recorded variables that cannot load code, shows
its plan, and asks before running (refusing without --yes when nobody can answer)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from tests.cli.conftest import messages

import lineal
from lineal.artifacts import replayable_env
from lineal.store.base import RunFilter

from .conftest import Project, cli, report_of, tags_of


def test_only_seed_thread_device_and_locale_variables_are_replayed() -> None:
    applied, skipped = replayable_env({
        "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "2", "CUDA_VISIBLE_DEVICES": "1", "TZ": "UTC",
        "LANG": "C.UTF-8", "LC_ALL": "C", "PYTHONPATH": "/evil", "PYTHONSTARTUP": "/evil.py",
        "PYTHONHOME": "/evil", "LD_PRELOAD": "/evil.so", "DYLD_INSERT_LIBRARIES": "/e.dylib",
        "PATH": "/evil/bin", "AWS_SECRET_ACCESS_KEY": "k", "GITHUB_TOKEN": "t", "MY_FLAG": "1",
    })
    assert applied == {"CUDA_VISIBLE_DEVICES": "1", "LANG": "C.UTF-8", "LC_ALL": "C",
                       "OMP_NUM_THREADS": "2", "PYTHONHASHSEED": "0", "TZ": "UTC"}
    for name in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "LD_PRELOAD",
                 "DYLD_INSERT_LIBRARIES", "PATH"):
        assert "load or run other code" in skipped[name]
    assert skipped["AWS_SECRET_ACCESS_KEY"] == skipped["GITHUB_TOKEN"] == "looks like a credential"
    assert "not a variable lineal replays" in skipped["MY_FLAG"]


@pytest.fixture
def hostile(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Project, Path, Path]:
    """A run whose record holds PYTHONPATH=<folder>; the folder later gets a sitecustomize.py
    that writes a marker file whenever Python starts with it on the path."""
    folder, marker = tmp_path / "hostile", tmp_path / "marker"
    folder.mkdir()
    # The children import this lineal, whatever the interpreter has installed.
    here = str(Path(lineal.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", here)
    project.train("--C", "0.5", PYTHONPATH=os.pathsep.join([str(folder), here]),
                  LINEAL_CAPTURE_ENV="PYTHONPATH", OMP_NUM_THREADS="1")
    (folder / "sitecustomize.py").write_text(
        f"open({str(marker)!r}, 'w').write('foreign code ran')\n")
    return project, folder, marker


def test_a_recorded_pythonpath_does_not_take_effect(
    hostile: tuple[Project, Path, Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, folder, marker = hostile
    monkeypatch.chdir(project.workdir)
    code, out, err = cli(capsys, "reproduce", "model@v1", "--run", "--yes", "--json")
    assert not marker.exists(), "the recorded PYTHONPATH ran foreign code"
    result = json.loads(out)
    assert code == 0, err
    assert result["verdict"] == "reproducible"
    assert "can make the process load or run other code" in result["env_skipped"]["PYTHONPATH"]
    assert "environment skipped: PYTHONPATH (can make the process load" in err
    assert "environment applied: OMP_NUM_THREADS=1" in err
    assert "command: " in err and f"working directory: {project.workdir}" in err
    report = report_of(project.store, result["verdict_run"])
    assert "PYTHONPATH" in report["env_skipped"]  # type: ignore[operator]


def test_without_yes_and_without_a_terminal_nothing_runs(
    hostile: tuple[Project, Path, Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, _, marker = hostile
    monkeypatch.chdir(project.workdir)
    before = len(project.store.metadata.list_runs(_all()))
    code, out, err = cli(capsys, "reproduce", "model@v1", "--run")
    assert code != 0
    last = messages(err)[-1]
    assert last.startswith("error: ") and "pass --yes" in last
    assert len(project.store.metadata.list_runs(_all())) == before  # no run recorded
    assert not marker.exists()


def _all() -> RunFilter:
    return RunFilter(limit=1000)


def test_the_bundle_run_script_does_not_export_a_recorded_pythonpath(
    hostile: tuple[Project, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, folder, _ = hostile
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "reproduce", "model@v1", "-o", "bundle")
    assert code == 0, err
    script = (tmp_path / "bundle" / "run.sh").read_text()
    assert "export PYTHONPATH" not in script
    assert "# recorded PYTHONPATH not set: can make the process load or run other code" in script
    assert "export OMP_NUM_THREADS=1" in script
    producer = str(lineal.get_artifact("model@v1", store=project.store).producer_run_id)
    recorded = json.loads(tags_of(project.store, producer)["lineal.env"])["PYTHONPATH"]
    assert recorded.split(os.pathsep)[0] == str(folder)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_answering_no_at_the_terminal_runs_nothing(
    hostile: tuple[Project, Path, Path], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, _, marker = hostile
    monkeypatch.chdir(project.workdir)
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    before = len(project.store.metadata.list_runs(_all()))
    code, _, err = cli(capsys, "reproduce", "model@v1", "--run")
    assert code == 130 and "run it?" in err and "aborted" in err
    assert "environment skipped: PYTHONPATH" in err
    assert len(project.store.metadata.list_runs(_all())) == before
