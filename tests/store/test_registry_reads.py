"""Resolving a model reference is two SELECTs in one read transaction, whichever selector it
uses, and a model version read whole (tags, aliases, approvals) is the same as the one it
resolves to: the registry's hottest read stays a fixed, small number of round trips."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from lineal.entities import ArtifactVersion, Decision, Storage
from lineal.errors import InvalidArgument, NotFound
from lineal.refs import parse_ref
from lineal.store import Store
from lineal.store.base import NewArtifactVersion

pytestmark = pytest.mark.sql  # the SQL implementation itself, not the contract


def _model_artifact(store: Store, content: bytes) -> ArtifactVersion:
    blob = store.blobs.put_bytes(content)
    spec = NewArtifactVersion(project="default", name="churn-model", kind="model",
                              digest=blob.digest, uri=blob.uri, size=blob.size,
                              storage=Storage.STORED, metadata={})
    return store.metadata.create_artifact_version(spec, "tester")[0]


@pytest.fixture
def statements(store: Store) -> Iterator[list[str]]:
    sent: list[str] = []
    engine = store.metadata.db.read_engine  # type: ignore[attr-defined]
    engine.dispose()  # new connections get the trace callback
    sa.event.listen(engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(sent.append))
    yield sent


def test_every_selector_resolves_in_two_selects(store: Store, statements: list[str]) -> None:
    md = store.metadata
    first = md.create_model_version("default", "churn", _model_artifact(store, b"one").id,
                                    actor="tester", tags={"team": "risk"}, aliases=["prod"],
                                    create_model=True)
    md.create_model_version("default", "churn", _model_artifact(store, b"two").id,
                            actor="tester", aliases=["next"])
    md.add_model_approval("default", "churn", 1, Decision.APPROVED, actor="reviewer")
    md.add_model_approval("default", "churn", 1, Decision.REJECTED, actor="reviewer",
                          comment="drift")
    digest = first.artifact_digest.removeprefix("sha256:")[:12]
    whole = md.list_model_versions("default", "churn")
    for text, number in (("churn@prod", 1), ("churn@v1", 1), ("churn@latest", 2),
                         ("churn", 2), (f"churn@sha256:{digest}", 1), ("churn@next", 2)):
        statements.clear()
        got = md.resolve_model_version(parse_ref(text, "default"))
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 2, (text, statements)
        assert got == next(v for v in whole if v.version == number), text
    one = md.resolve_model_version(parse_ref("churn@prod", "default"))
    assert one.tags == {"team": "risk"} and one.aliases == ("prod",)
    assert [(a.decision, a.comment) for a in one.approvals] == [
        (Decision.APPROVED, ""), (Decision.REJECTED, "drift")]


@pytest.mark.parametrize(("text", "error", "words"), [
    ("ghost@prod", NotFound, "no registered model 'ghost'"),
    ("churn@v9", NotFound, "has no version 9 (versions are v1..v1)"),
    ("churn@staging", NotFound, "has no alias 'staging'"),
    ("churn@sha256:ffffffff", NotFound, "no version of default/churn has a digest"),
    ("empty@latest", NotFound, "default/empty has no versions yet"),
    ("empty@v1", NotFound, "has no version 1 (it has no versions yet)"),
])
def test_what_is_missing_is_named(store: Store, text: str, error: type, words: str) -> None:
    md = store.metadata
    md.create_model_version("default", "churn", _model_artifact(store, b"one").id,
                            actor="tester", create_model=True)
    md.create_registered_model("default", "empty", actor="tester")
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        md.resolve_model_version(parse_ref(text, "default"))


def test_an_ambiguous_digest_prefix_is_refused(store: Store) -> None:
    seen: dict[str, bytes] = {}  # two contents whose digests share 4 hex digits (a birthday)
    for i in itertools.count():
        content = str(i).encode()
        prefix = hashlib.sha256(content).hexdigest()[:4]
        if prefix in seen:
            break
        seen[prefix] = content
    md = store.metadata
    md.create_model_version("default", "churn", _model_artifact(store, seen[prefix]).id,
                            actor="tester", create_model=True)
    md.create_model_version("default", "churn", _model_artifact(store, content).id,
                            actor="tester")
    with pytest.raises(InvalidArgument, match="ambiguous"):
        md.resolve_model_version(parse_ref(f"churn@sha256:{prefix}", "default"))
