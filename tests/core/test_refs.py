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
