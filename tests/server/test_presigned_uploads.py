"""With an S3 blob store, clients move bytes straight to and from S3 through presigned URLs
(moto server): the lineal server signs, checks and publishes, and never carries the bytes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from lineal.server.testing import ServerProcess
from lineal.store import open_store
from lineal.store.blobs.remote import FsspecBlobStore
from lineal.store.http.blobs import SESSION_THRESHOLD, HttpBlobStore
from lineal.store.http.transport import Transport

pytestmark = pytest.mark.slow


class Recorder(httpx.BaseTransport):
    """Every request the client sends to the lineal server, with its body size and answer."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seen: list[tuple[str, str, int, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        response = self.inner.handle_request(request)
        self.seen.append((request.method, request.url.path, len(body), response.status_code))
        return response

    def close(self) -> None:
        self.inner.close()


def test_bytes_go_to_s3_and_back_without_the_server(tmp_path: Path, s3_bucket: str) -> None:
    source = tmp_path / "weights.bin"
    data = os.urandom(SESSION_THRESHOLD + 1_000_000)
    source.write_bytes(data)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with ServerProcess(backend=str(tmp_path / "store"), artifacts=s3_bucket) as server:
        recorder = Recorder()
        transport = Transport(server.url, client=httpx.Client(base_url=server.url,
                                                              transport=recorder))
        blobs = HttpBlobStore(transport)
        info = blobs.put_file(source)
        assert info.created and info.digest == digest
        blobs.get_file(digest, tmp_path / "back.bin")
        transport.close()
    assert (tmp_path / "back.bin").read_bytes() == data
    direct = FsspecBlobStore(s3_bucket)
    assert direct.read_bytes(digest) == data
    # What reached the lineal server: a few small JSON requests, no bytes of the file.
    assert max(size for _, _, size, _ in recorder.seen) < 1000, recorder.seen
    assert not any(method == "PUT" for method, *_ in recorder.seen)
    assert ("GET", f"/api/v1/blobs/{digest}", 0, 307) in recorder.seen
    assert list(direct.leftovers()) == []  # the staging object was removed


def test_tampered_bytes_are_refused_and_nothing_is_published(tmp_path: Path,
                                                             s3_bucket: str) -> None:
    data = os.urandom(100_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with ServerProcess(backend=str(tmp_path / "store"), artifacts=s3_bucket) as server, \
            httpx.Client(base_url=server.url) as client:
        started = client.post("/api/v1/uploads", json={"digest": digest, "size": len(data)})
        upload = started.json()["upload"]
        tampered = data[:-1] + bytes([data[-1] ^ 1])
        # S3 itself refuses bytes whose checksum differs from the signed header; moto does
        # not check, so the server's own check at completion is what this exercises.
        httpx.put(upload["url"], content=tampered, headers=upload["headers"])
        done = client.post(f"/api/v1/uploads/{started.json()['id']}/complete")
        assert done.status_code == 400, done.text
        assert done.json()["error"]["code"] == "InvalidArgument"
        assert not open_store(server.url).blobs.exists(digest)
    assert list(FsspecBlobStore(s3_bucket).leftovers()) == []


def test_presigned_urls_can_be_turned_off(tmp_path: Path, s3_bucket: str) -> None:
    source = tmp_path / "weights.bin"
    data = os.urandom(SESSION_THRESHOLD + 10)
    source.write_bytes(data)
    with ServerProcess(backend=str(tmp_path / "store"), artifacts=s3_bucket,
                       env={"LINEAL_PRESIGNED_URLS": "0"}) as server:
        recorder = Recorder()
        transport = Transport(server.url, client=httpx.Client(base_url=server.url,
                                                              transport=recorder))
        blobs = HttpBlobStore(transport)
        info = blobs.put_file(source)
        blobs.get_file(info.digest, tmp_path / "back.bin")
        transport.close()
    assert (tmp_path / "back.bin").read_bytes() == data
    assert any(method == "PUT" and size == len(data) for method, _, size, _ in recorder.seen)
    assert not any(status == 307 for *_, status in recorder.seen)
    assert FsspecBlobStore(s3_bucket).read_bytes(info.digest) == data
    assert list(FsspecBlobStore(s3_bucket).leftovers()) == []
