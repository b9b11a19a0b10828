"""Capture inside ``lineal.run``: started in the background at run start, joined before the run's
final status, so a slow git or a slow package scan costs nothing and loses nothing; a probe that
truly fails is recorded as not captured, with its reason.

The slow git is a real ``git`` behind a wrapper script on PATH that sleeps first; the slow package
scan is the real scan, made to sleep first. Under the old fixed 150 ms deadline both were dropped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lineal
from lineal.capture import _packages, not_captured_reason
from lineal.store import Store
from lineal.store.base import RunFilter

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="uses shell scripts as git"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]

REAL_GIT = shutil.which("git") or "git"
# Far longer than the old 150 ms deadline, far shorter than the default 30 s bound.
SLOW_S = 1.0


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run([REAL_GIT, *args], cwd=repo, env=env, capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed repository, the current directory of the test."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("print('train')\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    monkeypatch.chdir(root)
    return root


def fake_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """Put a ``git`` running ``body`` first on PATH."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "git"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def slow_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds: float = SLOW_S) -> None:
    fake_git(tmp_path, monkeypatch, f'sleep {seconds}\nexec "{REAL_GIT}" "$@"')


@pytest.fixture
def fresh_package_scan() -> Iterator[None]:
    """Each test scans the packages itself (the scan is cached per process)."""
    _packages.clear_package_cache()
    yield
    _packages.clear_package_cache()


def slow_package_scan(monkeypatch: pytest.MonkeyPatch, seconds: float = SLOW_S) -> None:
    real_scan = _packages._scan

    def slow() -> _packages.InstalledPackages:
        time.sleep(seconds)
        return real_scan()

    monkeypatch.setattr(_packages, "_scan", slow)


def captured_inputs(store: Store, run_id: str) -> dict[str, dict]:
    """The run's code and environment artifacts' content, by role."""
    found = {}
    for edge in store.metadata.list_edges(run_id=run_id):
        if edge.role in ("code", "environment"):
            found[edge.role] = store.metadata.get_artifact_version(edge.artifact_id).metadata
    return found


