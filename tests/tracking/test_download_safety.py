"""Content leaves the store checked and never as a writable path into it: ``download_artifact``
and ``artifact_path`` verify digests, hand out copies, and never write through symlinks or
outside their destination."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import lineal
from lineal.content import MANIFEST_FORMAT
from lineal.entities import ArtifactVersion, Storage
from lineal.errors import IntegrityError, InvalidArgument
from lineal.store import Store
from lineal.store.base import NewArtifactVersion


def blob_file(store: Store, digest: str) -> Path:
    return Path(store.blobs.uri(digest).removeprefix("file://"))


def corrupt(store: Store, digest: str) -> None:
    path = blob_file(store, digest)
    os.chmod(path, 0o644)
    path.write_bytes(b"not what was stored")


@pytest.fixture
def model(store: Store, tmp_path: Path) -> ArtifactVersion:
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights" * 100)
    with lineal.run("train", capture=False, store=store) as run:
        return run.log_artifact(source, name="model", kind="model")


@pytest.fixture
def folder(store: Store, tmp_path: Path) -> ArtifactVersion:
    source = tmp_path / "features"
    (source / "sub").mkdir(parents=True)
    (source / "file.txt").write_text("features")
    (source / "sub" / "deep.txt").write_text("deep")
    with lineal.run("prep", capture=False, store=store) as run:
        return run.log_artifact(source, name="features", kind="dataset")


def test_download_refuses_corrupt_bytes_naming_the_version_and_both_digests(
    store: Store, model: ArtifactVersion, tmp_path: Path
) -> None:
    corrupt(store, model.digest)
    dest = tmp_path / "out" / "model.bin"
    with pytest.raises(IntegrityError) as caught:
        lineal.download_artifact("model@v1", dest)
    message = str(caught.value)
    assert "model@v1" in message and model.digest in message and "got sha256:" in message
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir()] == []  # no staging left behind


def test_artifact_path_refuses_corrupt_bytes(store: Store, model: ArtifactVersion) -> None:
    corrupt(store, model.digest)
    with pytest.raises(IntegrityError, match="model@v1.*corrupt"):
        lineal.artifact_path("model@v1")


def test_artifact_path_is_a_read_only_copy_that_writing_cannot_turn_into_stored_content(
    store: Store, model: ArtifactVersion
) -> None:
    path = lineal.artifact_path("model@v1")
    assert path.resolve() != blob_file(store, model.digest).resolve()
    assert path.read_bytes() == b"weights" * 100
    assert path.stat().st_mode & 0o222 == 0
    os.chmod(path, 0o644)  # as root, or a determined user: write anyway
    path.write_bytes(b"tampered")
    assert blob_file(store, model.digest).read_bytes() == b"weights" * 100
    again = lineal.artifact_path("model@v1")
    assert again.read_bytes() == b"weights" * 100  # the modified copy was replaced


def test_a_modified_cached_folder_is_fetched_afresh(
    store: Store, folder: ArtifactVersion
) -> None:
    path = lineal.artifact_path("features@v1")
    os.chmod(path / "file.txt", 0o644)
    (path / "file.txt").write_text("changed")
    (path / "extra.txt").write_text("added")
    again = lineal.artifact_path("features@v1")
    assert sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file()) == [
        "file.txt", "sub/deep.txt"]
    assert (again / "file.txt").read_text() == "features"


def test_download_replaces_a_symlink_in_the_target_folder_instead_of_writing_through_it(
    store: Store, folder: ArtifactVersion, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not yours")
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    (target / "file.txt").symlink_to(elsewhere)
    (target / "sub").symlink_to(outside, target_is_directory=True)
    (target / "mine.txt").write_text("kept")
    lineal.download_artifact("features@v1", target)
    assert elsewhere.read_text() == "not yours"
    assert list(outside.iterdir()) == []
    assert not (target / "file.txt").is_symlink() and (target / "file.txt").read_text() == "features"
    assert not (target / "sub").is_symlink()
    assert (target / "sub" / "deep.txt").read_text() == "deep"
    assert (target / "mine.txt").read_text() == "kept"


def test_download_of_a_file_replaces_a_symlink_at_the_destination(
    store: Store, model: ArtifactVersion, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_bytes(b"not yours")
    dest = tmp_path / "dl" / "model.bin"
    dest.parent.mkdir()
    dest.symlink_to(elsewhere)
    assert lineal.download_artifact("model@v1", dest) == dest
    assert elsewhere.read_bytes() == b"not yours"
    assert not dest.is_symlink() and dest.read_bytes() == b"weights" * 100


def forged(store: Store, model: ArtifactVersion, member: str) -> ArtifactVersion:
    """A directory version whose manifest (with a valid digest) names ``member``."""
    body = {"format": MANIFEST_FORMAT,
            "files": [{"path": member, "digest": model.digest, "size": model.size}]}
    blob = store.blobs.put_bytes(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    version, _ = store.metadata.create_artifact_version(NewArtifactVersion(
        project="default", name="evil", kind="model", digest=blob.digest, uri=blob.uri,
        size=model.size, storage=Storage.STORED, is_directory=True, metadata={"files": 1},
    ), "attacker")
    return version


@pytest.mark.parametrize("member", ["../escaped.bin", "sub/../../escaped.bin", "/tmp/escaped.bin"])
@pytest.mark.parametrize("existing", [False, True])
def test_a_manifest_path_outside_the_target_is_refused_and_nothing_is_written(
    store: Store, model: ArtifactVersion, tmp_path: Path, member: str, existing: bool
) -> None:
    evil = forged(store, model, member)
    dest = tmp_path / "out" / "inside"
    if existing:
        dest.mkdir(parents=True)
    with pytest.raises(InvalidArgument, match="directory artifact"):
        lineal.download_artifact(evil.ref, dest)
    with pytest.raises(InvalidArgument, match="directory artifact"):
        lineal.artifact_path(evil.ref)
    assert not (tmp_path / "out" / "escaped.bin").exists()
    assert not Path("/tmp/escaped.bin").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == (["inside"] if existing else [])
    if existing:
        assert list(dest.iterdir()) == []


def test_an_s3_store_hands_out_checked_copies_and_refuses_corrupt_objects(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from lineal.store import open_store

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    store = open_store(tmp_path / "meta", s3_bucket)
    source = tmp_path / "model.bin"
    source.write_bytes(b"remote weights")
    with lineal.run("train", capture=False, store=store) as run:
        version = run.log_artifact(source, name="model", kind="model")
    path = lineal.artifact_path("model@v1", store=store)
    assert path.is_relative_to(tmp_path / "cache") and path.read_bytes() == b"remote weights"
    bucket, _, key = version.uri.removeprefix("s3://").partition("/")
    boto3.client("s3", endpoint_url=os.environ["LINEAL_S3_ENDPOINT_URL"]).put_object(
        Bucket=bucket, Key=key, Body=b"swapped on the server")
    with pytest.raises(IntegrityError, match="model@v1"):
        lineal.download_artifact("model@v1", tmp_path / "out.bin", store=store)
    assert not (tmp_path / "out.bin").exists()
    store.close()
