"""A partial write is never visible: a writer killed mid-write (folder) or an upload aborted
part-way (S3) leaves no blob with partial content, and the store keeps working."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import boto3
import pytest

from lineal.errors import IntegrityError, StoreError
from lineal.store.blobs import remote
from lineal.store.blobs.local import LocalBlobStore, hash_file
from lineal.store.blobs.remote import FsspecBlobStore

BIG = 48 * 1024 * 1024

WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from lineal.store.blobs.local import LocalBlobStore

    root, work = Path(sys.argv[1]), Path(sys.argv[2])
    store = LocalBlobStore(root)
    block = os.urandom(1024 * 1024)
    for i in range(1000):
        src = work / f"big-{i}.bin"
        with open(src, "wb") as out:  # a new large content each time: every put is a real write
            out.write(i.to_bytes(8, "big"))
            for _ in range({mib}):
                out.write(block)
        print(i, flush=True)
        store.put_file(src)
        src.unlink()
    """
)


def _partial_tempfile(tmp_dir: Path) -> Path | None:
    for part in tmp_dir.glob("*.part") if tmp_dir.is_dir() else ():
        try:
            if 0 < part.stat().st_size < BIG:
                return part
        except FileNotFoundError:
            continue
    return None


def _kill_mid_write(root: Path, work: Path, script: Path) -> bool:
    """Start a writer, SIGKILL it while a temp file holds part of a blob; True if caught so."""
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root), str(work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    caught = False
    deadline = time.monotonic() + 30
    try:
        assert proc.stdout is not None
        while proc.stdout.readline().strip() not in ("1", ""):
            pass  # let one blob complete first, so the store holds complete and partial writes
        while time.monotonic() < deadline and proc.poll() is None:
            if _partial_tempfile(root / "tmp") is not None:
                proc.send_signal(signal.SIGKILL)
                caught = True
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert caught or proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    return caught


def test_sigkill_mid_write_leaves_no_partial_blob(tmp_path: Path) -> None:
    root, work = tmp_path / "blobs", tmp_path / "work"
    work.mkdir()
    script = tmp_path / "writer.py"
    script.write_text(WRITER.replace("{mib}", str(BIG // (1024 * 1024))))
    # The kill lands wherever the writer is; try until it lands while bytes are half-written.
    assert any(_kill_mid_write(root, work, script) for _ in range(5)), "never caught mid-write"

    store = LocalBlobStore(root)
    leftovers = list((root / "tmp").iterdir())
    assert leftovers, "the killed writer's temp file stays in tmp/ (harmless, never listed)"
    assert len(list(store.iter_digests())) >= 1
    for digest in store.iter_digests():  # every visible blob is complete and correct
        assert hash_file(Path(store.uri(digest).removeprefix("file://")))[0] == digest
    assert not any(d.endswith(p.name) for p in leftovers for d in store.iter_digests())

    # The content the writer was storing when it died can be stored now, completely.
    interrupted = max(work.glob("big-*.bin"), key=lambda p: int(p.stem.split("-")[1]))
    info = store.put_file(interrupted)
    assert info.created and store.size(info.digest) == interrupted.stat().st_size
    assert info.digest in list(store.iter_digests())
    assert store.put_bytes(b"still works").created


def test_aborted_s3_upload_publishes_nothing(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that changes between hashing and upload: the multipart upload (several parts
    already sent) is aborted, no object appears under any key, no upload is left pending."""
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(11 * 1024 * 1024))
    store = FsspecBlobStore(s3_bucket, block_size=5 * 1024 * 1024)  # 5 MiB parts: 3 parts
    claimed = "sha256:" + hashlib.sha256(b"what the file held a moment ago").hexdigest()
    monkeypatch.setattr(remote, "hash_file", lambda path: (claimed, src.stat().st_size))

    with pytest.raises(IntegrityError, match="changed while it was being uploaded"):
        store.put_file(src)

    bucket = s3_bucket.removeprefix("s3://").split("/")[0]
    client = boto3.client("s3", endpoint_url=os.environ["LINEAL_S3_ENDPOINT_URL"])
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert not store.exists(claimed) and list(store.iter_digests()) == []

    monkeypatch.setattr(remote, "hash_file", hash_file)
    info = store.put_file(src)  # a multipart upload that completes is published whole
    assert info.created and store.size(info.digest) == src.stat().st_size
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_s3_upload_failing_midway_publishes_nothing(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception while streaming (here: the source becomes unreadable after the first part)
    aborts the upload instead of committing what was sent so far."""
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(11 * 1024 * 1024))
    store = FsspecBlobStore(s3_bucket, block_size=5 * 1024 * 1024)
    real_open = open
    reads = 0

    class FailingReader:
        def __init__(self, stream: object) -> None:
            self.stream = stream

        def __enter__(self) -> FailingReader:
            return self

        def __exit__(self, *exc: object) -> None:
            self.stream.close()  # type: ignore[attr-defined]

        def read(self, n: int) -> bytes:
            nonlocal reads
            reads += 1
            if reads > 2:
                raise OSError("disk went away")
            return self.stream.read(n)  # type: ignore[attr-defined, no-any-return]

    def flaky_open(path: object, mode: str = "r") -> FailingReader:
        return FailingReader(real_open(path, mode))  # type: ignore[call-overload]

    monkeypatch.setattr(remote, "open", flaky_open, raising=False)  # only the upload's reads
    with pytest.raises(StoreError, match="disk went away"):
        store.put_file(src)
    monkeypatch.delattr(remote, "open")
    bucket = s3_bucket.removeprefix("s3://").split("/")[0]
    client = boto3.client("s3", endpoint_url=os.environ["LINEAL_S3_ENDPOINT_URL"])
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
