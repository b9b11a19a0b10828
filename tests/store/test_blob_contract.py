"""The BlobStore contract, one set of tests for every implementation (folder, memory, S3)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lineal.errors import IntegrityError, InvalidArgument, NotFound
from lineal.store.base import BlobStore
from lineal.store.blobs.memory import MemoryBlobStore


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_put_file_then_read_it_back(blob_store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    info = blob_store.put_file(write(tmp_path / "in.bin", data))
    assert (info.digest, info.size, info.created) == (sha(data), len(data), True)
    assert info.uri == blob_store.uri(info.digest)
    assert blob_store.exists(info.digest)
    assert blob_store.size(info.digest) == len(data)
    with blob_store.open(info.digest) as stream:
        assert stream.read() == data
    assert blob_store.read_bytes(info.digest) == data
    dest = tmp_path / "out" / "deep" / "copy.bin"
    blob_store.get_file(info.digest, dest)
    assert dest.read_bytes() == data
    assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.bin"], "no temp file left"


def test_put_file_with_known_digest(blob_store: BlobStore, tmp_path: Path) -> None:
    data = b"known digest"
    info = blob_store.put_file(write(tmp_path / "f", data), digest=sha(data))
    assert info.digest == sha(data) and info.created


def test_put_bytes_and_empty_content(blob_store: BlobStore) -> None:
    info = blob_store.put_bytes(b"manifest")
    assert (info.digest, info.size, info.created) == (sha(b"manifest"), 8, True)
    empty = blob_store.put_bytes(b"")
    assert blob_store.size(empty.digest) == 0 and blob_store.read_bytes(empty.digest) == b""


def test_uri_names_the_layout(blob_store: BlobStore) -> None:
    digest = sha(b"layout")
    hexpart = digest.removeprefix("sha256:")
    assert blob_store.uri(digest).endswith(f"sha256/{hexpart[:2]}/{hexpart[2:]}")
    assert blob_store.uri(digest).startswith(blob_store.root_uri.rstrip("/"))


def test_identical_content_is_stored_once(blob_store: BlobStore, tmp_path: Path) -> None:
    data = b"same bytes" * 1000
    first = blob_store.put_file(write(tmp_path / "a", data))
    second = blob_store.put_file(write(tmp_path / "b", data))
    third = blob_store.put_bytes(data)
    assert first.created and not second.created and not third.created
    assert first.digest == second.digest == third.digest
    assert list(blob_store.iter_digests()) == [first.digest]


def test_iter_digests_lists_every_blob_sorted(blob_store: BlobStore) -> None:
    assert list(blob_store.iter_digests()) == []
    digests = {blob_store.put_bytes(f"blob {i}".encode()).digest for i in range(12)}
    assert list(blob_store.iter_digests()) == sorted(digests)


def test_digest_mismatch_is_refused_and_stores_nothing(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    src = write(tmp_path / "f", b"actual content")
    with pytest.raises(IntegrityError):
        blob_store.put_file(src, digest=sha(b"claimed content"))
    assert list(blob_store.iter_digests()) == []
    assert not blob_store.exists(sha(b"actual content"))


def test_missing_blob_is_not_found(blob_store: BlobStore, tmp_path: Path) -> None:
    absent = sha(b"never stored")
    assert not blob_store.exists(absent)
    with pytest.raises(NotFound):
        blob_store.open(absent)
    with pytest.raises(NotFound):
        blob_store.size(absent)
    with pytest.raises(NotFound):
        blob_store.get_file(absent, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


@pytest.mark.parametrize("digest", ["sha256:xyz", "md5:" + "0" * 32, "sha256:" + "A" * 64, ""])
def test_malformed_digest_is_invalid(blob_store: BlobStore, digest: str) -> None:
    for call in (blob_store.exists, blob_store.open, blob_store.size, blob_store.uri):
        with pytest.raises(InvalidArgument):
            call(digest)


def test_missing_source_is_invalid_and_stores_nothing(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    with pytest.raises(InvalidArgument, match="does not exist"):
        blob_store.put_file(tmp_path / "nope")
    with pytest.raises(InvalidArgument, match="not a regular file"):
        blob_store.put_file(tmp_path)
    assert list(blob_store.iter_digests()) == []


def test_get_file_replaces_an_existing_destination(blob_store: BlobStore, tmp_path: Path) -> None:
    info = blob_store.put_bytes(b"new")
    dest = write(tmp_path / "dest", b"old content, longer than the new one")
    blob_store.get_file(info.digest, dest)
    assert dest.read_bytes() == b"new"


def test_delete_modified_and_reuse(blob_store: BlobStore) -> None:
    """What ``lineal gc`` and ``lineal purge`` rely on, the same on every store."""
    import time

    info = blob_store.put_bytes(b"to be deleted")
    assert abs(blob_store.modified(info.digest) - time.time()) < 120
    assert blob_store.reuse(info.digest)
    assert blob_store.delete(info.digest)
    assert not blob_store.exists(info.digest) and info.digest not in set(blob_store.iter_digests())
    assert not blob_store.delete(info.digest), "deleting what is gone is not an error"
    assert not blob_store.reuse(info.digest)
    with pytest.raises(NotFound):
        blob_store.modified(info.digest)
    assert list(blob_store.leftovers()) == [], "a completed write leaves nothing behind"
    assert blob_store.put_bytes(b"to be deleted").created, "it can be stored again"


def test_progress_moves_with_the_bytes(blob_store: BlobStore, tmp_path: Path) -> None:
    # A file of several chunks: the callback hears of them as they move (not once at the end,
    # which left the CLI's bar for a 1 GiB file at 0 until it was done), and the calls add up
    # to the size, also when the content is already there.
    size = 9 * 1024 * 1024 + 5
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(size))
    put: list[int] = []
    info = blob_store.put_file(src, progress=put.append)
    assert sum(put) == size == info.size
    again: list[int] = []
    blob_store.put_file(src, progress=again.append)
    assert sum(again) == size
    got: list[int] = []
    blob_store.get_file(info.digest, tmp_path / "out.bin", progress=got.append)
    assert sum(got) == size and (tmp_path / "out.bin").read_bytes() == src.read_bytes()
    if not isinstance(blob_store, MemoryBlobStore):  # memory copies in one step
        assert len(put) > 1 and len(got) > 1, (put, got)
