"""On a server with auth, the admin role is what makes a registry admin: a caller authenticated
with it may loosen a model's policy without also being named in the registry's admin list (the
list of OS accounts that governs embedded use), and a writer may not, listed or not."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

import lineal
from lineal.entities import ModelPolicy
from lineal.store import Store
from lineal.store.http.client import HttpMetadataStore


def remote(client: TestClient, token: str) -> HttpMetadataStore:
    return HttpMetadataStore("http://testserver", token=token, client=client)


@pytest.fixture
def protected(auth_client: TestClient, tokens: dict[str, str]) -> HttpMetadataStore:
    writer = remote(auth_client, tokens["writer:churn"])
    writer.create_registered_model("churn", "clf", actor="ignored")
    remote(auth_client, tokens["admin:churn"]).set_model_policy(
        "churn", "clf", ModelPolicy(protected_aliases=("prod",)), actor="ignored")
    return writer


def test_an_admin_token_loosens_a_policy_with_no_admin_list(
        protected: HttpMetadataStore, auth_client: TestClient, tokens: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINEAL_ADMINS", raising=False)
    admin = remote(auth_client, tokens["admin:churn"])
    model = admin.set_model_policy("churn", "clf", ModelPolicy(), actor="ignored")
    assert model.policy.protected_aliases == ()


def test_an_admin_token_counts_beside_a_stored_admin_list(
        protected: HttpMetadataStore, auth_client: TestClient, embedded: Store,
        tokens: dict[str, str]) -> None:
    from lineal.identity import _acting_as

    with _acting_as("alice"):
        embedded.metadata.set_registry_admins(["alice"], actor="alice")
    admin = remote(auth_client, tokens["admin"])
    assert admin.set_model_policy("churn", "clf", ModelPolicy(),
                                  actor="ignored").policy.protected_aliases == ()


def test_on_the_server_the_list_names_no_admin(
        protected: HttpMetadataStore, auth_client: TestClient, embedded: Store,
        tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing a reader's principal in LINEAL_ADMINS gives it nothing on the server: the role
    decides there (the list governs embedded use, where the OS account is the principal)."""
    reader = remote(auth_client, tokens["reader:churn"])
    names = [f"token:{t.id}" for t in embedded.metadata.list_api_tokens()]
    monkeypatch.setenv("LINEAL_ADMINS", ",".join(names))
    with pytest.raises(lineal.PermissionDenied):
        reader.set_model_policy("churn", "clf", ModelPolicy(), actor="ignored")
    assert embedded.metadata.find_registered_model("churn", "clf").policy.protected_aliases == (
        "prod",)
