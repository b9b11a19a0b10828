"""``lineal server`` runs uvicorn on uvloop and httptools when they are installed (the
``server`` extra brings both), and says so; without them it says what it runs instead."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

from lineal.server import run


def test_the_speedups_are_found_without_importing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[str] = []

    def find_spec(name: str) -> object:
        looked.append(name)
        return object()

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    loop, http = run.server_speedups()
    assert http == "httptools"
    assert loop == ("uvloop" if sys.platform != "win32"
                    and sys.implementation.name == "cpython" else "asyncio")
    assert set(looked) == {"uvloop", "httptools"} or looked == ["httptools"]


def test_without_them_uvicorns_own_loop_and_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert run.server_speedups() == ("asyncio", "h11")


def test_the_server_extra_brings_them() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    extra = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["server"]
    names = {requirement.split(">")[0].split(";")[0].strip() for requirement in extra}
    assert {"uvloop", "httptools", "uvicorn"} <= names



def test_a_worker_keeps_freed_memory_where_glibc_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker process asks glibc to keep freed memory (a request body's pieces would
    otherwise be copied into freshly faulted pages); elsewhere it says it could not."""
    import gc
    import platform

    applied: list[bool] = []
    real = run.keep_freed_memory
    monkeypatch.setattr(run, "keep_freed_memory", lambda: applied.append(real()) or True)
    monkeypatch.setattr(gc, "freeze", lambda: None)  # this test process lives on
    monkeypatch.delenv(run.ENV_SETTINGS, raising=False)
    run.app_from_environment()  # builds the app; the store opens only at start-up
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert applied == [on_glibc]
