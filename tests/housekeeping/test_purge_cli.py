"""``lineal purge`` and how the show/get commands render a purged version."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import lineal
from cli.conftest import assert_one_line_error, build_world, cli, ok
from lineal.errors import Purged
from lineal.store import open_store

REASON = "erasure request #77"


def test_purge_command_and_reads_of_purged_versions(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    store = open_store(uri)
    try:
        build_world(store, uri, tmp_path)  # has the model "iris" (a directory artifact)
        with lineal.run("tables", capture=False, store=store) as run:
            run.log_dataset(pa.table({"id": [1, 2, 3], "email": ["a@x", "b@x", "c@x"]}),
                            name="people", store_bytes=True)
    finally:
        store.close()

    store = open_store(uri)
    try:
        lineal.registry.register_model("tree", "iris-tree@v1", aliases=["prod"], store=store)
    finally:
        store.close()
    by_registry = ok("purge", "tree@prod", "--reason", REASON, uri=uri)
    assert "default/iris-tree@v1 purged" in by_registry.out, "a registry reference names its model"

    for ref in ("people@v1", "iris@v1"):
        done = ok("purge", ref, "--reason", REASON, uri=uri)
        assert f"/{ref} purged: purged on " in done.out and REASON in done.out
        assert "deleted " in done.out
    again = ok("purge", "people@v1", "--reason", "x", "--json", uri=uri).json()
    assert not again["recorded"] and again["purged"]["reason"] == REASON

    for command in (("artifacts", "show", "people@v1"), ("datasets", "show", "people@v1"),
                    ("models", "show", "iris@v1")):
        shown = ok(*command, uri=uri)
        assert "purged:" in shown.out and REASON in shown.out, (command, shown.out)
        as_json = ok(*command, "--json", uri=uri).json()
        assert as_json["purged"]["reason"] == REASON, command
    assert_one_line_error(cli("artifacts", "get", "people@v1", "-o", str(tmp_path / "o"),
                              uri=uri), 3, "people@v1", "purged on", REASON)
    assert not (tmp_path / "o").exists()
    verify = ok("verify", uri=uri)
    assert "3 purged" in verify.out and "unreferenced" not in verify.out

    store = open_store(uri)
    try:
        with pytest.raises(Purged, match=REASON):
            lineal.load_model("iris@v1", store=store)
        with pytest.raises(Purged, match=REASON):
            lineal.datasets.load_dataset("people@v1", store=store)
    finally:
        store.close()

    missing = cli("purge", "people@v1", uri=uri)
    assert missing.code == 2 and "Missing option '--reason'" in missing.err
    assert_one_line_error(cli("purge", "people@v1", "--reason", " ", uri=uri), 2, "reason")
    assert_one_line_error(cli("purge", "nothing@v1", "--reason", "r", uri=uri), 3)
