"""``lineal store info|upgrade`` and ``lineal verify``, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import sqlalchemy as sa

from lineal.store.blobs.local import hash_file

from .conftest import World, assert_one_line_error, messages


def blob_path(world: World, digest: str) -> Path:
    root = Path(world.artifacts) if world.artifacts else Path(world.uri) / "blobs"
    hexpart = digest.removeprefix("sha256:")
    path = root / "sha256" / hexpart[:2] / hexpart[2:]
    assert path.is_file(), path
    return path


def overwrite(path: Path, data: bytes) -> None:
    path.chmod(0o644)  # blobs are written read-only
    path.write_bytes(data)


def test_info(world: World) -> None:
    from lineal.store.sql.store import SCHEMA_REVISION

    info = world.ok("store", "info", "--json").json()
    assert info["location"] == world.uri
    assert info["backend"] == "sqlite"
    assert info["schema_revision"] == info["schema_head"] == SCHEMA_REVISION
    assert info["counts"]["runs"] == len(world.runs)
    assert info["counts"]["artifact_versions"] == len(
        world.ok("artifacts", "list", "--limit", "1000", "--json").json())
    blobs = list((Path(world.uri) / "blobs" / "sha256").rglob("*"))
    files = [b for b in blobs if b.is_file()]
    assert info["blobs"] == {"count": len(files), "bytes": sum(f.stat().st_size for f in files)}
    assert info["database_file"]["bytes"] == (Path(world.uri) / "lineal.db").stat().st_size
    text = world.ok("store", "info").out
    assert f"location:      {world.uri}" in text
    assert f"schema:        {SCHEMA_REVISION} (latest)" in text
    assert "runs" in text and "artifact_versions" in text


def test_upgrade_says_already_latest(world: World) -> None:
    out = world.ok("store", "upgrade").out
    assert "already at schema" in out


def test_upgrade_json(world: World) -> None:
    result = world.ok("store", "upgrade", "--json").json()
    assert result["before"] == result["after"] and result["upgraded"] is False


def test_verify_healthy_store_on_every_backend(backend_world: World) -> None:
    result = backend_world.ok("verify")
    assert result.out.startswith("OK: ")
    report = backend_world.ok("verify", "--json").json()
    assert report["ok"] is True and report["problems"] == []
    assert report["runs"] == len(backend_world.runs)
    assert report["blobs"] > 0 and report["blob_bytes"] > 0
    assert report["stored_versions"] == report["versions"] >= 4


def test_verify_detects_a_corrupt_blob_on_every_backend(backend_world: World) -> None:
    version = backend_world.versions["raw"]
    blob = blob_path(backend_world, version.digest)
    overwrite(blob, b"tampered" + blob.read_bytes()[8:])  # same size, other bytes
    result = backend_world.cli("verify")
    assert result.code == 7
    assert "Traceback" not in result.err
    out = "\n".join(messages(result.out))  # a problem wider than $COLUMNS wraps
    assert f"corrupt-blob: blob {version.digest}" in out
    assert "used by default/raw@v1" in out
    assert "FAILED, 1 problem:" in out
    assert result.err.strip() == "error: store verification failed: 1 problem"
    report = json.loads(backend_world.cli("verify", "--json").out)
    assert report["ok"] is False
    assert [(p["kind"], p["digest"]) for p in report["problems"]] == [("corrupt-blob",
                                                                       version.digest)]


def test_verify_without_rehash_misses_same_size_corruption_but_not_loss(
    fresh_world: World,
) -> None:
    raw = fresh_world.versions["raw"]
    blob = blob_path(fresh_world, raw.digest)
    overwrite(blob, b"y" * raw.size)
    assert fresh_world.cli("verify", "--no-blobs").code == 0  # what --no-blobs gives up
    assert fresh_world.cli("verify").code == 7
    blob.unlink()
    result = fresh_world.cli("verify", "--no-blobs")
    assert result.code == 7
    assert f"missing-blob: default/raw@v1: its blob {raw.digest} is missing" in result.out


def test_verify_checks_directory_members_and_sizes(fresh_world: World) -> None:
    member = fresh_world.root / "files" / "features" / "part" / "deep" / "b.txt"
    digest = hash_file(member)[0]
    overwrite(blob_path(fresh_world, digest), b"longer than before\n")
    result = fresh_world.cli("verify", "--json")
    assert result.code == 7
    problems = {(p["kind"], p["subject"]) for p in json.loads(result.out)["problems"]}
    assert ("size-mismatch", "default/features@v1:part/deep/b.txt") in problems
    assert ("corrupt-blob", f"blob {digest}") in problems


def test_verify_detects_a_damaged_manifest(fresh_world: World) -> None:
    features = fresh_world.versions["features"]
    manifest = blob_path(fresh_world, features.digest)
    overwrite(manifest, manifest.read_bytes().replace(b"a.txt", b"z.txt"))
    result = fresh_world.cli("verify")
    assert result.code == 7
    assert "bad-manifest: default/features@v1" in result.out


def test_verify_detects_dangling_references(fresh_world: World) -> None:
    """A restored backup or a hand edit can leave rows pointing at nothing."""
    db = sa.create_engine(f"sqlite:///{fresh_world.uri}/lineal.db")
    with db.begin() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("DELETE FROM runs WHERE id = ?", (fresh_world.runs["ingest"],))
    db.dispose()
    result = fresh_world.cli("verify", "--json")
    assert result.code == 7
    kinds = {p["kind"] for p in json.loads(result.out)["problems"]}
    assert {"dangling-producer", "dangling-edge"} <= kinds


def test_verify_detects_dangling_aliases(fresh_world: World) -> None:
    """An alias is only seen beside its version, so verify reads them all from the contract
    (``MetadataStore.artifact_aliases``): one naming a deleted version, or a version of
    another artifact, is reported."""
    raw, features = fresh_world.versions["raw"], fresh_world.versions["features"]
    meta = fresh_world.store.metadata
    meta.set_alias(raw.project, raw.name, "golden", raw.version, "tester")
    meta.set_alias(features.project, features.name, "best", features.version, "tester")
    db = sa.create_engine(f"sqlite:///{fresh_world.uri}/lineal.db")
    with db.begin() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("UPDATE artifact_aliases SET version_id = 'NOPE' WHERE alias = 'golden'")
        conn.exec_driver_sql("UPDATE artifact_aliases SET version_id = ? WHERE alias = 'best'",
                             (raw.id,))
    db.dispose()
    result = fresh_world.cli("verify", "--json")
    assert result.code == 7
    details = [p["detail"] for p in json.loads(result.out)["problems"] if p["kind"] == "dangling-alias"]
    assert len(details) == 2
    assert any("NOPE, which does not exist" in d for d in details)
    assert any("belongs to another artifact" in d for d in details)


def test_unused_blob_is_counted_not_a_problem(fresh_world: World) -> None:
    raw = fresh_world.versions["raw"]
    orphan_digest = "sha256:" + "0" * 64
    source = blob_path(fresh_world, raw.digest)
    orphan = source.parent.parent / "00" / ("0" * 62)
    orphan.parent.mkdir(exist_ok=True)
    shutil.copyfile(source, orphan)
    result = fresh_world.cli("verify", "--json")
    report = json.loads(result.out)
    # Its bytes do not hash to its name: corrupt (logging that content later would trust it).
    assert [(p["kind"], p["digest"]) for p in report["problems"]] == [("corrupt-blob",
                                                                       orphan_digest)]
    assert "used by no version" in report["problems"][0]["detail"]
    assert report["unreferenced_blobs"] == 1


def test_commands_on_a_missing_store_fail_cleanly(tmp_path: Path) -> None:
    from .conftest import cli

    for args in (("store", "info"), ("verify",), ("store", "upgrade"), ("artifacts", "list"),
                 ("models", "list")):
        assert_one_line_error(cli(*args, uri=tmp_path / "nothing"), 3, "no lineal store")
    assert not (tmp_path / "nothing").exists()
