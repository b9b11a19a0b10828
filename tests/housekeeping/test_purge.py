"""``lineal purge``: a version's bytes go on request; its metadata, lineage, a record of when,
by whom and why, and its ledger entry stay; reads say "purged" instead of "missing"; content
another live version uses is kept."""

from __future__ import annotations

import getpass
import os
import time
from pathlib import Path

import pytest

import lineal
from lineal.entities import EdgeDirection, Storage
from lineal.errors import InvalidArgument, NotFound, Purged
from lineal.housekeeping import purge
from lineal.store import Store
from lineal.store.base import NewArtifactVersion
from lineal.verify import verify_store

REASON = "GDPR erasure request #1234"


def _file(root: Path, name: str, data: bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _logged(store: Store, root: Path) -> dict[str, lineal.ArtifactVersion]:
    """``customers`` and ``backup`` hold the same bytes; the folders ``images`` and ``thumbs``
    share one file."""
    same = b"name,email\nada,ada@example.org\n"
    _file(root / "images", "private.png", b"only in images")
    _file(root / "images", "shared.png", b"in both folders")
    _file(root / "thumbs", "shared.png", b"in both folders")
    with lineal.run("ingest", capture=False, store=store) as run:
        versions = {
            "customers": run.log_artifact(_file(root, "c.csv", same), name="customers",
                                          kind="dataset"),
            "backup": run.log_artifact(_file(root, "b.csv", same), name="backup", kind="dataset"),
            "images": run.log_artifact(root / "images", name="images", kind="dataset"),
            "thumbs": run.log_artifact(root / "thumbs", name="thumbs", kind="dataset"),
            "solo": run.log_artifact(_file(root, "s.csv", b"only here"), name="solo",
                                     kind="dataset"),
        }
    with lineal.run("train", capture=False, store=store) as run:
        run.use_artifact("solo")
    return versions


# -- the store contract, on every backend ----------------------------------------------------------
@pytest.mark.principals
def test_purge_is_recorded_once_with_who_when_why(backend_store: Store) -> None:
    meta = backend_store.metadata
    blob = backend_store.blobs.put_bytes(b"personal data")
    version, _ = meta.create_artifact_version(NewArtifactVersion(
        project="default", name="people", kind="dataset", digest=blob.digest, uri=blob.uri,
        size=blob.size, storage=Storage.STORED), "alice")
    assert version.purged is None

    purged, recorded = meta.purge_artifact_version(version.id, "  erasure request  ", "bob")
    assert recorded and purged.purged is not None
    assert (purged.purged.purged_by, purged.purged.reason) == ("bob", "erasure request")
    again, recorded = meta.purge_artifact_version(version.id, "another reason", "carol")
    assert not recorded and again.purged == purged.purged, "the first record stands"
    # Every read of the version carries it.
    from lineal.refs import parse_ref

    assert meta.resolve(parse_ref("people@v1")).purged == purged.purged
    assert meta.get_artifact_version(version.id).purged == purged.purged
    from lineal.store.base import ArtifactFilter

    assert [v.purged for v in meta.list_artifact_versions(ArtifactFilter(name="people"))] == [
        purged.purged]
    assert purged.to_dict()["purged"]["reason"] == "erasure request"
    entries = meta.ledger_entries(entity_id=version.id, action="artifact.purge")
    assert [(e.actor, e.action) for e in entries] == [("bob", "artifact.purge")]
    assert meta.verify_ledger().ok


@pytest.mark.principals
def test_purged_content_is_not_recorded_again_under_its_name(backend_store: Store) -> None:
    meta = backend_store.metadata
    blob = backend_store.blobs.put_bytes(b"erased data")

    def spec(name: str) -> NewArtifactVersion:
        return NewArtifactVersion(project="default", name=name, kind="dataset", digest=blob.digest,
                                  uri=blob.uri, size=blob.size, storage=Storage.STORED)

    version, _ = meta.create_artifact_version(spec("people"), "alice")
    meta.purge_artifact_version(version.id, "erasure", "bob")
    with pytest.raises(Purged, match="people@v1 holds this content and was purged on .* by bob"):
        meta.create_artifact_version(spec("people"), "alice")
    other, created = meta.create_artifact_version(spec("kept-copy"), "alice")
    assert created and other.purged is None, "under another name it is a decision, not an echo"


def test_purge_refuses_references_unknown_versions_and_empty_reasons(backend_store: Store) -> None:
    meta = backend_store.metadata
    version, _ = meta.create_artifact_version(NewArtifactVersion(
        project="default", name="remote", kind="dataset", digest="sha256:" + "1" * 64,
        uri="s3://elsewhere/data.csv", size=5, storage=Storage.REFERENCE), "alice")
    with pytest.raises(InvalidArgument, match="by reference"):
        meta.purge_artifact_version(version.id, "erasure", "bob")
    with pytest.raises(InvalidArgument, match="reason"):
        meta.purge_artifact_version(version.id, "   ", "bob")
    with pytest.raises(NotFound):
        meta.purge_artifact_version("0" * 26, "erasure", "bob")
    assert meta.get_artifact_version(version.id).purged is None


# -- the SDK ---------------------------------------------------------------------------------------
def test_purge_deletes_bytes_keeps_the_record_and_reads_say_purged(
    backend_store: Store, tmp_path: Path
) -> None:
    store = backend_store
    versions = _logged(store, tmp_path / "files")
    solo = versions["solo"]

    report = purge("solo@v1", reason=REASON, store=store)
    assert report.recorded and list(report.deleted) == [solo.digest] and not report.shared
    assert not store.blobs.exists(solo.digest)
    record = report.version.purged
    assert record is not None and record.reason == REASON
    assert record.purged_by == getpass.getuser()

    # Metadata and lineage remain.
    shown = lineal.get_artifact("solo@v1", store=store)
    assert shown.purged == record and shown.digest == solo.digest
    assert {(e.direction, e.role) for e in store.metadata.list_edges(version_id=solo.id)} == {
        (EdgeDirection.OUTPUT, "output"), (EdgeDirection.INPUT, "input")}
    # Reads of the content say why it is gone.
    for read in (lambda: lineal.artifact_path("solo@v1", store=store),
                 lambda: lineal.download_artifact("solo@v1", tmp_path / "out", store=store)):
        with pytest.raises(Purged) as caught:
            read()
        message = str(caught.value)
        assert "solo@v1" in message and REASON in message and record.purged_by in message
        assert record.purged_at.strftime("%Y-%m-%d") in message
        assert caught.value.http_status == 410 and isinstance(caught.value, NotFound)
    # Not corruption, and nothing left over.
    checked = verify_store(store)
    assert checked.clean, checked.to_dict()
    assert checked.purged_versions == 1
    assert store.metadata.verify_ledger().ok

    again = purge("solo@v1", reason="again", store=store)
    assert not again.recorded and again.already_gone == [solo.digest]
    assert again.version.purged == record


def test_shared_content_is_kept_and_reported(backend_store: Store, tmp_path: Path) -> None:
    store = backend_store
    versions = _logged(store, tmp_path / "files")
    customers, backup = versions["customers"], versions["backup"]

    report = purge("customers@v1", reason=REASON, store=store)
    assert report.deleted == {} and report.shared == {customers.digest: ["default/backup@v1"]}
    assert lineal.verify.content_digest(lineal.artifact_path("backup@v1", store=store)) == (
        backup.digest)
    with pytest.raises(Purged):
        lineal.artifact_path("customers@v1", store=store)

    images = versions["images"]
    cached = lineal.artifact_path("images@v1", store=store)  # a folder is materialised once
    assert cached.is_dir()
    report = purge("images@v1", reason=REASON, store=store)
    assert not cached.exists(), "no copy of purged content stays in the store's folder"
    shared = lineal.verify.content_digest(tmp_path / "files" / "thumbs" / "shared.png")
    only = lineal.verify.content_digest(tmp_path / "files" / "images" / "private.png")
    assert set(report.deleted) == {only, images.digest}, "its own file and its manifest"
    assert report.shared == {shared: ["default/thumbs@v1:shared.png"]}
    thumbs = lineal.artifact_path("thumbs@v1", store=store)
    assert lineal.verify.content_digest(thumbs) == versions["thumbs"].digest
    with pytest.raises(Purged):
        lineal.download_artifact("images@v1", tmp_path / "out", store=store)
    assert verify_store(store).clean


def test_purge_refuses_a_version_recorded_by_reference(store: Store, tmp_path: Path) -> None:
    data = _file(tmp_path, "ref.csv", b"a,b\n")
    with lineal.run("r", capture=False, store=store) as run:
        run.log_artifact(data, name="ref", reference=True)
    with pytest.raises(InvalidArgument, match="by reference"):
        purge("ref@v1", reason=REASON, store=store)
    with pytest.raises(InvalidArgument, match="reason"):
        purge("ref@v1", reason=" ", store=store)
    assert lineal.get_artifact("ref@v1", store=store).purged is None


def test_a_blob_reused_during_the_purge_is_kept(store: Store, tmp_path: Path) -> None:
    """A writer logging the same bytes while the purge runs marks the blob as in use; the purge
    keeps it (that writer's version may be recorded at any moment) and says to run it again."""
    data = _file(tmp_path, "d.csv", b"same bytes")
    with lineal.run("r", capture=False, store=store) as run:
        version = run.log_artifact(data, name="people")
    path = Path(store.blobs.uri(version.digest).removeprefix("file://"))
    later = time.time() + 5
    os.utime(path, (later, later))  # what a reuse after the purge's check looks like
    report = purge("people@v1", reason=REASON, store=store)
    assert report.deleted == {} and "run the purge again" in report.shared[version.digest][0]
    assert store.blobs.exists(version.digest)


def test_a_purged_step_output_is_not_served_from_cache(store: Store, tmp_path: Path) -> None:
    calls: list[int] = []

    @lineal.step("extract", outputs={"emails": "dataset"}, code="v1")
    def extract(run: lineal.ActiveRun) -> dict[str, Path]:
        calls.append(1)
        return {"emails": _file(tmp_path, f"emails-{len(calls)}.csv", b"ada@example.org\n")}

    first = extract()
    with lineal.run("copy", capture=False, store=store) as run:  # the bytes outlive the purge
        run.log_artifact(_file(tmp_path, "copy.csv", b"ada@example.org\n"), name="archive")
    purge(first.outputs["emails"].ref, reason=REASON, store=store)
    with pytest.raises(Purged, match="emails@v1 holds this content"):
        extract()
    assert len(calls) == 2, "it ran again instead of returning the purged version"
