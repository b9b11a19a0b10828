"""A real HTTP receiver on loopback (``http.server`` in a thread) that can be taken down and
brought back on the same port, answer with a chosen status, or hold a request open; and a
pipeline that produces a registered model through the real SDK."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import lineal
from lineal.entities import ModelVersion
from lineal.store import Store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """Records every POST; ``status`` is what it answers; ``hold`` (an Event) keeps each
    request open until set."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.status = 204
        self.hold: threading.Event | None = None
        self.arrived = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/lineal"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.received.append(Received(dict(self.headers.items()), body))
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.event for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    if found.hold is not None:
        found.hold.set()
    found.stop()


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Poll ``condition`` until true; fail after ``seconds`` (a bound, not a measurement)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


Register = Callable[..., ModelVersion]


@pytest.fixture
def register(tmp_path: Path) -> Register:
    """``register(store, content, name="churn")``: a training run that consumes a dataset and
    logs a model artifact, registered as the next version of model ``name``."""
    count = iter(range(1_000_000))

    def _register(store: Store, content: str, name: str = "churn") -> ModelVersion:
        folder = tmp_path / f"train-{next(count)}"
        folder.mkdir()
        (folder / "train.csv").write_text("x,y\n1,0\n")
        (folder / "model.bin").write_text(content)
        with lineal.run("train", kind="train", capture=False, store=store) as run:
            run.log_artifact(folder / "train.csv", name=f"{name}-train", kind="dataset")
            model = run.log_artifact(folder / "model.bin", name=f"{name}-model", kind="model")
        return lineal.registry.register_model(name, model, store=store)

    return _register
