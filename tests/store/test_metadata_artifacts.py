"""The MetadataStore contract for artifact versions, aliases, tags, lineage edges and the audit
ledger, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from lineal.entities import ArtifactVersion, EdgeDirection, Run, RunStatus, Storage, new_id, now_us
from lineal.errors import InvalidArgument, NotFound
from lineal.identity import os_account
from lineal.refs import parse_ref
from lineal.store import Store
from lineal.store.base import ArtifactFilter, MetadataStore, NewArtifactVersion
from lineal.store.types import GENESIS_HASH

# What every backend records: the SQL store the actor it is told, an HTTP store the server's
# principal (here the same OS account).
ACTOR = os_account()


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def spec(name: str = "data", content: str = "v1", **fields: Any) -> NewArtifactVersion:
    values: dict[str, Any] = {
        "project": "default",
        "name": name,
        "kind": "dataset",
        "digest": digest_of(content),
        "uri": f"file:///blobs/{content}",
        "size": len(content),
        "storage": Storage.STORED,
    }
    values.update(fields)
    return NewArtifactVersion(**values)


def add(meta: MetadataStore, name: str = "data", content: str = "v1", **fields: Any) -> ArtifactVersion:
    version, created = meta.create_artifact_version(spec(name, content, **fields), ACTOR)
    assert created
    return version


def make_run(meta: MetadataStore, name: str = "train") -> Run:
    run = Run(new_id(), "default", name, "train", RunStatus.RUNNING, datetime.now(UTC))
    meta.create_run(run, ACTOR)
    return run


def resolve(meta: MetadataStore, ref: str) -> ArtifactVersion:
    return meta.resolve(parse_ref(ref))


def ledger_size(meta: MetadataStore) -> int:
    entries = meta.ledger_entries(limit=1_000_000)
    return entries[-1].seq if entries else 0


# -- versions ------------------------------------------------------------------------------------
def test_versions_are_numbered_from_one(backend_store: Store) -> None:
    meta = backend_store.metadata
    versions = [add(meta, content=f"c{i}", metadata={"rows": i}) for i in range(4)]
    assert [v.version for v in versions] == [1, 2, 3, 4]
    v1 = meta.get_artifact_version(versions[0].id)
    assert (v1.project, v1.name, v1.kind, v1.storage) == ("default", "data", "dataset", Storage.STORED)
    assert (v1.digest, v1.uri, v1.size) == (digest_of("c0"), "file:///blobs/c0", 2)
    assert v1.metadata == {"rows": 0} and v1.created_by == ACTOR and not v1.is_directory
    assert v1.ref == "default/data@v1"


def test_same_content_same_name_returns_the_existing_version(backend_store: Store) -> None:
    meta = backend_store.metadata
    first = add(meta, content="same")
    add(meta, content="other")
    before = ledger_size(meta)
    again, created = meta.create_artifact_version(spec(content="same", tags={"x": "y"}), ACTOR)
    assert not created and again.id == first.id and again.version == 1
    assert ledger_size(meta) == before, "nothing is written"
    assert len(meta.list_artifact_versions(ArtifactFilter(name="data"))) == 2


def test_same_content_under_another_name_is_a_new_artifact(backend_store: Store) -> None:
    meta = backend_store.metadata
    a = add(meta, "train-set", content="rows")
    b = add(meta, "holdout", content="rows")
    c = add(meta, "rows", content="rows", project="other")
    assert a.id != b.id != c.id and a.version == b.version == c.version == 1
    assert len(meta.list_artifact_versions(ArtifactFilter(digest_prefix=digest_of("rows")))) == 3


def test_names_are_validated(backend_store: Store) -> None:
    meta = backend_store.metadata
    for bad in (spec(name="../etc"), spec(name=""), spec(project="a b"), spec(aliases=["v2"])):
        with pytest.raises(InvalidArgument):
            meta.create_artifact_version(bad, ACTOR)
    assert ledger_size(meta) == 0


# -- resolving -----------------------------------------------------------------------------------
def test_resolve_by_version_latest_alias_and_digest(backend_store: Store) -> None:
    meta = backend_store.metadata
    v1, v2, v3 = (add(meta, content=c) for c in ("a", "b", "c"))
    meta.set_alias("default", "data", "champion", 2, ACTOR)
    assert resolve(meta, "data@v1").id == v1.id
    assert resolve(meta, "data@1").id == v1.id
    assert resolve(meta, "data").id == v3.id
    assert resolve(meta, "data@latest").id == v3.id
    assert resolve(meta, "default/data@champion").id == v2.id
    assert resolve(meta, f"data@{v2.digest[:13]}").id == v2.id
    assert resolve(meta, f"data@{v2.digest}").id == v2.id
    assert resolve(meta, "data@latest").aliases == ("latest",)
    assert resolve(meta, "data@v2").aliases == ("champion",)


def test_ambiguous_digest_prefix_is_invalid(backend_store: Store) -> None:
    meta = backend_store.metadata
    add(meta, content="one", digest="sha256:abcd" + "1" * 60)
    add(meta, content="two", digest="sha256:abcd" + "2" * 60)
    with pytest.raises(InvalidArgument, match="ambiguous"):
        resolve(meta, "data@sha256:abcd")
    assert resolve(meta, "data@sha256:abcd2").version == 2
    with pytest.raises(NotFound):
        resolve(meta, "data@sha256:abce")


def test_unknown_name_or_version_is_not_found_with_a_hint(backend_store: Store) -> None:
    meta = backend_store.metadata
    add(meta)
    with pytest.raises(NotFound) as missing_name:
        resolve(meta, "nothing-here")
    assert "nothing-here" in str(missing_name.value) and missing_name.value.hint
    with pytest.raises(NotFound) as missing_version:
        resolve(meta, "data@v7")
    assert "v7" in str(missing_version.value) and "lineal artifacts list" in str(missing_version.value.hint)
    with pytest.raises(NotFound):
        resolve(meta, "data@no-such-alias")
    with pytest.raises(NotFound):
        resolve(meta, "other-project/data")
    with pytest.raises(NotFound):
        meta.get_artifact_version(new_id())


# -- aliases and tags ----------------------------------------------------------------------------
def test_aliases_set_move_and_remove(backend_store: Store) -> None:
    meta = backend_store.metadata
    add(meta, content="a", aliases=["staging"])
    add(meta, content="b")
    assert resolve(meta, "data@staging").version == 1
    meta.set_alias("default", "data", "staging", 2, ACTOR)  # move
    assert resolve(meta, "data@staging").version == 2
    assert resolve(meta, "data@v1").aliases == ()
    assert set(resolve(meta, "data@v2").aliases) == {"latest", "staging"}
    before = ledger_size(meta)
    meta.set_alias("default", "data", "staging", 2, ACTOR)  # already there: nothing written
    assert ledger_size(meta) == before
    meta.remove_alias("default", "data", "staging", ACTOR)
    with pytest.raises(NotFound):
        resolve(meta, "data@staging")
    with pytest.raises(NotFound):
        meta.remove_alias("default", "data", "staging", ACTOR)
    with pytest.raises(NotFound):
        meta.set_alias("default", "data", "prod", 9, ACTOR)
    with pytest.raises(NotFound):
        meta.set_alias("default", "nope", "prod", 1, ACTOR)
    actions = [e.action for e in meta.ledger_entries(limit=1000, action="alias")]
    assert actions == ["alias.set", "alias.move", "alias.remove"]


@pytest.mark.parametrize("alias", ["latest", "v3", "12", "sha256abc", "bad alias", ""])
def test_invalid_aliases_are_refused(backend_store: Store, alias: str) -> None:
    meta = backend_store.metadata
    add(meta)
    before = ledger_size(meta)
    with pytest.raises(InvalidArgument):
        meta.set_alias("default", "data", alias, 1, ACTOR)
    assert ledger_size(meta) == before


def test_artifact_tags(backend_store: Store) -> None:
    meta = backend_store.metadata
    version = add(meta, tags={"pii": "no", "source": "crm"})
    assert version.tags == {"pii": "no", "source": "crm"}
    meta.set_artifact_tags(version.id, {"pii": "yes", "reviewed": "1"}, ACTOR)
    assert meta.get_artifact_version(version.id).tags == {
        "pii": "yes", "source": "crm", "reviewed": "1",
    }
    with pytest.raises(NotFound):
        meta.set_artifact_tags(new_id(), {"a": "b"}, ACTOR)


def test_list_artifact_versions_filters(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta)
    t_start = now_us()
    a1 = add(meta, "features", content="f1", kind="dataset", tags={"split": "train"})
    a2 = add(meta, "features", content="f2", kind="dataset", producer_run_id=run.id)
    m1 = add(meta, "model", content="m1", kind="model", producer_run_id=run.id,
             tags={"split": "train", "algo": "gbm"})
    o1 = add(meta, "features", content="f1", project="other")
    ids = {a1.id: "a1", a2.id: "a2", m1.id: "m1", o1.id: "o1"}

    def names(**fields: Any) -> list[str]:
        return [ids[v.id] for v in meta.list_artifact_versions(ArtifactFilter(**fields))]

    assert names() == ["o1", "m1", "a2", "a1"], "newest first"
    assert names(project="default") == ["m1", "a2", "a1"]
    assert names(name="features") == ["o1", "a2", "a1"]
    assert names(name="features", project="default") == ["a2", "a1"]
    assert names(kind="model") == ["m1"]
    assert names(digest_prefix=a1.digest[:12]) == ["o1", "a1"]
    assert names(digest_prefix=a1.digest.removeprefix("sha256:")[:8]) == ["o1", "a1"]
    assert names(producer_run_id=run.id) == ["m1", "a2"]
    assert names(tags={"split": "train"}) == ["m1", "a1"]
    assert names(tags={"split": "train", "algo": "gbm"}) == ["m1"]
    assert names(created_after_us=t_start) == ["o1", "m1", "a2", "a1"]
    assert names(created_before_us=t_start) == []
    assert names(limit=2) == ["o1", "m1"]
    assert names(limit=2, offset=2) == ["a2", "a1"]


# -- lineage edges -------------------------------------------------------------------------------
def test_output_edge_is_recorded_for_the_producer(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta)
    version = add(meta, producer_run_id=run.id)
    edges = meta.list_edges(run_id=run.id)
    assert [(e.artifact_id, e.direction, e.role) for e in edges] == [
        (version.id, EdgeDirection.OUTPUT, "output")
    ]
    assert version.producer_run_id == run.id
    with pytest.raises(NotFound):
        meta.create_artifact_version(spec(content="x", producer_run_id=new_id()), ACTOR)


def test_edges_are_idempotent_and_listed_both_ways(backend_store: Store) -> None:
    meta = backend_store.metadata
    producer, consumer = make_run(meta, "prep"), make_run(meta, "train")
    data = add(meta, producer_run_id=producer.id)
    other = add(meta, "labels", content="labels")
    meta.add_edge(consumer.id, data.id, EdgeDirection.INPUT, "training-data", ACTOR)
    before = ledger_size(meta)
    meta.add_edge(consumer.id, data.id, EdgeDirection.INPUT, "training-data", ACTOR)
    assert ledger_size(meta) == before, "adding an existing edge writes nothing"
    meta.add_edge(consumer.id, other.id, EdgeDirection.INPUT, "labels", ACTOR)
    meta.add_edge(consumer.id, data.id, EdgeDirection.INPUT, "validation", ACTOR)  # another role

    by_run = {(e.artifact_id, e.role) for e in meta.list_edges(run_id=consumer.id)}
    assert by_run == {(data.id, "training-data"), (other.id, "labels"), (data.id, "validation")}
    by_version = {(e.run_id, e.direction, e.role) for e in meta.list_edges(version_id=data.id)}
    assert by_version == {
        (producer.id, EdgeDirection.OUTPUT, "output"),
        (consumer.id, EdgeDirection.INPUT, "training-data"),
        (consumer.id, EdgeDirection.INPUT, "validation"),
    }
    assert len(meta.list_edges(run_id=consumer.id, version_id=data.id)) == 2
    with pytest.raises(NotFound):
        meta.add_edge(new_id(), data.id, EdgeDirection.INPUT, "x", ACTOR)
    with pytest.raises(NotFound):
        meta.add_edge(consumer.id, new_id(), EdgeDirection.INPUT, "x", ACTOR)
    with pytest.raises(InvalidArgument):
        meta.add_edge(consumer.id, data.id, EdgeDirection.INPUT, "bad role!", ACTOR)


# -- the audit ledger ----------------------------------------------------------------------------
def test_every_write_extends_one_linked_chain(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta)
    writes = [
        lambda: meta.log_batch(run.id, ACTOR, params={"a": 1}),
        lambda: meta.log_batch(run.id, ACTOR, tags={"t": "1"}),
        lambda: add(meta, producer_run_id=run.id),
        lambda: meta.set_alias("default", "data", "prod", 1, ACTOR),
        lambda: meta.add_edge(run.id, resolve(meta, "data").id, EdgeDirection.INPUT, "in", ACTOR),
        lambda: meta.set_artifact_tags(resolve(meta, "data").id, {"k": "v"}, ACTOR),
        lambda: meta.remove_alias("default", "data", "prod", ACTOR),
        lambda: meta.finish_run(run.id, RunStatus.FINISHED, now_us(), None, ACTOR),
    ]
    for write in writes:
        before = ledger_size(meta)
        write()
        assert ledger_size(meta) > before
    reads = [
        lambda: meta.get_run(run.id),
        lambda: resolve(meta, "data"),
        lambda: meta.list_edges(run_id=run.id),
        lambda: meta.info(),
    ]
    before = ledger_size(meta)
    for read in reads:
        read()
    assert ledger_size(meta) == before, "reads append nothing"

    entries = meta.ledger_entries(limit=1_000_000)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == GENESIS_HASH
    for prev, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_hash == prev.hash
    assert all(e.actor == ACTOR for e in entries)
    report = meta.verify_ledger()
    assert report.ok, report.problems
    assert (report.head_seq, report.head_hash) == (entries[-1].seq, entries[-1].hash)


def test_ledger_entries_filters_and_paging(backend_store: Store) -> None:
    meta = backend_store.metadata
    run = make_run(meta)
    add(meta, producer_run_id=run.id)
    entries = meta.ledger_entries(limit=1000)
    assert meta.ledger_entries(after_seq=2, limit=2) == entries[2:4]
    assert {e.entity_id for e in meta.ledger_entries(entity_id=run.id, limit=1000)} == {run.id}
    assert all(e.action.startswith("artifact") for e in meta.ledger_entries(action="artifact"))
    assert meta.ledger_entries(actor="someone-else") == []
    assert meta.ledger_entries(since_us=now_us() + 10**9) == []


# -- what verify and store info read through the contract ----------------------------------------
def test_artifact_aliases_lists_every_alias_with_its_versions_artifact(backend_store: Store) -> None:
    from lineal.store.types import AliasRecord

    meta = backend_store.metadata
    assert meta.artifact_aliases() == []
    add(meta, content="a1")
    v2 = add(meta, content="a2")
    other = add(meta, name="other", content="o1")
    meta.set_alias("default", "data", "prod", 2, ACTOR)
    meta.set_alias("default", "other", "best", 1, ACTOR)
    records = meta.artifact_aliases()
    assert sorted((r.alias, r.version_id) for r in records) == [("best", other.id), ("prod", v2.id)]
    assert all(isinstance(r, AliasRecord) and r.version_artifact_id == r.artifact_id for r in records)


def test_info_reports_backend_schema_counts_and_sizes(backend_store: Store) -> None:
    meta = backend_store.metadata
    add(meta, content="i1")
    info = meta.info()
    assert info["backend"] in ("sqlite", "postgresql", "mysql", "mariadb")
    assert info["schema_revision"] == info["schema_head"]
    assert info["counts"]["artifact_versions"] == 1 and info["counts"]["ledger"] >= 1
    assert info["database_bytes"] is None or info["database_bytes"] > 0
    if info["database_file"] is not None:
        assert info["database_file"]["bytes"] > 0
        assert info["database_bytes"] == info["database_file"]["bytes"] + info["database_file"]["wal_bytes"]
