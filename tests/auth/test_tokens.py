"""API tokens end to end: made with the SDK, presented as a bearer credential."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

import lineal
from lineal.auth import Authenticator, AuthMethod, AuthSettings, Role
from lineal.errors import InvalidArgument, NotFound, Unauthenticated
from lineal.store import Store
from lineal.tokens import TOKEN_PREFIX, expiry, hash_secret

from .conftest import bearer


@pytest.fixture
def auth(auth_store: Store) -> Authenticator:
    return Authenticator(AuthSettings(enabled=True), auth_store)


def test_a_token_authenticates_with_its_role_in_its_project(auth: Authenticator,
                                                            auth_store: Store) -> None:
    token, secret = lineal.create_token("writer", project="churn", expires="30d", name="ci",
                                        store=auth_store)
    assert secret.startswith(TOKEN_PREFIX) and len(secret) > 40
    assert token.name == "ci" and token.role is Role.WRITER and token.project == "churn"
    assert token.expires_at is not None
    assert timedelta(days=29, hours=23) < token.expires_at - token.created_at <= timedelta(days=30)
    principal = auth.authenticate(bearer(secret), "198.51.100.7")
    assert principal.name == f"token:{token.id}" and principal.token_id == token.id
    assert principal.method is AuthMethod.TOKEN
    assert principal.role_in("churn") is Role.WRITER and principal.role_in("fraud") is None


def test_a_token_for_every_project(auth: Authenticator, auth_store: Store) -> None:
    token, secret = lineal.create_token(Role.ADMIN, store=auth_store)
    assert token.name == "admin@*" and token.project is None and token.expires_at is None
    principal = auth.authenticate({"authorization": f"bearer {secret}"}, None)
    assert principal.role_in("anything") is Role.ADMIN and principal.role_in(None) is Role.ADMIN


def test_secrets_are_not_kept_and_not_shown_again(auth_store: Store) -> None:
    token, secret = lineal.create_token("reader", store=auth_store)
    listed = lineal.list_tokens(store=auth_store)
    assert listed == [token]
    assert secret not in repr(listed) and secret not in str(token.to_dict())
    assert auth_store.metadata.api_token_by_hash(hash_secret(secret)) == token


@pytest.mark.parametrize("credential", [
    TOKEN_PREFIX + "made-up-secret",
    TOKEN_PREFIX,
])
def test_a_wrong_token_is_unauthenticated(auth: Authenticator, auth_store: Store,
                                          credential: str) -> None:
    lineal.create_token("reader", store=auth_store)
    with pytest.raises(Unauthenticated):
        auth.authenticate(bearer(credential), None)


def test_a_revoked_token_no_longer_authenticates(auth: Authenticator, auth_store: Store) -> None:
    token, secret = lineal.create_token("reader", store=auth_store)
    auth.authenticate(bearer(secret), None)
    revoked = lineal.revoke_token(token.id[:12].lower(), store=auth_store)  # a prefix will do
    assert revoked.id == token.id and revoked.status == "revoked"
    with pytest.raises(Unauthenticated, match="was revoked"):
        auth.authenticate(bearer(secret), None)


def test_an_expired_token_no_longer_authenticates(auth: Authenticator, auth_store: Store) -> None:
    token, secret = lineal.create_token("reader", expires=timedelta(seconds=1), store=auth_store)
    auth.authenticate(bearer(secret), None)
    time.sleep(max(0.0, (token.expires_at - datetime.now(UTC)).total_seconds()) + 0.05)  # type: ignore[operator]
    assert token.status == "expired"
    with pytest.raises(Unauthenticated, match="expired on"):
        auth.authenticate(bearer(secret), None)


def test_revoking_an_unknown_or_ambiguous_id(auth_store: Store) -> None:
    first, _ = lineal.create_token("reader", store=auth_store)
    lineal.create_token("reader", store=auth_store)
    with pytest.raises(NotFound):
        lineal.revoke_token("ZZZZZZZZ", store=auth_store)
    with pytest.raises(InvalidArgument, match="start of 2"):
        lineal.revoke_token(first.id[:2], store=auth_store)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"role": "owner"}, "not a role"),
    ({"role": "reader", "project": "bad project"}, "invalid project"),
    ({"role": "reader", "expires": "soon"}, "not an age"),
    ({"role": "reader", "expires": "-3d"}, "not an age"),
    ({"role": "reader", "expires": datetime(2000, 1, 1, tzinfo=UTC)}, "not in the future"),
    ({"role": "reader", "name": ""}, "invalid token name"),
    ({"role": "reader", "name": "x" * 129}, "invalid token name"),
])
def test_bad_token_requests_write_nothing(auth_store: Store, kwargs: dict[str, object],
                                          message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        lineal.create_token(store=auth_store, **kwargs)  # type: ignore[arg-type]
    assert lineal.list_tokens(store=auth_store) == []


def test_expiry_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert expiry(None, now=now) is None
    assert expiry("12h", now=now) == now + timedelta(hours=12)
    assert expiry("2w", now=now) == now + timedelta(weeks=2)
    assert expiry(timedelta(days=1), now=now) == now + timedelta(days=1)
    assert expiry(datetime(2026, 2, 1, tzinfo=UTC), now=now) == datetime(2026, 2, 1, tzinfo=UTC)


def test_the_ledger_records_who_made_and_revoked_a_token(auth_store: Store) -> None:
    from lineal.identity import _acting_as

    with _acting_as("alice"):
        token, _ = lineal.create_token("writer", project="churn", store=auth_store)
    with _acting_as("bob"):
        lineal.revoke_token(token.id, store=auth_store)
    entries = auth_store.metadata.ledger_entries(entity_id=token.id)
    assert [(e.action, e.actor) for e in entries] == [("token.create", "alice"),
                                                      ("token.revoke", "bob")]
    assert lineal.list_tokens(store=auth_store)[0].created_by == "alice"
