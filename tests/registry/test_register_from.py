"""``lineal registry register NAME --from REF`` on every metadata backend: a reference names a
model artifact first (even one named like the registered model), and a registration that fails
writes nothing: no empty registered model, no version without its aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lineal import registry
from lineal.errors import InvalidArgument, PermissionDenied
from lineal.identity import current_principal
from lineal.refs import parse_ref
from lineal.store import Store

Lineal = Callable[..., Any]  # the lineal_cli fixture (tests/registry/conftest.py)


def test_an_artifact_named_like_the_model_registers(
    backend_store: Store, train: Callable, lineal_cli: Lineal, ledger_size: Callable
) -> None:
    a1 = train(backend_store, "m1", name="churn")
    a2 = train(backend_store, "m2", name="churn")
    r = lineal_cli("registry", "register", "churn", "--from", "churn@v1", "--json")
    assert r.code == 0, r
    assert (r.json()["ref"], r.json()["artifact_ref"]) == ("default/churn@v1", a1.ref)
    # Now that the registered model churn exists, churn@v2 still names the artifact (the
    # registered model has no v2 yet).
    r = lineal_cli("registry", "register", "churn", "--from", "churn@v2", "--alias", "candidate")
    assert r.code == 0 and r.out.startswith(f"registered default/churn@v2 -> {a2.ref} "), r
    assert registry.get_version("churn@candidate").artifact_version_id == a2.id
    # Elsewhere a reference keeps meaning the registry first.
    assert registry.resolve_model_ref("churn@v1")[0].version == 1  # type: ignore[union-attr]
    before = ledger_size(backend_store)
    r = lineal_cli("registry", "register", "churn", "--from", "churn@v1")
    assert r.code == 4 and "already registered as default/churn@v1" in r.err, r
    assert ledger_size(backend_store) == before


def test_a_registry_reference_is_the_source_when_no_artifact_has_that_name(
    backend_store: Store, train: Callable
) -> None:
    m1 = train(backend_store, "m1")
    registry.register_model("churn", m1.ref, aliases=["prod"])
    copied = registry.register_model("churn-eu", "churn@prod")
    assert copied.ref == "default/churn-eu@v1" and copied.artifact_version_id == m1.id


def test_a_failed_registration_writes_nothing(
    backend_store: Store, train: Callable, ledger_size: Callable, lineal_cli: Lineal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = train(backend_store, "m1")
    dataset = backend_store.metadata.resolve(parse_ref("churn-train@v1", "default"))
    before = ledger_size(backend_store)
    # The store creates the model and the version in one transaction: a version that cannot be
    # created (here: a dataset, not a model) leaves no registered model behind.
    with pytest.raises(InvalidArgument, match="is a 'dataset' artifact, not a model"):
        backend_store.metadata.create_model_version(  # type: ignore[attr-defined]
            "default", "brand-new", dataset.id, actor=current_principal(), create_model=True)
    r = lineal_cli("registry", "register", "brand-new", "--from", "churn-train@v1")
    assert r.code == 2 and "not a model" in r.err, r
    r = lineal_cli("registry", "register", "brand-new", "--from", model.ref, "--alias", "latest")
    assert r.code == 2 and "'latest' always means the highest version" in r.err, r
    assert ledger_size(backend_store) == before and registry.list_models() == []

    # An alias refused inside the transaction (protected, and we are no admin) takes the
    # version down with it: no version without the aliases it was registered with.
    monkeypatch.setenv("LINEAL_ADMINS", "someone-else")
    registry.create_model("churn", protected_aliases=["prod"])
    before = ledger_size(backend_store)
    with pytest.raises(PermissionDenied, match="protected alias 'prod'"):
        registry.register_model("churn", model.ref, aliases=["candidate", "prod"])
    assert ledger_size(backend_store) == before
    assert registry.get_model("churn").latest_version == 0 and registry.list_versions("churn") == []