@pytest.mark.usefixtures("fresh_package_scan")
def test_slow_git_and_slow_package_scan_lose_nothing(
    backend_store: Store, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = git(repo, "rev-parse", "HEAD")
    slow_git(tmp_path, monkeypatch)
    slow_package_scan(monkeypatch)
    with lineal.run("train", params={"C": 0.5}, store=backend_store) as run:
        pass
    tags = backend_store.metadata.get_run(run.id).tags
    assert "lineal.capture.errors" not in tags, tags["lineal.capture.errors"]
    assert tags["lineal.git.commit"] == head
    captured = captured_inputs(backend_store, run.id)
    assert captured["code"]["git"]["commit"] == head
    assert captured["code"]["git"]["dirty"] is False
    packages = captured["environment"]["packages"]
    assert not_captured_reason(packages) is None
    assert packages["pytest"] == _packages._scan().versions["pytest"]
    assert str(backend_store.metadata.get_run(run.id).status) == "finished"


def test_run_start_does_not_wait_for_capture(
    store: Store, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_git(tmp_path, monkeypatch, seconds=3 * SLOW_S)
    started = time.monotonic()
    with lineal.run("train", store=store) as run:
        entered = time.monotonic() - started
        # Git is still asleep: had the start waited for it, capture would be recorded by now.
        roles = {e.role for e in store.metadata.list_edges(run_id=run.id)}
        assert "code" not in roles
    print(f"run start took {entered * 1000:.0f} ms while git took {3 * SLOW_S:.0f} s")
    assert entered < 3 * SLOW_S
    assert captured_inputs(store, run.id)["code"]["git"]["commit"] == git(repo, "rev-parse", "HEAD")


def test_a_long_run_records_capture_at_a_flush_before_it_ends(store: Store, repo: Path) -> None:
    with lineal.run("train", store=store) as run:
        limit = time.monotonic() + 30
        while "code" not in captured_inputs(store, run.id) and time.monotonic() < limit:
            time.sleep(0.05)
            run.flush()
        # Recorded while the run is still running: a run killed later keeps its code.
        assert store.metadata.get_run(run.id).status.value == "running"
        assert captured_inputs(store, run.id)["code"]["git"]["commit"]
    inputs = [e.role for e in store.metadata.list_edges(run_id=run.id)]
    assert inputs.count("code") == 1 and inputs.count("environment") == 1


@pytest.mark.usefixtures("fresh_package_scan")
def test_a_probe_over_the_bound_is_recorded_as_not_captured(
    store: Store, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEAL_CAPTURE_TIMEOUT", "0.3")
    slow_git(tmp_path, monkeypatch, seconds=5)
    slow_package_scan(monkeypatch, seconds=5)
    started = time.monotonic()
    with lineal.run("train", store=store) as run:
        pass
    # The bound holds whatever the probes do (generously: the machine may be loaded).
    assert time.monotonic() - started < 5
    captured = captured_inputs(store, run.id)
    assert captured["code"]["git"] == {"captured": False, "reason": "timed out after 0.3s"} or (
        captured["code"]["git"] == {"captured": False,
                                    "reason": "git rev-parse timed out after 0.3s"})
    assert not_captured_reason(captured["environment"]["packages"]) == "timed out after 0.3s"
    # What did answer is there.
    assert captured["code"]["entry_point"]["kind"] == "pytest"
    assert captured["environment"]["python"]["version"]
    tags = store.metadata.get_run(run.id).tags
    assert "lineal.git.commit" not in tags
    assert "git: " in tags["lineal.capture.errors"] and "packages: " in tags["lineal.capture.errors"]


def test_a_failing_git_is_not_captured_and_not_a_checkout_is_a_fact(
    store: Store, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_path = os.environ["PATH"]
    fake_git(tmp_path, monkeypatch, 'echo "fatal: detected dubious ownership in repository" >&2\n'
                                    "exit 128")
    with lineal.run("broken-git", store=store) as run:
        pass
    git_field = captured_inputs(store, run.id)["code"]["git"]
    assert git_field == {"captured": False,
                         "reason": "git rev-parse failed: fatal: detected dubious ownership "
                                   "in repository"}

    monkeypatch.setenv("PATH", real_path)  # the real git again, outside any repository
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with lineal.run("no-checkout", store=store) as run:
        pass
    assert captured_inputs(store, run.id)["code"]["git"] is None
    assert "lineal.capture.errors" not in store.metadata.get_run(run.id).tags


def test_a_missing_git_is_not_captured(
    store: Store, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with lineal.run("no-git", store=store) as run:
        pass
    assert captured_inputs(store, run.id)["code"]["git"] == {
        "captured": False, "reason": "git executable not found"}


def test_capture_false_records_nothing_and_waits_for_nothing(
    store: Store, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_git(tmp_path, monkeypatch, seconds=5)
    started = time.monotonic()
    with lineal.run("quick", capture=False, store=store) as run:
        pass
    assert time.monotonic() - started < 5
    assert captured_inputs(store, run.id) == {}
    assert not any(k.startswith("lineal.git") for k in store.metadata.get_run(run.id).tags)


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_malformed_capture_timeout_is_refused_before_the_run_starts(
    store: Store, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LINEAL_CAPTURE_TIMEOUT", value)
    with pytest.raises(lineal.InvalidArgument, match="LINEAL_CAPTURE_TIMEOUT"), \
            lineal.run("train", store=store):
        pass
    assert store.metadata.list_runs(RunFilter()) == []
    # Without capture, the variable does not matter.
    with lineal.run("train", store=store, capture=False):
        pass


def test_tags_the_run_set_are_kept_when_capture_is_recorded(store: Store, repo: Path) -> None:
    with lineal.run("train", store=store, tags={"lineal.hostname": "pod-7"}) as run:
        run.set_tags({"lineal.user": "alice"})
    tags = store.metadata.get_run(run.id).tags
    assert tags["lineal.user"] == "alice"
    assert tags["lineal.hostname"] == "pod-7"
    assert tags["lineal.git.commit"]


def test_the_working_directory_is_the_one_the_run_started_in(
    store: Store, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_git(tmp_path, monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with lineal.run("train", store=store) as run:
        os.chdir(elsewhere)  # before git has answered, and before the run ends
    tags = store.metadata.get_run(run.id).tags
    assert tags["lineal.git.root"] == os.path.realpath(repo)
    assert tags["lineal.cwd"] == "."


@pytest.mark.usefixtures("fresh_package_scan")
def test_facts_that_cannot_change_are_probed_once_and_git_every_run(
    store: Store, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lineal.capture import _hardware, _system

    calls: list[str] = []

    def counted(name: str, probe: object) -> object:
        def wrapper(*args: object) -> object:
            calls.append(name)
            return probe(*args)  # type: ignore[operator]

        return wrapper

    monkeypatch.setattr(_system, "probe_os", counted("os", _system.probe_os))
    monkeypatch.setattr(_system, "probe_python", counted("python", _system.probe_python))
    monkeypatch.setattr(_hardware, "probe_hardware", counted("hardware", _hardware.probe_hardware))
    monkeypatch.setattr(_packages, "_scan", counted("packages", _packages._scan))
    first_head = git(repo, "rev-parse", "HEAD")
    with lineal.run("first", store=store) as first:
        pass
    (repo / "train.py").write_text("print('train harder')\n")
    git(repo, "commit", "-q", "-am", "second")
    with lineal.run("second", store=store) as second:
        pass
    assert sorted(calls) == ["hardware", "os", "packages", "python"]
    # The git state is probed again for each run: the new commit is seen.
    assert captured_inputs(store, first.id)["code"]["git"]["commit"] == first_head
    assert captured_inputs(store, second.id)["code"]["git"]["commit"] == git(repo, "rev-parse",
                                                                             "HEAD") != first_head


def test_a_killed_run_ends_without_waiting_and_says_capture_was_unfinished(
    store: Store, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_git(tmp_path, monkeypatch, seconds=5)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), lineal.run("train", store=store) as run:
        raise KeyboardInterrupt
    # Not the 5 s git takes, nor the 30 s bound: a pod's grace period is short.
    assert time.monotonic() - started < 5
    recorded = store.metadata.get_run(run.id)
    assert recorded.status.value == "killed"
    git_field = captured_inputs(store, run.id)["code"]["git"]
    assert not_captured_reason(git_field) == "the run was killed before capture finished"
