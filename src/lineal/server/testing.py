"""Test helpers that ship with lineal: a server in this process, or in another.

    from lineal.server.testing import in_process, ServerProcess

    with in_process(open_store(tmp)) as remote:        # the HTTP store over ASGI, no socket
        remote.metadata.get_run(run_id)

    with ServerProcess(backend="postgresql://...", artifacts="/tmp/blobs") as server:
        os.environ["LINEAL_URI"] = server.url           # a real uvicorn process on loopback
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from ..errors import StoreError
from ..store import Store
from .app import create_app
from .settings import ServerSettings

__all__ = ["NOT_OVER_HTTP", "ServerProcess", "in_process", "not_over_http"]

NOT_OVER_HTTP = {
    "sql": "about the SQL implementation, not the contract",
    "server_side": "the server's own bookkeeping, which no route serves",
    "principals": "several principals in one process (over HTTP each is authenticated)",
}
"""pytest markers of tests that a store reached over HTTP cannot run, and why."""


def not_over_http(markers: Any) -> str | None:
    """Why a test with these markers (a pytest node's ``get_closest_marker``) cannot run
    against an HTTP store; None when it can."""
    find = markers.get_closest_marker
    for name, why in NOT_OVER_HTTP.items():
        if find(name) is not None:
            return why
    return None


@contextmanager
def in_process(store: Store, settings: ServerSettings | None = None) -> Iterator[Store]:
    """A :class:`~lineal.store.Store` that reaches ``store`` through the server application,
    in this process (httpx over ASGI): every call goes through routing, decoding, the role
    check and encoding, as over a socket."""
    from starlette.testclient import TestClient

    from ..store import http

    url = f"http://lineal.test:{next(_ports)}"
    app = create_app(settings or ServerSettings(webhooks=False), store=store)
    with TestClient(app, base_url=url) as client:
        http._in_process[url] = client
        remote = http.open_http_store(url)
        try:
            yield remote
        finally:
            del http._in_process[url]
            remote.metadata.close()


_ports = itertools.count(1)
"""Each in-process server gets its own URL (a port number nobody listens on)."""


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``lineal server`` in a child process on a free loopback port, until ``stop()``."""

    def __init__(self, *, backend: str, artifacts: str | None = None,
                 extra_args: Sequence[str] = (), env: dict[str, str] | None = None,
                 workers: int = 1, timeout: float = 30.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "lineal.cli", "server", "--port", str(self.port),
                "--backend", backend, "--workers", str(workers), "--log-level", "warning",
                *extra_args]
        if artifacts:
            args += ["--artifacts", artifacts]
        import tempfile

        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(args, env={**os.environ, **(env or {})},
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.output()
                self.log.close()
                raise StoreError(f"lineal server exited with {self.process.returncode}: "
                                 f"{output[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise StoreError(f"lineal server on {self.url} not ready after {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def output(self) -> str:
        """What the server printed so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
