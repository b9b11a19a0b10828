"""The entry point as seen from real child interpreters started the ways users start them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lineal.capture
from lineal.capture import capture

SRC = str(Path(lineal.capture.__file__).resolve().parents[2])
PRINT_ENTRY_POINT = (
    "import json\n"
    "from lineal.capture import capture\n"
    "print(json.dumps(capture(timeout=10, include_packages=False).code['entry_point']))\n"
)


def run_python(args: list[str], cwd: Path, stdin: str | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": SRC}
    result = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def sha256_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "scripts" / "train.py").write_text(PRINT_ENTRY_POINT)
    (root / "pkg" / "train.py").write_text(PRINT_ENTRY_POINT)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    return root


def test_script_path_is_relative_to_repository_root(repo: Path) -> None:
    script = repo / "scripts" / "train.py"
    entry = run_python(["scripts/train.py"], cwd=repo)
    assert entry == {"kind": "script", "path": "scripts/train.py", "sha256": sha256_of(script)}


def test_script_run_from_a_subdirectory_is_still_relative_to_root(repo: Path) -> None:
    entry = run_python(["train.py"], cwd=repo / "scripts")
    assert entry["path"] == "scripts/train.py"


def test_module_entry_point(repo: Path) -> None:
    entry = run_python(["-m", "pkg.train"], cwd=repo)
    assert entry == {
        "kind": "module",
        "module": "pkg.train",
        "path": "pkg/train.py",
        "sha256": sha256_of(repo / "pkg" / "train.py"),
    }


def test_script_outside_any_repository_keeps_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    script = outside / "job.py"
    script.write_text(PRINT_ENTRY_POINT)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    entry = run_python([str(script)], cwd=outside)
    assert entry["path"] == os.path.realpath(script)
    assert entry["sha256"] == sha256_of(script)


def test_python_dash_c_is_a_command(tmp_path: Path) -> None:
    assert run_python(["-c", PRINT_ENTRY_POINT], cwd=tmp_path) == {"kind": "command"}


def test_python_reading_stdin(tmp_path: Path) -> None:
    assert run_python(["-"], cwd=tmp_path, stdin=PRINT_ENTRY_POINT) == {"kind": "stdin"}


def test_under_pytest_the_entry_point_says_so() -> None:
    assert capture(timeout=10, include_packages=False).code["entry_point"] == {"kind": "pytest"}
