"""A part of the code or environment that was not captured is unknown, never a difference: every
answer says "not captured (reason)" instead of inventing a change or leaving the run out.

Runs of one step ``train``, recorded through ``lineal.run`` in a real git repository:

    A  C=0.5, captured in full                           -> m@v1
    B  C=0.1, git and package scan over a 0.3 s bound    -> m@v2
    G  C=0.1, captured in full
    F  C=0.1, git exits 128; the run fails
    N  outside any checkout (a captured fact: "not a git checkout")
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import lineal
from lineal.capture import _packages
from lineal.store import Store

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="uses shell scripts as git"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]

REAL_GIT = shutil.which("git") or "git"
TIMED_OUT = "timed out after 0.3s"
GIT_FAILED = "git rev-parse failed: fatal: detected dubious ownership in repository"


@dataclass
class Recorded:
    store: Store
    argv: list[str]
    runs: dict[str, str]

    def cli(self, *args: str) -> str:
        from lineal.cli import main

        runner = CliRunner()
        with runner.isolation() as (out, err, _):
            try:
                main([*self.argv, *args])
                code = 0
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            assert code == 0, (args, err.getvalue().decode())
            return str(out.getvalue().decode())

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json"))


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run([REAL_GIT, *args], cwd=repo, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def _fake_git(bin_dir: Path, body: str) -> str:
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "git").write_text(f"#!/bin/sh\n{body}\n")
    (bin_dir / "git").chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def _train(store: Store, workdir: Path, c: float, *, fail: bool = False) -> tuple[str, str | None]:
    model = None
    try:
        with lineal.run("train", kind="train", params={"C": c}, store=store) as run:
            run.log_metric("accuracy", 0.9 if c > 0.2 else 0.8)
            if fail:
                raise ValueError("diverged")
            path = workdir / f"model-{c}.json"
            path.write_text(json.dumps({"C": c}))
            model = run.log_artifact(path, name="m", kind="model").ref
    except ValueError:
        pass
    return run.id, model


@pytest.fixture
def recorded(backend_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Recorded:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("print('train')\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    monkeypatch.chdir(repo)
    runs: dict[str, str] = {}
    real_path = os.environ["PATH"]

    runs["A"], runs["m@v1"] = _train(backend_store, tmp_path, 0.5)  # type: ignore[assignment]

    # B: git and the package scan both take longer than the bound.
    monkeypatch.setenv("LINEAL_CAPTURE_TIMEOUT", "0.3")
    monkeypatch.setenv("PATH", _fake_git(tmp_path / "slow", f'sleep 3\nexec "{REAL_GIT}" "$@"'))
    real_scan = _packages._scan

    def slow_scan() -> _packages.InstalledPackages:
        time.sleep(3)
        return real_scan()

    monkeypatch.setattr(_packages, "_scan", slow_scan)
    _packages.clear_package_cache()
    runs["B"], runs["m@v2"] = _train(backend_store, tmp_path, 0.1)  # type: ignore[assignment]
    monkeypatch.setattr(_packages, "_scan", real_scan)
    _packages.clear_package_cache()
    monkeypatch.delenv("LINEAL_CAPTURE_TIMEOUT")
    monkeypatch.setenv("PATH", real_path)

    runs["G"], _ = _train(backend_store, tmp_path, 0.1)

    monkeypatch.setenv("PATH", _fake_git(
        tmp_path / "failing", 'echo "fatal: detected dubious ownership in repository" >&2\nexit 128'))
    runs["F"], _ = _train(backend_store, tmp_path, 0.1, fail=True)
    monkeypatch.setenv("PATH", real_path)

    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with lineal.run("elsewhere", store=backend_store) as run:
        runs["N"] = run.id

    argv = ["--uri", backend_store.location, "--artifacts", str(tmp_path / "blobs")]
    return Recorded(backend_store, argv, runs)


def test_not_captured_is_unknown_in_every_answer(recorded: Recorded) -> None:
    runs = recorded.runs
    assert runs["m@v1"] == "default/m@v1" and runs["m@v2"] == "default/m@v2"

    # diff: the first divergence is the param, not "commit -> None"; what was not captured is
    # listed as unknown.
    d = recorded.json("diff", "m@v1", "m@v2")
    assert d["first_divergence"]["reasons"] == ["param C: 0.5 -> 0.1"]
    assert d["code"] == {} and d["environment"] == {}
    assert d["not_captured"]["train"] == {"git": [None, TIMED_OUT], "packages": [None, TIMED_OUT]}
    out = recorded.cli("diff", "m@v1", "m@v2")
    assert "first divergence: step train\n  - param C: 0.5 -> 0.1\n" in out
    assert f"not captured ({TIMED_OUT})" in out
    assert "commit" not in out

    # why-failed: against the last good run (G, captured in full), the failed run's git is
    # unknown: no code difference.
    report = recorded.json("why-failed", runs["F"])
    assert report["last_good"]["id"] == runs["G"]
    differences = report["differences"]
    assert differences["differs_in"] == []
    assert differences["code"] == {"changed": {}, "only_a": {}, "only_b": {}}
    assert differences["not_captured"] == {"git": [None, GIT_FAILED]}
    out = recorded.cli("why-failed", runs["F"])
    assert "same params, inputs, code and environment (not captured, so unknown: git)" in out
    assert re.search(r"not captured +git +captured +not captured \(git rev-parse failed", out), out

    # pipeline and env of the model whose run timed out.
    pipe = recorded.json("pipeline", "m@v2")
    assert pipe["not_captured"] == {"git": TIMED_OUT}
    assert pipe["steps"][0]["commit_not_captured"] == TIMED_OUT
    assert f"commit:      not captured ({TIMED_OUT})" in recorded.cli("pipeline", "m@v2")
    env = recorded.json("env", "m@v2")
    assert env["package_count"] is None and env["packages"] == {}
    assert env["not_captured"] == {"packages": TIMED_OUT}
    assert env["python"]["version"]
    assert f"packages: not captured ({TIMED_OUT})" in recorded.cli("env", "m@v2")

    # runs-using: B is neither counted nor silently left out.
    using = recorded.json("runs-using", "pytest")
    assert runs["B"] not in {r["run_id"] for r in using["runs"]}
    assert {runs["A"], runs["G"], runs["F"]} <= {r["run_id"] for r in using["runs"]}
    assert using["not_captured_total"] == 1
    assert using["not_captured"][0]["run_id"] == runs["B"]
    assert using["not_captured"][0]["reason"] == TIMED_OUT
    out = recorded.cli("runs-using", "pytest")
    assert "1 run(s) whose packages were not captured" in out
    assert any(len(t) >= 8 and runs["B"].startswith(t) for t in out.split())  # a short id

    # runs show: "not captured (reason)" is not "not a git checkout", which N really was.
    out = recorded.cli("runs", "show", runs["B"])
    assert f"git:         not captured ({TIMED_OUT})" in out
    assert f"packages:    not captured ({TIMED_OUT})" in out
    shown = recorded.json("runs", "show", runs["B"])
    assert shown["code"]["not_captured"] == {"git": TIMED_OUT}
    assert shown["environment"]["packages"] is None
    assert "not a git checkout" in recorded.cli("runs", "show", runs["N"])
    assert "git:         not captured" not in recorded.cli("runs", "show", runs["N"])
    assert f"not captured ({GIT_FAILED})" in recorded.cli("runs", "show", runs["F"])

    # registry compare: B's packages are unknown, not all removed.
    compared = recorded.json("registry", "compare", "m@v1", "m@v2")
    assert compared["packages"]["only_a"] == {} and compared["packages"]["changed"] == {}
    assert compared["b"]["not_captured"] == {"git": TIMED_OUT, "packages": TIMED_OUT}
    assert compared["a"]["not_captured"] == {}
    assert compared["same_code"] is None
    assert f"not captured ({TIMED_OUT})" in recorded.cli("registry", "compare", "m@v1", "m@v2")

    # deploy recover: the training environment's packages are unknown, not "2 packages".
    from lineal import deployments, registry

    registry.register_model("mm", "m@v2", store=recorded.store)
    deployments.record_deployment("mm@v1", name="api", environment="prod", capture=False,
                                  store=recorded.store)
    out = recorded.cli("deploy", "recover", "api", "--env", "prod")
    assert f"packages not captured ({TIMED_OUT})" in out
    assert f"code  not captured ({TIMED_OUT})" in out


def test_reproduce_says_the_code_cannot_be_checked_out(recorded: Recorded, tmp_path: Path) -> None:
    from lineal import reproduce
    from lineal.reproduce import _plan

    plan = reproduce.plan("m@v2", store=recorded.store)
    assert plan.git_not_captured == TIMED_OUT
    assert any(f"the git state was not captured ({TIMED_OUT})" in w for w in plan.warnings)
    assert plan.packages == {}
    written = {p.name: p for p in reproduce.write_bundle(plan, tmp_path / "bundle")}
    checkout = written["checkout.sh"].read_text()
    assert f"the git commit was not captured ({TIMED_OUT})" in checkout
    assert "git clone" not in checkout
    done = subprocess.run(["sh", str(written["checkout.sh"]), str(tmp_path / "src")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "not captured" in done.stderr
    requirements = written["requirements.txt"].read_text()
    assert f"# The installed packages were not captured ({TIMED_OUT})." in requirements
    assert "captured==" not in requirements
    readme = written["README.md"].read_text()
    assert f"| Code | not captured ({TIMED_OUT})" in readme
    assert "not in a git repository" not in readme

    # The run captured in full still gets a checkout that clones the commit.
    good = reproduce.plan("m@v1", store=recorded.store)
    assert good.git_not_captured is None
    assert "git clone" in _plan.render_checkout(good)
