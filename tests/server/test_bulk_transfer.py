"""Large transfers: sessions started without a digest (the server publishes the bytes under
the digest it computes, the client checks it against its own), and the plain-socket path of
``HttpBlobStore`` (``sendfile`` up, ``recv_into`` down) against a real server process."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import httpx
import pytest

from lineal.errors import IntegrityError, NotFound
from lineal.server.testing import ServerProcess
from lineal.store import Store, open_store
from lineal.store.http import blobs as http_blobs
from lineal.store.http.blobs import SESSION_THRESHOLD, HttpBlobStore
from lineal.store.http.bulk import raw_for
from lineal.store.http.transport import Transport

from .conftest import digest_of


def start_unhashed(uploads_client: httpx.Client, size: int) -> str:
    answer = uploads_client.post("/api/v1/uploads", json={"size": size})
    assert answer.status_code == 201, answer.text
    assert answer.json()["digest"] is None
    return str(answer.json()["id"])


@pytest.mark.parametrize("parts", [1, 3])
def test_a_session_without_digest_is_published_under_the_computed_one(
        uploads_client: httpx.Client, local: Store, parts: int) -> None:
    data = os.urandom(300_000)
    upload = start_unhashed(uploads_client, len(data))
    assert uploads_client.get(f"/api/v1/uploads/{upload}").json()["digest"] is None
    bounds = [len(data) * i // parts for i in range(parts + 1)]
    for first, end in zip(bounds, bounds[1:], strict=False):
        answer = uploads_client.put(f"/api/v1/uploads/{upload}", content=data[first:end],
                            headers={"content-range": f"bytes {first}-{end - 1}/{len(data)}"})
        assert answer.status_code == 200, answer.text
    blob = answer.json()["blob"]
    assert blob["digest"] == digest_of(data) and blob["created"] is True
    assert local.blobs.read_bytes(digest_of(data)) == data
    assert list(local.blobs.leftovers()) == []


def test_a_session_without_digest_completes_only_with_all_its_bytes(uploads_client: httpx.Client,
                                                                     local: Store) -> None:
    upload = start_unhashed(uploads_client, 1000)
    uploads_client.put(f"/api/v1/uploads/{upload}", content=b"x" * 400,
               headers={"content-range": "bytes 0-399/1000"})
    answer = uploads_client.post(f"/api/v1/uploads/{upload}/complete")
    assert answer.status_code == 409, answer.text
    assert list(local.blobs.iter_digests()) == []


def test_the_placeholder_is_not_a_digest_a_client_may_declare(uploads_client: httpx.Client) -> None:
    answer = uploads_client.post("/api/v1/uploads", json={"digest": "sha256:" + "0" * 64, "size": 1})
    assert answer.status_code == 400, answer.text


@pytest.mark.slow
def test_large_files_go_over_a_plain_socket_both_ways(tmp_path: Path) -> None:
    backend = tmp_path / "store"
    open_store(str(backend))
    source = tmp_path / "weights.bin"
    data = os.urandom(SESSION_THRESHOLD + 1_234_567)
    source.write_bytes(data)
    with ServerProcess(backend=str(backend)) as server:
        transport = Transport(server.url)
        assert raw_for(transport) is not None
        blobs = HttpBlobStore(transport)
        sent: list[int] = []
        info = blobs.put_file(source, progress=sent.append)
        assert info.created and info.digest == digest_of(data) and info.size == len(data)
        assert sum(sent) == len(data)
        again = blobs.put_file(source)  # sent again (no hash first), nothing new published
        assert not again.created and again.digest == info.digest
        got: list[int] = []
        dest = tmp_path / "out" / "weights.bin"
        blobs.get_file(info.digest, dest, progress=got.append)
        assert dest.read_bytes() == data and sum(got) == len(data)
        assert [p.name for p in dest.parent.iterdir()] == ["weights.bin"]
        with pytest.raises(NotFound):
            blobs.get_file(digest_of(b"absent"), tmp_path / "absent.bin")
        assert not (tmp_path / "absent.bin").exists()
        assert not (tmp_path / ".absent.bin.lineal-partial").exists()
        transport.close()
    assert open_store(str(backend)).blobs.read_bytes(info.digest) == data
    assert list(open_store(str(backend)).blobs.leftovers()) == []


@pytest.mark.slow
def test_a_file_that_changes_while_it_is_sent_is_reported(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own hash of the file (read while sending) must match the digest the
    server computed of what it received."""
    backend = tmp_path / "store"
    open_store(str(backend))
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(SESSION_THRESHOLD))

    class Changed(http_blobs.FileHasher):
        def digest(self) -> tuple[str, int]:
            _, size = super().digest()
            return digest_of(b"what the file held when the hasher read it"), size

    monkeypatch.setattr(http_blobs, "FileHasher", Changed)
    with ServerProcess(backend=str(backend)) as server:
        transport = Transport(server.url)
        with pytest.raises(IntegrityError, match="changed while it was being sent"):
            HttpBlobStore(transport).put_file(source)
        transport.close()


