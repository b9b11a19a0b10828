"""How ``lineal server`` hands its settings to uvicorn's worker processes.

uvicorn starts each worker from an import string, so the settings travel as JSON in
``LINEAL_SERVER_SETTINGS`` (set by ``lineal server`` itself, read here at start-up).
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import json
import os
import sys
from typing import Any

from fastapi import FastAPI

from .app import create_app
from .settings import ServerSettings

__all__ = [
    "app_from_environment",
    "keep_freed_memory",
    "log_config",
    "server_speedups",
    "settings_from_options",
]

ENV_SETTINGS = "LINEAL_SERVER_SETTINGS"


def settings_from_options(*, backend: str | None, artifacts: str | None, auth: bool,
                          webhooks: bool = True, auth_options: dict[str, Any] | None = None
                          ) -> ServerSettings:
    """The settings ``lineal server``'s options describe."""
    auth_settings = None
    if auth:
        from ..auth import AuthSettings

        auth_settings = AuthSettings.from_mapping({**(auth_options or {}), "enabled": True})
    return ServerSettings(backend=backend, artifacts=artifacts, auth=auth_settings,
                          webhooks=webhooks)


def settings_to_json(settings: ServerSettings) -> str:
    data = dataclasses.asdict(dataclasses.replace(settings, auth=None))
    if settings.auth is not None:
        data["auth"] = dataclasses.asdict(settings.auth)
    return json.dumps(data, default=str)


def settings_from_json(text: str) -> ServerSettings:
    data = json.loads(text)
    auth = data.pop("auth", None)
    if auth is not None:
        from ..auth import AuthSettings

        auth = AuthSettings.from_mapping(
            {k: v for k, v in auth.items() if v is not None})
    return ServerSettings(**data, auth=auth)


def app_from_environment() -> FastAPI:
    """uvicorn's factory: the application for the settings ``lineal server`` chose."""
    text = os.environ.get(ENV_SETTINGS)
    app = create_app(settings_from_json(text) if text else ServerSettings())
    # What exists now (the modules, the routes and their schemas, the table definitions) lives
    # as long as the worker: out of the collector's sight, a full collection, which a metric
    # batch's tens of thousands of new objects sets off, no longer walks all of it again.
    gc.collect()
    gc.freeze()
    keep_freed_memory()
    return app


TRIM_THRESHOLD = 64 * 1024 * 1024
"""Free memory glibc keeps at the top of the heap before returning it to the kernel."""
MMAP_THRESHOLD = 4 * 1024 * 1024
"""Allocations at least this large get pages of their own (mmap), returned when freed."""


def keep_freed_memory() -> bool:
    """Have glibc's allocator keep freed memory for the next allocation instead of returning
    it to the kernel at once; False where that cannot be set (not glibc).

    A request body arrives in pieces of about 250 KiB, each a new bytes object, copied once
    more by the ASGI server. With glibc's defaults the heap top is trimmed and the pages
    unmapped every few pieces, so each piece is copied into pages the kernel must fault in
    and zero again: receiving 1 GiB cost the event loop 2.4 s of CPU, 0.7 s with the memory
    kept (measured with uvicorn, httptools and a bare ASGI app). The cost: a worker holds on
    to up to :data:`TRIM_THRESHOLD` bytes it no longer uses."""
    import ctypes
    import ctypes.util

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    return bool(mallopt(m_trim_threshold, TRIM_THRESHOLD)
                and mallopt(m_mmap_threshold, MMAP_THRESHOLD))


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, plus lineal's loggers at ``level``: the request log
    (``lineal.server.access``) as one JSON object per line on stdout, everything else the
    server logs on stderr beside uvicorn's own lines. Without this the request log has no
    handler and Python drops its INFO lines."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["lineal_request"] = {"format": "%(message)s"}
    config["handlers"]["lineal_request"] = {
        "class": "logging.StreamHandler", "formatter": "lineal_request",
        "stream": "ext://sys.stdout"}
    config["loggers"]["lineal"] = {"handlers": ["default"], "level": level.upper(),
                                   "propagate": False}
    config["loggers"]["lineal.server.access"] = {
        "handlers": ["lineal_request"], "level": level.upper(), "propagate": False}
    return config


def server_speedups() -> tuple[str, str]:
    """``(event loop, HTTP parser)`` for uvicorn: ``uvloop`` and ``httptools`` when installed
    (the ``server`` extra brings both), else asyncio's own loop and the pure-Python ``h11``,
    which costs every request several times the CPU. Found without importing them, so that
    ``lineal server`` can say which it runs before uvicorn starts its workers."""
    def present(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            return False

    # uvloop has no Windows build; uvicorn's own "auto" makes the same choice.
    native_loop = sys.platform != "win32" and sys.implementation.name == "cpython"
    loop = "uvloop" if native_loop and present("uvloop") else "asyncio"
    return loop, "httptools" if present("httptools") else "h11"
