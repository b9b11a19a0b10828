"""Bad input (issue 2, section 7): each case gets a clear error and writes nothing.

"Writes nothing" is checked on the store itself: no artifact version, no run, and no new audit
ledger entry appear.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lineal
from lineal.content import normalise_member
from lineal.errors import IntegrityError, InvalidArgument, LinealError
from lineal.store import Store


def _counts(store: Store) -> tuple[int, int, int]:
    meta = store.metadata
    return (
        len(lineal.list_artifacts(store=store, limit=10_000)),
        len(lineal.list_runs(store=store, limit=10_000)),
        len(meta.ledger_entries(limit=1_000_000)),
    )


@pytest.mark.parametrize("name", ["", "has space", "a/b", "../up", "-dash", "x" * 129, "é"])
def test_bad_names_are_refused_before_anything_is_written(
    store: Store, tmp_path: Path, name: str
) -> None:
    file = tmp_path / "data.csv"
    file.write_text("a\n1\n")
    with lineal.run("ok", store=store) as run:
        before = _counts(store)
        with pytest.raises(InvalidArgument, match="invalid artifact name") as caught:
            run.log_artifact(file, name=name)
        assert caught.value.hint and "letters, digits" in caught.value.hint
        assert _counts(store) == before
    with pytest.raises(InvalidArgument, match="invalid run name"):
        lineal.start_run(name, store=store)


@pytest.mark.parametrize(
    ("member", "normal"),
    [("a/b.txt", "a/b.txt"), ("./a//b.txt", "a/b.txt"), ("a\\b.txt", "a/b.txt")],
)
def test_member_paths_are_normalised(member: str, normal: str) -> None:
    assert normalise_member(member) == normal


@pytest.mark.parametrize("member", ["/etc/passwd", "../x", "a/../../b", "C:\\evil", "a/..", "."])
def test_absolute_or_escaping_member_paths_are_rejected(member: str) -> None:
    with pytest.raises(InvalidArgument, match="directory artifact"):
        normalise_member(member)


def test_a_tampered_manifest_cannot_write_outside_the_destination(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "w.bin").write_bytes(b"weights")
    with lineal.run("train", store=store) as run:
        version = run.log_artifact(folder, name="model", kind="model")
    # Forge a manifest whose entry climbs out of the download folder, and point a version at it.
    body = {"format": 1, "files": [{"path": "../escaped.bin", "digest": version.digest,
                                    "size": 7}]}
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    forged = store.blobs.put_bytes(raw)
    meta = store.metadata
    from lineal.entities import Storage
    from lineal.store.base import NewArtifactVersion

    evil, _ = meta.create_artifact_version(NewArtifactVersion(
        project="default", name="evil", kind="model", digest=forged.digest, uri=forged.uri,
        size=7, storage=Storage.STORED, is_directory=True, metadata={"files": 1},
    ), "attacker")
    dest = tmp_path / "out" / "inside"
    with pytest.raises((InvalidArgument, IntegrityError)):
        lineal.download_artifact(evil.ref, dest, store=store)
    assert not (tmp_path / "out" / "escaped.bin").exists()


def test_missing_input_fails_before_anything_is_written(store: Store, tmp_path: Path) -> None:
    with lineal.run("ingest", store=store) as run:
        before = _counts(store)
        with pytest.raises(InvalidArgument, match="does not exist") as caught:
            run.log_artifact(tmp_path / "nope.csv", name="raw")
        assert "nothing was logged" in (caught.value.hint or "")
        assert _counts(store) == before
        blobs_before = sorted(store.blobs.iter_digests())
        folder = tmp_path / "parts"
        folder.mkdir()
        (folder / "a.csv").write_text("a\n1\n")
        (folder / "b.csv").symlink_to(tmp_path / "gone.csv")  # a member that cannot be read
        with pytest.raises(LinealError):
            run.log_artifact(folder, name="parts")
        assert _counts(store) == before
        assert lineal.list_artifacts(name="parts", store=store) == []
        # The readable member was not stored either: the check runs before any copying.
        assert sorted(store.blobs.iter_digests()) == blobs_before


def test_unreadable_input_is_refused(store: Store, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file: permissions cannot make a file unreadable here")
    file = tmp_path / "secret.csv"
    file.write_text("a\n")
    file.chmod(0)
    with lineal.run("ingest", store=store) as run, pytest.raises(InvalidArgument,
                                                                  match="not readable"):
        run.log_artifact(file, name="secret")


_WRITER = """
import sys, lineal
with lineal.run("big-writer") as run:
    print("started", flush=True)
    run.log_artifact(sys.argv[1], name="big", kind="dataset")
"""


def test_a_process_killed_mid_write_leaves_no_partial_version(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    folder = tmp_path / "big"
    folder.mkdir()
    chunk = os.urandom(1 << 20)
    for i in range(300):  # 300 MiB in 300 files: long enough to be killed in the middle
        (folder / f"part-{i:04d}.bin").write_bytes(chunk[i:] + chunk[:i])
    env = {**os.environ, "LINEAL_URI": str(store_dir)}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(folder)], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    blobs = store_dir / "blobs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until some blobs exist, then kill
        if blobs.exists() and sum(1 for _ in blobs.rglob("*") if _.is_file()) > 20:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    store = lineal.store.open_store(store_dir)
    assert lineal.list_artifacts(name="big", store=store) == [], "no version without all bytes"
    assert lineal.audit.verify(store=store).ok
    # No temporary file is visible as a blob, and logging again completes the artifact.
    assert all(len(d) == 71 for d in store.blobs.iter_digests())
    with lineal.run("again", store=store) as run:
        version = run.log_artifact(folder, name="big", kind="dataset")
    assert version.version == 1 and version.metadata["files"] == 300
