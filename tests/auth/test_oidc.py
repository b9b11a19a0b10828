"""OIDC bearer tokens: real RSA-signed JWTs checked against a JWKS from a URL or a file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from lineal.auth import Authenticator, AuthMethod, AuthSettings, Role
from lineal.errors import InvalidArgument, StoreError, Unauthenticated
from lineal.store import Store

from .conftest import AUDIENCE, ISSUER, JwksServer, SigningKey, bearer, jwks


def _settings(**changes: Any) -> AuthSettings:
    values: dict[str, Any] = {"enabled": True, "oidc_issuer": ISSUER, "oidc_audience": AUDIENCE}
    values.update(changes)
    return AuthSettings(**values)


@pytest.fixture
def by_url(jwks_server: JwksServer, auth_store: Store) -> Authenticator:
    return Authenticator(_settings(oidc_jwks_url=jwks_server.url, jwks_refetch_min_s=0),
                         auth_store)


def test_a_valid_token_names_its_principal_with_its_roles(
        by_url: Authenticator, keys: dict[str, SigningKey], jwks_server: JwksServer) -> None:
    token = keys["current"].sign({"roles": ["admin:churn", "reader", "some-other-group"]})
    principal = by_url.authenticate(bearer(token), "203.0.113.9")
    assert principal.name == "u-123" and principal.method is AuthMethod.OIDC
    assert principal.roles == {"churn": Role.ADMIN, "*": Role.READER}
    assert principal.role_in("churn") is Role.ADMIN and principal.role_in("fraud") is Role.READER
    by_url.authenticate(bearer(token), None)
    assert jwks_server.requests == 1, "the JWKS is cached"


def test_the_jwks_can_be_a_local_file(jwks_file: Path, auth_store: Store,
                                      keys: dict[str, SigningKey]) -> None:
    auth = Authenticator(_settings(oidc_jwks_file=jwks_file, oidc_name_claim="email"), auth_store)
    principal = auth.authenticate(bearer(keys["current"].sign({"roles": "writer"})), None)
    assert principal.name == "ana@example.test" and principal.roles == {"*": Role.WRITER}
    # A rotation written to the file is picked up (the file changed).
    jwks_file.write_text(json.dumps(jwks(keys["current"], keys["next"])))
    later = time.time() + 5
    import os

    os.utime(jwks_file, (later, later))
    assert auth.authenticate(bearer(keys["next"].sign()), None).name == "ana@example.test"


@pytest.mark.parametrize(("case", "reason"), [
    ("bad signature", "signature does not verify"),
    ("wrong issuer", "not issued by the configured issuer"),
    ("wrong audience", "not for this server"),
    ("no audience", "not valid"),
    ("expired", "expired"),
    ("no expiry", "not valid"),
    ("unknown kid", "not among the issuer's keys"),
    ("HS256", "not allowed"),
    ("not a JWT", "not a valid JWT"),
])
def test_tokens_that_are_refused(by_url: Authenticator, keys: dict[str, SigningKey],
                                 case: str, reason: str) -> None:
    current = keys["current"]
    token = {
        "bad signature": lambda: keys["attacker"].sign(),  # same kid, other key
        "wrong issuer": lambda: current.sign(iss="https://evil.example.test"),
        "wrong audience": lambda: current.sign(aud="another-app"),
        "no audience": lambda: current.sign(aud=None),
        "expired": lambda: current.sign(exp=int(time.time()) - 3600),
        "no expiry": lambda: current.sign(exp=None),
        "unknown kid": lambda: current.sign(kid="k-unknown"),
        "HS256": lambda: jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x",
                                     "exp": int(time.time()) + 60}, "a-shared-secret-of-32-bytes!!!!!",
                                    algorithm="HS256", headers={"kid": "k1"}),
        "not a JWT": lambda: "not-a-jwt-at-all",
    }[case]()
    with pytest.raises(Unauthenticated) as caught:
        by_url.authenticate(bearer(token), None)
    assert reason in str(caught.value)
    assert caught.value.http_status == 401


def test_the_leeway_tolerates_clock_skew(by_url: Authenticator, keys: dict[str, SigningKey]) -> None:
    token = keys["current"].sign(exp=int(time.time()) - 10)
    assert by_url.authenticate(bearer(token), None).name == "u-123"


def test_an_unknown_kid_refetches_the_jwks_to_pick_up_a_rotation(
        by_url: Authenticator, keys: dict[str, SigningKey], jwks_server: JwksServer) -> None:
    by_url.authenticate(bearer(keys["current"].sign()), None)
    jwks_server.document = jwks(keys["current"], keys["next"])
    assert by_url.authenticate(bearer(keys["next"].sign()), None).name == "u-123"
    assert jwks_server.requests == 2


def test_unknown_kids_refetch_at_most_every_refetch_interval(
        jwks_server: JwksServer, auth_store: Store, keys: dict[str, SigningKey]) -> None:
    auth = Authenticator(_settings(oidc_jwks_url=jwks_server.url, jwks_refetch_min_s=3600),
                         auth_store)
    auth.authenticate(bearer(keys["current"].sign()), None)
    for n in range(5):
        with pytest.raises(Unauthenticated):
            auth.authenticate(bearer(keys["current"].sign(kid=f"made-up-{n}")), None)
    assert jwks_server.requests == 1


def test_a_token_without_kid_uses_the_only_key(by_url: Authenticator,
                                                keys: dict[str, SigningKey],
                                                jwks_server: JwksServer) -> None:
    assert by_url.authenticate(bearer(keys["current"].sign(kid=None)), None).name == "u-123"
    jwks_server.document = jwks(keys["current"], keys["next"])
    by_url.keys._keys = None  # type: ignore[union-attr]  # as after the cache expired
    with pytest.raises(Unauthenticated, match="names no key id"):
        by_url.authenticate(bearer(keys["current"].sign(kid=None)), None)


def test_an_unreachable_issuer_is_a_store_error_not_the_callers_fault(
        auth_store: Store, keys: dict[str, SigningKey], jwks_server: JwksServer) -> None:
    jwks_server.status = 500
    auth = Authenticator(_settings(oidc_jwks_url=jwks_server.url), auth_store)
    with pytest.raises(StoreError, match="cannot fetch the OIDC issuer's keys"):
        auth.authenticate(bearer(keys["current"].sign()), None)


def test_keys_fetched_before_outlive_a_failed_refresh(
        jwks_server: JwksServer, auth_store: Store, keys: dict[str, SigningKey]) -> None:
    auth = Authenticator(_settings(oidc_jwks_url=jwks_server.url, jwks_cache_s=0), auth_store)
    auth.authenticate(bearer(keys["current"].sign()), None)
    jwks_server.status = 503
    assert auth.authenticate(bearer(keys["current"].sign()), None).name == "u-123"
    assert jwks_server.requests == 2


@pytest.mark.parametrize(("claims", "settings", "expected"), [
    ({"groups": ["ml-admins", "staff"]},
     {"oidc_role_claim": "groups", "role_map": {"ml-admins": ["admin"], "staff": ["reader"]}},
     {"*": Role.ADMIN}),
    ({"groups": ["churn-team"]},
     {"oidc_role_claim": "groups", "role_map": {"churn-team": ["writer:churn", "reader:fraud"]},
      "default_roles": ["reader"]},
     {"*": Role.READER, "churn": Role.WRITER, "fraud": Role.READER}),
    ({"realm_access": {"roles": ["writer:churn", "offline_access"]}},
     {"oidc_role_claim": "realm_access.roles"},
     {"churn": Role.WRITER}),
    ({"roles": "reader writer:fraud"}, {}, {"*": Role.READER, "fraud": Role.WRITER}),
    ({"groups": ["admin"]},  # with a map, only mapped values count
     {"oidc_role_claim": "groups", "role_map": {"ml-admins": ["admin"]}}, {}),
    ({}, {}, {}),
])
def test_claims_map_to_roles(jwks_file: Path, auth_store: Store, keys: dict[str, SigningKey],
                             claims: dict[str, Any], settings: dict[str, Any],
                             expected: dict[str, Role]) -> None:
    auth = Authenticator(_settings(oidc_jwks_file=jwks_file, **settings), auth_store)
    principal = auth.authenticate(bearer(keys["current"].sign(claims)), None)
    assert principal.roles == expected


def test_a_token_without_the_name_claim_is_refused(jwks_file: Path, auth_store: Store,
                                                   keys: dict[str, SigningKey]) -> None:
    auth = Authenticator(_settings(oidc_jwks_file=jwks_file, oidc_name_claim="email"), auth_store)
    with pytest.raises(Unauthenticated, match="no 'email' claim"):
        auth.authenticate(bearer(keys["current"].sign(email=None)), None)


def test_without_oidc_a_jwt_is_refused(auth_store: Store, keys: dict[str, SigningKey]) -> None:
    auth = Authenticator(AuthSettings(enabled=True), auth_store)
    with pytest.raises(Unauthenticated, match="accepts no OIDC tokens"):
        auth.authenticate(bearer(keys["current"].sign()), None)


@pytest.mark.parametrize("changes", [
    {},  # neither a URL nor a file
    {"oidc_jwks_url": "https://x/jwks", "oidc_jwks_file": Path("jwks.json")},
    {"oidc_jwks_url": "file:///etc/jwks.json"},
    {"oidc_jwks_url": "https://x/jwks", "oidc_algorithms": ("HS256",)},
    {"oidc_jwks_url": "https://x/jwks", "role_map": {"g": ["owner"]}},
    {"oidc_jwks_url": "https://x/jwks", "default_roles": ["writer:bad project"]},
])
def test_bad_oidc_settings_are_refused_at_start(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        _settings(**changes)
