"""``lineal gc`` and what ``lineal verify`` says about leftovers: temporary files of killed
writers, unfinished S3 multipart uploads and unreferenced blobs go; nothing referenced, and
nothing young enough to belong to a writer still running, is touched."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

import lineal
from cli.conftest import cli, make_files
from lineal.errors import IntegrityError, InvalidArgument
from lineal.housekeeping import gc
from lineal.store import Store, open_store
from lineal.store.blobs.local import LocalBlobStore
from lineal.verify import verify_store

HOUR = 3600


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _blob_path(store: Store, digest: str) -> Path:
    return Path(store.blobs.uri(digest).removeprefix("file://"))


def _logged(store: Store, root: Path) -> dict[str, lineal.ArtifactVersion]:
    csv, folder = make_files(root / "files")
    with lineal.run("make", capture=False, store=store) as run:
        return {"raw": run.log_artifact(csv, name="raw", kind="dataset"),
                "features": run.log_artifact(folder, name="features", kind="dataset")}


def _crash_leftovers(store: Store) -> tuple[Path, Path, str]:
    """What killed writers leave: an old temp file, a young one (a writer still running), an
    old blob no version names."""
    blobs = store.blobs
    assert isinstance(blobs, LocalBlobStore)
    (blobs.root / "tmp").mkdir(exist_ok=True)
    stale = blobs.root / "tmp" / "blob-killed.part"
    stale.write_bytes(b"x" * 1000)
    _age(stale, 2 * HOUR)
    young = blobs.root / "tmp" / "blob-running.part"
    young.write_bytes(b"y" * 10)
    orphan = blobs.put_bytes(b"bytes of a version never recorded").digest
    _age(_blob_path(store, orphan), 2 * HOUR)
    return stale, young, orphan


def test_gc_removes_only_stray_files_and_verify_is_clean_after(store: Store, tmp_path: Path) -> None:
    versions = _logged(store, tmp_path)
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"weights")
    with lineal.run("train", capture=False, store=store) as run:
        versions["model"] = run.log_artifact(weights, name="churn-model", kind="model")
    lineal.registry.register_model("churn", "churn-model@v1", aliases=["prod"], store=store)
    stale, young, orphan = _crash_leftovers(store)
    # Old blobs that versions use: age must never make a referenced blob collectable.
    for digest in store.blobs.iter_digests():
        _age(_blob_path(store, digest), 2 * HOUR)

    before = verify_store(store)
    assert before.ok and not before.clean
    assert before.unreferenced == [orphan]
    assert sorted(x.name for x in before.leftovers) == sorted([str(young), str(stale)])

    dry = gc(dry_run=True, store=store)
    assert [x.name for x in dry.leftovers] == [str(stale)]
    assert list(dry.blobs) == [orphan]
    assert dry.young_leftovers == 1
    assert dry.bytes_freed == 1000 + len(b"bytes of a version never recorded")
    assert stale.exists() and store.blobs.exists(orphan), "a dry run removes nothing"

    done = gc(store=store)
    assert done.to_dict()["leftovers"] == dry.to_dict()["leftovers"]
    assert done.blobs == dry.blobs
    assert not stale.exists() and not store.blobs.exists(orphan)
    assert young.exists(), "a temp file younger than the threshold may be a running writer's"

    young.unlink()  # its writer finished
    after = verify_store(store)
    assert after.clean, after.to_dict()
    for version in versions.values():  # the content is still there and intact
        path = lineal.artifact_path(version.ref, store=store)
        assert lineal.verify.content_digest(path) == version.digest
    _, prod = lineal.registry.resolve_model_ref("churn@prod", store=store)
    assert prod.digest == versions["model"].digest
    assert store.blobs.exists(versions["model"].digest), "the registry's model keeps its bytes"


def test_gc_keeps_young_orphans_and_reused_blobs(store: Store) -> None:
    young = store.blobs.put_bytes(b"just written, version not recorded yet").digest
    old = store.blobs.put_bytes(b"an old orphan a writer is about to reuse").digest
    _age(_blob_path(store, old), 2 * HOUR)
    store.blobs.put_bytes(b"an old orphan a writer is about to reuse")  # the writer reuses it
    report = gc(store=store)
    assert report.blobs == {} and report.young_blobs == 2
    assert store.blobs.exists(young) and store.blobs.exists(old)
    assert set(gc(older_than="0s", store=store).blobs) == {young, old}


def test_relogging_a_known_file_refreshes_its_orphaned_blob(store: Store, tmp_path: Path) -> None:
    """The hash cache path (a file lineal has hashed before) reuses the blob without writing
    it: it must still mark the blob as in use, or gc could delete it under the new version."""
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    with lineal.run("first", capture=False, store=store) as run:
        version = run.log_artifact(data, name="data")
    _age(_blob_path(store, version.digest), 2 * HOUR)
    with lineal.run("again", capture=False, store=store) as run:
        assert run.log_artifact(data, name="copy").digest == version.digest
    assert time.time() - store.blobs.modified(version.digest) < 60


def test_gc_removes_nothing_when_a_manifest_is_unreadable(store: Store, tmp_path: Path) -> None:
    versions = _logged(store, tmp_path)
    _blob_path(store, versions["features"].digest).unlink()  # which files it uses is now unknown
    orphan = store.blobs.put_bytes(b"orphan").digest
    with pytest.raises(IntegrityError, match="nothing removed.*missing-manifest"):
        gc(older_than=timedelta(0), store=store)
    assert store.blobs.exists(orphan)


def test_unlistable_leftovers_are_said_not_hidden(store: Store) -> None:
    """An S3 user may lack the permission to list multipart uploads (moto grants everything, so
    the refusal is played by the store): verify says so and checks the rest; gc removes
    nothing rather than part of its job."""
    from dataclasses import replace

    from lineal.errors import StoreError
    from lineal.store.blobs.memory import MemoryBlobStore

    class Refusing(MemoryBlobStore):
        def leftovers(self):  # type: ignore[no-untyped-def]
            raise StoreError("cannot list unfinished uploads under s3://b/p: access denied")

    blobs = Refusing()
    orphan = blobs.put_bytes(b"orphan").digest
    refusing = replace(store, blobs=blobs)
    checked = verify_store(refusing)
    assert checked.ok and "access denied" in (checked.leftovers_unlisted or "")
    with pytest.raises(StoreError, match="nothing removed.*access denied"):
        gc(older_than="0s", store=refusing)
    assert blobs.exists(orphan)


def test_gc_rejects_a_bad_age(store: Store) -> None:
    with pytest.raises(InvalidArgument, match="'soon' is not an age"):
        gc(older_than="soon", store=store)
    with pytest.raises(InvalidArgument):
        gc(older_than=timedelta(seconds=-1), store=store)


def test_gc_and_verify_commands(tmp_path: Path) -> None:
    uri = tmp_path / "store"
    store = open_store(str(uri))
    try:
        _logged(store, tmp_path)
        stale, young, orphan = _crash_leftovers(store)
    finally:
        store.close()
    young.unlink()

    listed = cli("verify", uri=uri)
    assert listed.code == 0, listed.err
    assert f"leftover temp-file: {stale}" in listed.out
    assert f"unreferenced blob: {orphan}" in listed.out
    assert "`lineal gc` removes them" in listed.out

    dry = cli("gc", "--dry-run", uri=uri)
    assert dry.code == 0, dry.err
    assert f"would remove temp-file {stale}" in dry.out
    assert f"would remove unreferenced blob {orphan}" in dry.out
    assert stale.exists()

    assert cli("gc", "--older-than", "3h", uri=uri).out.startswith("Removed 0 leftovers")
    done = cli("gc", "--json", uri=uri)
    assert done.code == 0, done.err
    assert [b["digest"] for b in done.json()["blobs"]] == [orphan]
    assert not stale.exists()
    clean = cli("verify", uri=uri)
    assert clean.code == 0 and "leftover" not in clean.out and "unreferenced blob" not in clean.out


# -- S3 ------------------------------------------------------------------------------------------
def _s3_client():  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("s3", endpoint_url=os.environ["LINEAL_S3_ENDPOINT_URL"],
                        region_name="us-east-1")


def test_gc_aborts_abandoned_s3_multipart_uploads(s3_bucket: str, tmp_path: Path) -> None:
    bucket, _, prefix = s3_bucket.removeprefix("s3://").partition("/")
    store = open_store(str(tmp_path / "store"), artifacts=s3_bucket)
    try:
        versions = _logged(store, tmp_path)
        s3 = _s3_client()
        # A writer killed mid-upload: the upload was started and a part sent, never completed.
        key = f"{prefix}/sha256/ab/" + "c" * 62
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"z" * 1234)
        # Someone else's upload in the same bucket, outside lineal's prefix: not lineal's to abort.
        other = s3.create_multipart_upload(Bucket=bucket, Key="elsewhere/file")["UploadId"]

        listed = verify_store(store, check_blobs=False)
        assert [(x.kind, x.size) for x in listed.leftovers] == [("multipart-upload", 1234)]
        assert upload in listed.leftovers[0].name

        assert gc(store=store).leftovers == [], "its latest part just arrived: may be running"
        time.sleep(1.1)  # S3 times parts to the second
        dry = gc(dry_run=True, older_than="0s", store=store)
        assert [x.name for x in dry.leftovers] == [listed.leftovers[0].name]
        assert len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 2

        done = gc(older_than="0s", store=store)
        assert done.bytes_freed == 1234
        remaining = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        assert [(u["Key"], u["UploadId"]) for u in remaining] == [("elsewhere/file", other)]
        assert verify_store(store).clean
        for version in versions.values():
            out = lineal.download_artifact(version.ref, tmp_path / "out" / version.name, store=store)
            assert lineal.verify.content_digest(out) == version.digest
    finally:
        store.close()
