"""What is specific to object storage: configuration, error translation, corrupt objects, and
other writers of the same bucket."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from lineal.errors import IntegrityError, InvalidArgument, StoreError
from lineal.store.blobs import open_blob_store
from lineal.store.blobs.remote import FsspecBlobStore


def s3_client() -> object:
    return boto3.client("s3", endpoint_url=os.environ["LINEAL_S3_ENDPOINT_URL"])


def bucket_and_prefix(url: str) -> tuple[str, str]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, prefix


def test_open_blob_store_dispatches_fsspec_urls(s3_bucket: str) -> None:
    store = open_blob_store(s3_bucket + "/")
    assert isinstance(store, FsspecBlobStore)
    assert store.root_uri == s3_bucket, "a trailing slash does not change the layout"


@pytest.mark.parametrize("url", ["s3://", "nosuchprotocol://bucket/x"])
def test_bad_urls_are_invalid(url: str) -> None:
    with pytest.raises(InvalidArgument):
        FsspecBlobStore(url)


def test_layout_matches_the_local_store(s3_bucket: str) -> None:
    store = FsspecBlobStore(s3_bucket)
    info = store.put_bytes(b"where does it go")
    hexpart = info.digest.removeprefix("sha256:")
    bucket, prefix = bucket_and_prefix(s3_bucket)
    key = f"{prefix}/sha256/{hexpart[:2]}/{hexpart[2:]}"
    body = s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[attr-defined]
    assert body == b"where does it go"
    assert info.uri == f"s3://{bucket}/{key}"


def test_writes_by_others_are_seen_at_once(s3_bucket: str) -> None:
    """No stale listing cache: another process's upload is visible to exists and iter_digests."""
    store = FsspecBlobStore(s3_bucket)
    mine = store.put_bytes(b"mine").digest
    assert list(store.iter_digests()) == [mine]
    data = b"uploaded by someone else"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert not store.exists(digest)
    bucket, prefix = bucket_and_prefix(s3_bucket)
    hexpart = digest.removeprefix("sha256:")
    s3_client().put_object(  # type: ignore[attr-defined]
        Bucket=bucket, Key=f"{prefix}/sha256/{hexpart[:2]}/{hexpart[2:]}", Body=data
    )
    assert store.exists(digest)
    assert list(store.iter_digests()) == sorted([mine, digest])
    assert not store.put_bytes(data).created


def test_iter_digests_ignores_what_is_not_a_blob(s3_bucket: str) -> None:
    store = FsspecBlobStore(s3_bucket)
    real = store.put_bytes(b"real").digest
    bucket, prefix = bucket_and_prefix(s3_bucket)
    client = s3_client()
    for key in ("sha256/zz/not-hex", "sha256/ab/short", "sha256/README", "other/file"):
        client.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=b"x")  # type: ignore[attr-defined]
    assert list(store.iter_digests()) == [real]


def test_corrupt_object_never_reaches_the_destination(s3_bucket: str, tmp_path: Path) -> None:
    store = FsspecBlobStore(s3_bucket)
    info = store.put_bytes(b"original content")
    bucket, _ = bucket_and_prefix(s3_bucket)
    key = info.uri.removeprefix(f"s3://{bucket}/")
    s3_client().put_object(Bucket=bucket, Key=key, Body=b"tampered content")  # type: ignore[attr-defined]
    dest = tmp_path / "out.txt"
    with pytest.raises(IntegrityError, match="corrupt"):
        store.get_file(info.digest, dest)
    assert list(tmp_path.iterdir()) == [], "neither the file nor a temporary copy is left"


def test_missing_bucket_is_a_store_error_with_the_url(s3_endpoint: str, s3_bucket: str) -> None:
    store = FsspecBlobStore("s3://lineal-no-such-bucket/prefix")
    assert not store.exists("sha256:" + "0" * 64)
    with pytest.raises(StoreError, match="s3://lineal-no-such-bucket/prefix/sha256/") as caught:
        store.put_bytes(b"anything")
    assert caught.value.__cause__ is not None, "the backend error is chained"


def test_missing_credentials_is_a_store_error(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from s3fs import S3FileSystem

    S3FileSystem.clear_instance_cache()  # fsspec reuses filesystems: drop the one with creds
    try:
        store = FsspecBlobStore(s3_bucket)
        with pytest.raises(StoreError, match="credentials") as caught:
            store.put_bytes(b"x")
        assert "s3://" in str(caught.value) and caught.value.__cause__ is not None
    finally:
        S3FileSystem.clear_instance_cache()  # nor keep this one, without creds, for others


def test_unreachable_endpoint_is_a_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # keep botocore's retries short in a test
    monkeypatch.setenv("LINEAL_S3_ENDPOINT_URL", "http://127.0.0.1:1")
    store = FsspecBlobStore("s3://bucket-unreachable/x")
    with pytest.raises(StoreError, match="s3://bucket-unreachable/x/sha256/.*connect"):
        store.exists("sha256:" + "0" * 64)


def test_missing_s3fs_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # import s3fs now raises ImportError
    registry = sys.modules["fsspec.registry"]._registry  # fsspec.registry is a read-only view
    monkeypatch.delitem(registry, "s3", raising=False)
    with pytest.raises(StoreError) as caught:
        open_blob_store("s3://bucket/prefix")
    assert "pip install 'lineal[s3]'" in str(caught.value)


def test_s3fs_is_imported_only_when_used() -> None:
    code = (
        "import sys, lineal, lineal.store, lineal.store.blobs.remote\n"
        "lineal.store.open_store(sys.argv[1])\n"
        "assert 's3fs' not in sys.modules and 'botocore' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code, os.environ["LINEAL_URI"]], check=True)


@pytest.mark.parametrize("denied", ["s3:PutObject", "s3:*"])
def test_a_failed_write_says_cannot_write_to_the_url(
    s3_bucket: str, tmp_path: Path, denied: str
) -> None:
    """A write refused by the bucket, whether at the upload or at the existence check before it
    (a policy denying every action), is reported as a write, never as "cannot read"."""
    import json

    bucket, _ = bucket_and_prefix(s3_bucket)
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": denied,
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }]}
    client = s3_client()
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))  # type: ignore[attr-defined]
    try:
        store = FsspecBlobStore(s3_bucket)
        file = tmp_path / "weights.bin"
        file.write_bytes(b"weights")
        for write in (lambda: store.put_file(file), lambda: store.put_bytes(b"other bytes")):
            with pytest.raises(StoreError, match=f"cannot write to {s3_bucket}/sha256/") as caught:
                write()
            assert "cannot read" not in str(caught.value)
            assert "access denied" in str(caught.value) and caught.value.__cause__ is not None
    finally:
        client.delete_bucket_policy(Bucket=bucket)  # type: ignore[attr-defined]


def test_a_write_to_a_missing_bucket_says_cannot_write_to(s3_bucket: str, tmp_path: Path) -> None:
    store = FsspecBlobStore("s3://lineal-no-such-bucket/prefix")
    file = tmp_path / "data.bin"
    file.write_bytes(b"data")
    with pytest.raises(StoreError, match="cannot write to s3://lineal-no-such-bucket/prefix/"
                                         ".*does not exist"):
        store.put_file(file)
