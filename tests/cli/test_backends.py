"""The core commands on each metadata backend: SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path

from .conftest import World, assert_one_line_error


def test_core_commands_on_every_backend(backend_world: World, tmp_path: Path) -> None:
    w = backend_world
    runs = w.ok("runs", "list", "--json").json()
    assert {r["id"] for r in runs} == set(w.runs.values())
    assert [r["name"] for r in w.ok("runs", "list", "--tag", "team=ml", "--status", "failed",
                                    "--json").json()] == ["broken"]
    assert w.cutoff is not None
    assert [r["name"] for r in w.ok("runs", "list", "--since", w.cutoff.isoformat(),
                                    "--json").json()] == ["broken"]
    # Prefix lookup goes through SQL LIKE: it must behave the same on every database.
    shown = w.ok("runs", "show", w.runs["train"][:-3].lower(), "--json").json()
    assert shown["run"]["id"] == w.runs["train"]
    assert_one_line_error(w.cli("runs", "show", "01ZZZZZZZZZ"), 3)
    found = {v["ref"] for v in w.ok("artifacts", "list", "--kind", "dataset", "--json").json()}
    assert found == {"default/raw@v1", "default/features@v1"}
    w.ok("artifacts", "get", "features", "-o", str(tmp_path / "out"))
    source = w.root / "files" / "features"
    copied = tmp_path / "out"
    assert sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*") if p.is_file()) == \
        sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    assert (copied / "train.bin").read_bytes() == (source / "train.bin").read_bytes()
    info = w.ok("store", "info", "--json").json()
    assert info["backend"] in ("sqlite", "postgresql", "mysql")
    assert info["counts"]["runs"] == len(w.runs)
    assert info["database_bytes"] > 0
    assert info["blobs"]["count"] > 0
    text = w.ok("store", "info").out
    assert ("database file:" if info["backend"] == "sqlite" else "database size:") in text