def test_injected_clients_and_proxies_keep_the_httpx_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert raw_for(Transport("http://127.0.0.1:9", client=httpx.Client())) is None
    assert raw_for(Transport("https://example.invalid")) is None
    assert raw_for(Transport("http://127.0.0.1:9")) is not None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "")
    assert raw_for(Transport("http://10.1.2.3:9")) is None
    monkeypatch.setenv("LINEAL_HTTP_BULK", "0")
    monkeypatch.delenv("HTTP_PROXY")
    assert raw_for(Transport("http://127.0.0.1:9")) is None


class CuttingProxy:
    """A TCP proxy to a server on loopback that cuts the answer to the first blob ``GET``
    after ``cut`` bytes of its body (closing both connections), and records the ``Range``
    header of every blob ``GET`` and how many body bytes the cut answer delivered."""

    def __init__(self, port: int, cut: int) -> None:
        self.target = port
        self.cut = cut
        self.ranges: list[str | None] = []
        self.delivered = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.target)) as upstream:
            head = b""
            while b"\r\n\r\n" not in head and (data := client.recv(65536)):
                head += data
            upstream.sendall(head)
            lines = head.decode("latin-1").split("\r\n")
            cut = None
            if lines[0].startswith("GET /api/v1/blobs/sha256:"):
                headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
                self.ranges.append(headers.get("range"))
                cut = self.cut if len(self.ranges) == 1 else None
            answer = b""
            while data := upstream.recv(65536):
                answer += data
                body = answer.find(b"\r\n\r\n") + 4
                if cut is not None and body >= 4 and len(answer) - body >= cut:
                    client.sendall(answer[:body + cut])
                    self.delivered = cut
                    return  # both connections close mid-body
                if cut is None:
                    client.sendall(answer)
                    answer = b""

    def close(self) -> None:
        self.listener.close()


@pytest.mark.slow
def test_a_download_cut_mid_way_resumes_where_it_stopped(tmp_path: Path) -> None:
    """Over the plain-socket path: the client asks for the rest with a Range request from the
    exact byte where the connection broke, reports every byte once, and ends with the bytes
    of the digest."""
    backend = tmp_path / "store"
    data = os.urandom(SESSION_THRESHOLD + 1_234_567)
    digest = open_store(str(backend)).blobs.put_bytes(data).digest
    dest = tmp_path / "out" / "weights.bin"
    got: list[int] = []
    with ServerProcess(backend=str(backend)) as server:
        proxy = CuttingProxy(server.port, cut=3_000_001)
        try:
            transport = Transport(proxy.url)
            assert raw_for(transport) is not None
            HttpBlobStore(transport).get_file(digest, dest, progress=got.append)
            transport.close()
        finally:
            proxy.close()
    assert proxy.delivered == 3_000_001
    assert proxy.ranges == [None, "bytes=3000001-"]
    assert sum(got) == len(data)
    assert dest.read_bytes() == data
    assert [p.name for p in dest.parent.iterdir()] == ["weights.bin"]
