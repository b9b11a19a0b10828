"""A failing or hanging probe costs its own field, never the capture or the deadline."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lineal.capture import (
    _hardware,
    _packages,
    _system,
    capture,
    not_captured,
    not_captured_reason,
)

# A hung probe is released at teardown; this only bounds a test gone wrong.
HANG_LIMIT_S = 30.0


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event that hanging probes wait on; set at teardown so no thread outlives the test."""
    event = threading.Event()
    yield event
    event.set()


def test_raising_probe_is_recorded_and_the_rest_is_filled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> dict:
        raise RuntimeError("no passwd database")

    monkeypatch.setattr(_system, "probe_host", broken)
    captured = capture(timeout=10, include_packages=False)
    assert captured.probe_errors["host"] == "RuntimeError: no passwd database"
    assert captured.environment["host"] == not_captured("RuntimeError: no passwd database")
    assert captured.environment["python"]["version"]
    assert captured.environment["hardware"]["cpu_count"] == os.cpu_count()
    assert captured.code["entry_point"] == {"kind": "pytest"}


def test_hanging_probe_times_out_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    def hanging() -> dict:
        release.wait(HANG_LIMIT_S)
        return {"cpu_count": -1}

    monkeypatch.setattr(_hardware, "probe_hardware", hanging)
    captured = capture(timeout=0.5, include_packages=False)
    print(f"capture with a hung probe returned after {captured.duration_s:.3f} s")
    # Not a performance check: the hung probe would hold capture for HANG_LIMIT_S.
    assert captured.duration_s < HANG_LIMIT_S / 3
    assert captured.probe_errors["hardware"] == "timed out after 0.5s"
    assert captured.environment["hardware"] == {
        **not_captured("timed out after 0.5s"),
        "gpus": captured.environment["hardware"]["gpus"],
    }
    assert captured.environment["python"] is not None


def test_hanging_package_scan_times_out(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    def hanging() -> object:
        release.wait(HANG_LIMIT_S)
        raise RuntimeError("released")

    monkeypatch.setattr(_packages, "probe_packages", hanging)
    captured = capture(timeout=0.5)
    assert captured.probe_errors["packages"] == "timed out after 0.5s"
    assert not_captured_reason(captured.environment["packages"]) == "timed out after 0.5s"
    assert captured.environment_digest().startswith("sha256:")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as git")
def test_hanging_git_is_killed_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pid_file = tmp_path / "pids"
    fake_git = bin_dir / "git"
    fake_git.write_text(f'#!/bin/sh\necho $$ >> "{pid_file}"\nexec sleep 60\n')
    fake_git.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    captured = capture(cwd=tmp_path, timeout=0.5, include_packages=False)
    # Whichever notices first, the probe's own wait or the capture's deadline, names the bound.
    assert captured.probe_errors["git"].endswith("timed out after 0.5s")
    assert not_captured_reason(captured.code["git"]) == captured.probe_errors["git"]
    assert captured.code["entry_point"] is not None

    # Every git the probe started must be gone shortly after (killed, not left to sleep).
    limit = time.monotonic() + 5
    pids = [int(line) for line in pid_file.read_text().split()] if pid_file.exists() else []
    while any(pid_alive(pid) for pid in pids) and time.monotonic() < limit:
        time.sleep(0.05)
    assert pids, "the fake git was never started"
    assert not [pid for pid in pids if pid_alive(pid)]


def test_zero_timeout_still_returns_a_complete_shape() -> None:
    captured = capture(timeout=0.0)
    assert set(captured.code) == {"git", "entry_point"}
    assert {"python", "os", "host", "packages", "container", "conda", "hardware"} <= set(
        captured.environment
    )
    captured.environment_digest()
    captured.code_digest()


def test_a_scan_given_up_on_still_fills_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    scans = []
    real_scan = _packages._scan

    def counted_scan() -> _packages.InstalledPackages:
        scans.append(1)
        return real_scan()

    monkeypatch.setattr(_packages, "_scan", counted_scan)
    _packages.clear_package_cache()
    capture(timeout=0.0)
    # The first scan keeps running after its capture gave up on it; the second
    # capture waits for it and reuses its result rather than scanning again.
    second = capture(timeout=10)
    third = capture(timeout=10)
    assert second.environment["packages"]
    assert third.environment["packages"] == second.environment["packages"]
    assert len(scans) == 1


def test_capture_does_not_raise_in_a_deleted_working_directory(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    code = (
        "import os, sys\n"
        "os.chdir(sys.argv[1]); os.rmdir(sys.argv[1])\n"
        "from lineal.capture import capture\n"
        "c = capture(timeout=10, include_packages=False)\n"
        "print(c.probe_errors.get('git', ''))\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    result = subprocess.run(
        [sys.executable, "-c", code, str(gone)],
        env={**os.environ, "PYTHONPATH": src},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.startswith("no working directory")


def test_a_background_capture_that_never_returns_is_recorded_as_not_captured(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    import lineal.capture

    def stuck(**_: object) -> None:
        release.wait(HANG_LIMIT_S)

    monkeypatch.setattr(lineal.capture, "capture", stuck)
    monkeypatch.setattr(lineal.capture, "_JOIN_GRACE_S", 0.1)
    result = lineal.capture.start_capture(timeout=0.2).result()
    assert result.code == {"git": not_captured("timed out after 0.2s"),
                           "entry_point": not_captured("timed out after 0.2s")}
    assert not_captured_reason(result.environment["packages"]) == "timed out after 0.2s"
    assert set(result.probe_errors) >= {"git", "packages", "python"}
    assert result.environment_digest().startswith("sha256:")


def test_a_background_capture_that_raises_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    import lineal.capture

    def broken(**_: object) -> None:
        raise MemoryError("no room")

    monkeypatch.setattr(lineal.capture, "capture", broken)
    result = lineal.capture.start_capture(timeout=5).result()
    assert not_captured_reason(result.code["git"]) == "MemoryError: no room"
