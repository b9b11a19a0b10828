"""``lineal artifacts list|show|get|log`` on a store filled through the SDK."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import World, assert_one_line_error, cli, ok


def refs(found: list[dict]) -> set[str]:
    return {v["ref"] for v in found}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_list_table(world: World) -> None:
    out = world.ok("artifacts", "list").out
    for ref in ("default/raw@v1", "default/features@v1", "default/iris@v1", "other/notes@v1",
                "default/environment@v1", "default/code@v1"):
        assert ref in out
    line = next(line for line in out.splitlines() if line.startswith("default/raw@v1"))
    assert "dataset" in line and "stored" in line and "latest" in line
    assert world.versions["raw"].digest[:19] in line  # sha256: + 12 hex digits


def test_list_json_fields(world: World) -> None:
    found = {v["ref"]: v for v in world.ok("artifacts", "list", "--json").json()}
    raw = found["default/raw@v1"]
    expected = world.versions["raw"]
    assert raw["digest"] == expected.digest and raw["size"] == expected.size
    assert raw["kind"] == "dataset" and raw["storage"] == "stored"
    assert raw["producer_run_id"] == world.runs["ingest"]
    assert raw["aliases"] == ["latest"] and raw["tags"] == {"source": "generated"}
    assert raw["is_directory"] is False
    assert found["default/features@v1"]["is_directory"] is True


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--project", "other"), {"other/notes@v1"}),
        (("--name", "raw"), {"default/raw@v1"}),
        (("--kind", "report"), {"other/notes@v1"}),
        (("--kind", "dataset"), {"default/raw@v1", "default/features@v1"}),
        (("--tag", "source=generated"), {"default/raw@v1"}),
        (("--tag", "source=elsewhere"), set()),
        (("--kind", "model", "--project", "other"), set()),
    ],
)
def test_list_filters(world: World, args: tuple[str, ...], expected: set[str]) -> None:
    assert refs(world.ok("artifacts", "list", *args, "--json").json()) == expected


def test_list_by_producer_digest_and_time(world: World) -> None:
    produced = world.ok("artifacts", "list", "--run", world.runs["train"][:12], "--json").json()
    assert refs(produced) == {"default/iris@v1", "default/iris-tree@v1"}
    digest = world.versions["features"].digest
    assert refs(world.ok("artifacts", "list", "--digest", digest[:14], "--json").json()) == {
        "default/features@v1"}
    assert world.cutoff is not None
    cutoff = world.cutoff.isoformat()
    assert refs(world.ok("artifacts", "list", "--since", cutoff, "--json").json()) == {
        "other/notes@v1"}
    assert "other/notes@v1" not in refs(
        world.ok("artifacts", "list", "--until", cutoff, "--json").json())
    assert len(world.ok("artifacts", "list", "--limit", "1", "--json").json()) == 1
    assert_one_line_error(world.cli("artifacts", "list", "--digest", "abc"), 2, "--digest")


def test_show_text_and_json(world: World) -> None:
    out = world.ok("artifacts", "show", "features").out
    version = world.versions["features"]
    assert "artifact: default/features@v1" in out
    assert f"digest:   {version.digest}" in out
    assert "stored, directory" in out
    assert f"producer: {world.runs['preprocess']} preprocess (preprocess, finished)" in out
    assert "Consumed by" in out and world.runs["train"][:8] in out and "train_data" in out
    shown = world.ok("artifacts", "show", "default/features@v1", "--json").json()
    assert shown["id"] == version.id and shown["digest"] == version.digest
    assert shown["producer"]["id"] == world.runs["preprocess"]
    assert [(c["id"], c["role"]) for c in shown["consumers"]] == [(world.runs["train"],
                                                                  "train_data")]


@pytest.mark.parametrize("ref", ["raw", "raw@v1", "raw@latest", "default/raw",
                                 "raw@sha256:{prefix}"])
def test_show_every_reference_form(world: World, ref: str) -> None:
    ref = ref.format(prefix=world.versions["raw"].digest.removeprefix("sha256:")[:10])
    assert world.ok("artifacts", "show", ref, "--json").json()["id"] == world.versions["raw"].id


def test_show_in_another_project(world: World) -> None:
    assert world.ok("artifacts", "show", "notes", "--project", "other", "--json").json()[
        "ref"] == "other/notes@v1"
    assert world.ok("artifacts", "show", "notes", env={"LINEAL_PROJECT": "other"}).code == 0
    assert_one_line_error(world.cli("artifacts", "show", "notes"), 3, "notes")


@pytest.mark.parametrize(
    ("ref", "code", "fragment"),
    [
        ("raw@@x", 2, "invalid"),
        ("a/b/c", 2, ""),
        ("-bad", 2, ""),
        ("raw@v9", 3, "raw@v9"),
        ("nothing", 3, "nothing"),
        ("raw@sha256:0000", 3, ""),
    ],
)
def test_bad_or_unknown_refs_are_one_line_errors(world: World, ref: str, code: int,
                                                 fragment: str) -> None:
    for command in ("show", "get"):
        assert_one_line_error(world.cli("artifacts", command, "--", ref), code, fragment)


def test_get_file_is_byte_identical(world: World, tmp_path: Path) -> None:
    target = tmp_path / "copy.csv"
    out = world.ok("artifacts", "get", "raw", "-o", str(target)).out
    assert out.strip() == f"default/raw@v1 (1.7 KiB) -> {target}"
    assert target.read_bytes() == (world.root / "files" / "raw.csv").read_bytes()
    # Ordinary permissions, not the blob store's private ones.
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["copy.csv"]  # no staging left behind


def test_get_directory_is_identical(world: World, tmp_path: Path) -> None:
    result = world.ok("artifacts", "get", "features@v1", "-o", str(tmp_path), "--json").json()
    target = tmp_path / "features"  # an existing folder receives FOLDER/NAME
    assert result["path"] == str(target) and result["ref"] == "default/features@v1"
    assert tree(target) == tree(world.root / "files" / "features")
    assert (target / "empty.txt").read_bytes() == b""


def test_get_defaults_to_the_name_in_the_working_directory(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    world.ok("artifacts", "get", "raw")
    assert (tmp_path / "raw").read_bytes() == (world.root / "files" / "raw.csv").read_bytes()


def test_get_refuses_to_overwrite_without_force(world: World, tmp_path: Path) -> None:
    file_target = tmp_path / "raw.csv"
    file_target.write_text("precious")
    result = world.cli("artifacts", "get", "raw", "-o", str(file_target))
    assert_one_line_error(result, 4, "already exists", "--force")
    assert file_target.read_text() == "precious"
    world.ok("artifacts", "get", "raw", "-o", str(file_target), "--force")
    assert file_target.read_bytes() == (world.root / "files" / "raw.csv").read_bytes()
    # A folder: -o names the parent; --force replaces the old copy rather than merging into it.
    world.ok("artifacts", "get", "features", "-o", str(tmp_path))
    (tmp_path / "features" / "stray.txt").write_text("left over")
    assert_one_line_error(world.cli("artifacts", "get", "features", "-o", str(tmp_path)), 4)
    assert (tmp_path / "features" / "stray.txt").exists()
    world.ok("artifacts", "get", "features", "-o", str(tmp_path), "--force")
    assert tree(tmp_path / "features") == tree(world.root / "files" / "features")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features", "raw.csv"]


def test_get_corrupt_blob_fails_and_writes_nothing(fresh_world: World, tmp_path: Path) -> None:
    version = fresh_world.versions["raw"]
    blob = _blob_path(fresh_world, version.digest)
    blob.chmod(0o644)
    blob.write_bytes(b"x" * version.size)  # same size, different bytes
    target = tmp_path / "out" / "raw.csv"
    result = fresh_world.cli("artifacts", "get", "raw", "-o", str(target))
    assert_one_line_error(result, 7, "corrupt", version.digest, "lineal verify")
    assert not target.exists()
    assert list((tmp_path / "out").iterdir()) == []  # staging removed


def test_get_directory_with_a_missing_member_fails(fresh_world: World, tmp_path: Path) -> None:
    files = tree(fresh_world.root / "files" / "features")
    from lineal.store.blobs.local import hash_file

    member = fresh_world.root / "files" / "features" / "part" / "a.txt"
    assert "part/a.txt" in files
    _blob_path(fresh_world, hash_file(member)[0]).unlink()
    result = fresh_world.cli("artifacts", "get", "features", "-o", str(tmp_path / "f"))
    assert_one_line_error(result, 3, "features@v1:part/a.txt", "missing")
    assert not (tmp_path / "f").exists()


def test_progress_bar_for_large_content(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # above the 8 MiB threshold
    uri = tmp_path / "store"
    ok("artifacts", "log", str(big), "--name", "big", uri=uri)
    target = tmp_path / "copy.bin"
    # TTY_COMPATIBLE=1 makes rich treat stderr as a terminal, as a user's would be.
    result = ok("artifacts", "get", "big", "-o", str(target), uri=uri,
                env={"TTY_COMPATIBLE": "1"})
    assert target.read_bytes() == big.read_bytes()
    assert "downloading big" in result.err
    assert result.out.strip().endswith(f"-> {target}")  # stdout stays clean for scripts
    quiet = ok("artifacts", "get", "big", "-o", str(target), "--force", uri=uri,
               env={"TTY_COMPATIBLE": "0"})
    assert quiet.err == ""


def test_log_records_once(tmp_path: Path) -> None:
    uri = tmp_path / "store"
    data = tmp_path / "data.txt"
    data.write_text("hello\n")
    first = ok("artifacts", "log", str(data), "--kind", "dataset", "--tag", "a=1",
               "--alias", "gold", uri=uri).out
    assert first.startswith("logged default/data.txt@v1")
    again = ok("artifacts", "log", str(data), uri=uri).out
    assert again.startswith("already recorded as default/data.txt@v1")
    shown = ok("artifacts", "show", "data.txt@gold", "--json", uri=uri).json()
    assert shown["tags"] == {"a": "1"} and "gold" in shown["aliases"]
    assert shown["producer"] is None
    assert_one_line_error(cli("artifacts", "log", str(tmp_path / "absent"), uri=uri), 2)


def _blob_path(world: World, digest: str) -> Path:
    hexpart = digest.removeprefix("sha256:")
    path = Path(world.uri) / "blobs" / "sha256" / hexpart[:2] / hexpart[2:]
    assert path.is_file(), path
    return path


def test_download_progress_moves_with_the_bytes(tmp_path: Path) -> None:
    """The bar advances per chunk while a large blob streams, not once at the end."""
    import lineal
    from lineal.artifacts import _copy_stored
    from lineal.store import open_store

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))
    store = open_store(tmp_path / "store")
    with lineal.run("make", capture=False, store=store) as run:
        version = run.log_artifact(big)
    advanced: list[int] = []
    _copy_stored(store, version, tmp_path / "copy.bin", advanced.append)
    assert advanced == [4 * 1024 * 1024, 4 * 1024 * 1024, 1024 * 1024]
    assert (tmp_path / "copy.bin").read_bytes() == big.read_bytes()
    store.close()


def test_get_a_reference_checks_the_source_still_matches(tmp_path: Path) -> None:
    uri = tmp_path / "store"
    source = tmp_path / "external.csv"
    source.write_text("a,b\n1,2\n")
    ok("artifacts", "log", str(source), "--reference", "--name", "ext", uri=uri)
    shown = ok("artifacts", "show", "ext", "--json", uri=uri).json()
    assert shown["storage"] == "reference"
    ok("artifacts", "get", "ext", "-o", str(tmp_path / "copy.csv"), uri=uri)
    assert (tmp_path / "copy.csv").read_bytes() == source.read_bytes()
    source.write_text("a,b\n1,3\n")  # changed behind lineal's back
    result = cli("artifacts", "get", "ext", "-o", str(tmp_path / "again.csv"), uri=uri)
    assert_one_line_error(result, 7, "changed since it was logged")
    assert not (tmp_path / "again.csv").exists()


def test_a_failed_swap_keeps_the_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lineal import artifacts as module

    old = tmp_path / "features"
    old.mkdir()
    (old / "mine.txt").write_text("keep me")
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    real_replace = os.replace

    def failing_replace(src: object, dst: object) -> None:
        if Path(str(src)) == staging:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(module.os, "replace", failing_replace)
    with pytest.raises(OSError):
        module._swap_in(staging, old, tmp_path / "aside")
    assert (old / "mine.txt").read_text() == "keep me"
    monkeypatch.setattr(module.os, "replace", real_replace)
    module._swap_in(staging, old, tmp_path / "aside2")
    assert tree(old) == {"new.txt": b"new"}


def test_get_force_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    uri = tmp_path / "store"
    source = tmp_path / "data.csv"
    source.write_text("a,b\n1,2\n")
    ok("artifacts", "log", str(source), "--name", "data", uri=uri)
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text("not yours")
    out = tmp_path / "out"
    out.mkdir()
    (out / "data").symlink_to(elsewhere)
    ok("artifacts", "get", "data", "-o", str(out), "--force", uri=uri)
    assert elsewhere.read_text() == "not yours"
    assert not (out / "data").is_symlink() and (out / "data").read_text() == "a,b\n1,2\n"
    assert sorted(p.name for p in out.iterdir()) == ["data"]
