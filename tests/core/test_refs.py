from __future__ import annotations

import pytest

from lineal.errors import InvalidArgument
from lineal.refs import ArtifactRef, SelectorKind, parse_ref, validate_alias


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn", ArtifactRef("default", "churn", SelectorKind.LATEST)),
        ("churn@latest", ArtifactRef("default", "churn", SelectorKind.LATEST)),
        ("churn@v3", ArtifactRef("default", "churn", SelectorKind.VERSION, 3)),
        ("churn@3", ArtifactRef("default", "churn", SelectorKind.VERSION, 3)),
        ("churn@prod", ArtifactRef("default", "churn", SelectorKind.ALIAS, "prod")),
        ("churn@sha256:AbCd12", ArtifactRef("default", "churn", SelectorKind.DIGEST, "abcd12")),
        ("team-a/churn.model@v12", ArtifactRef("team-a", "churn.model", SelectorKind.VERSION, 12)),
    ],
)
def test_parse(text: str, expected: ArtifactRef) -> None:
    assert parse_ref(text) == expected


def test_default_project_is_used_when_none_given() -> None:
    assert parse_ref("x@v1", project="p").project == "p"
    assert parse_ref("q/x@v1", project="p").project == "q"


def test_str_round_trips() -> None:
    for text in ("p/n@v2", "p/n@latest", "p/n@champion", "p/n@sha256:abcd"):
        assert str(parse_ref(text)) == text


@pytest.mark.parametrize(
    "bad", ["", "  ", "a@@b", "a@", "@v1", "a/b/c", "../x", "a b", "x@v0", "x@sha256:zz", "x@sha256:ab"]
)
def test_bad_references_are_rejected_with_a_hint(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_ref(bad)


@pytest.mark.parametrize("alias", ["v3", "12", "sha256abc", "bad alias", ""])
def test_alias_validation(alias: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_alias(alias)


# -- the one reference rule (lineal.resolve) -------------------------------------------------------
def _shared_name_store(store, folder):  # type: ignore[no-untyped-def]
    """An artifact ``churn`` (v1, v2: a model) and a registered model ``churn`` whose v1 is the
    artifact ``churn@v2``; a plain artifact ``raw`` and a registered model ``other``."""
    import lineal
    from lineal import registry

    def file(text):  # type: ignore[no-untyped-def]
        path = folder / f"{text}.bin"
        path.write_text(text)
        return path

    with lineal.run("train", capture=False, store=store) as run:
        a1 = run.log_artifact(file("one"), name="churn", kind="model")
        a2 = run.log_artifact(file("two"), name="churn", kind="model")
        raw = run.log_artifact(file("raw"), name="raw", kind="dataset")
        o1 = run.log_artifact(file("other"), name="other-model", kind="model")
    registry.register_model("churn", "churn@v2", store=store)
    registry.register_model("other", "other-model@v1", store=store)
    return run, a1, a2, raw, o1


def test_resolver_precedence(backend_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lineal.resolve import resolve

    store = backend_store
    run, a1, a2, raw, o1 = _shared_name_store(store, tmp_path)
    # A registered model of that name wins: churn@v1 is the registry's v1 (artifact churn@v2).
    found = resolve("churn@v1", store)
    assert found.model_version is not None and found.model_version.version == 1
    assert found.artifact is not None and found.artifact.id == a2.id
    assert resolve("churn", store).artifact.id == a2.id  # type: ignore[union-attr]
    # A digest is always an artifact.
    by_digest = resolve(f"churn@{a1.digest[:12]}", store)
    assert by_digest.model_version is None and by_digest.artifact.id == a1.id  # type: ignore[union-attr]
    # No registered model of that name: the artifact.
    assert resolve("raw@v1", store).artifact.id == raw.id  # type: ignore[union-attr]
    # Runs: run:ID and a full run id.
    assert resolve(f"run:{run.id}", store).run.id == run.id  # type: ignore[union-attr]
    assert resolve(run.id, store).artifact is None
    # want="artifact" (registration sources): the artifact first, the registry as a fallback.
    assert resolve("churn@v1", store, want="artifact").artifact.id == a1.id  # type: ignore[union-attr]
    assert resolve("other@v1", store, want="artifact").artifact.id == o1.id  # type: ignore[union-attr]


def test_resolver_errors(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lineal.errors import NotFound
    from lineal.resolve import resolve

    run, *_ = _shared_name_store(store, tmp_path)
    with pytest.raises(NotFound, match="no registered model or artifact named 'nope'"):
        resolve("nope@v1", store)
    with pytest.raises(NotFound):
        resolve("churn@v9", store)  # the registered model has no v9: no fallback to the artifact
    with pytest.raises(InvalidArgument, match="not a model"):
        resolve("raw@v1", store, want="model")
    with pytest.raises(InvalidArgument, match="names a run"):
        resolve(f"run:{run.id}", store, want="artifact")
    with pytest.raises(NotFound, match="no registered model named 'raw'"):
        resolve("model:raw@v1", store)


def test_every_entry_point_uses_the_same_rule(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """lineage, questions, reproduce, purge resolution, load_model and the registry agree."""
    import lineal
    from lineal import housekeeping, lineage, registry
    from lineal.entities import NodeType
    from lineal.lineage._subject import resolve_subject
    from lineal.models.tracking import resolve_model
    from lineal.reproduce._plan import _resolve as reproduce_resolve

    run, a1, a2, *_ = _shared_name_store(store, tmp_path)
    assert lineage.node("churn@v1", store=store).type is NodeType.MODEL_VERSION
    assert resolve_subject("churn@v1", store=store).artifact.id == a2.id  # type: ignore[union-attr]
    assert reproduce_resolve(store, "churn@v1", None)[1].id == a2.id  # type: ignore[union-attr]
    assert housekeeping._resolve(store, "churn@v1", None).id == a2.id
    assert resolve_model("churn@v1", store).id == a2.id
    assert registry.resolve_model_ref("churn@v1", store=store)[1].id == a2.id
    assert lineal.get_artifact("churn@v1", store=store).id == a2.id
    # An artifact can still be named explicitly.
    assert lineage.node("artifact:churn@v1", store=store).id == a1.id
    # registry register --from: the source is the artifact.
    v2 = registry.register_model("churn", "churn@v1", store=store)
    assert v2.artifact_version_id == a1.id
