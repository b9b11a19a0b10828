"""The trusted proxy header, auth off, roles and their checks."""

from __future__ import annotations

from typing import Any

import pytest

import lineal
from lineal.auth import (
    Authenticator,
    AuthMethod,
    AuthSettings,
    Principal,
    Role,
    acting_as,
    local_principal,
    parse_grant,
    require,
)
from lineal.errors import InvalidArgument, PermissionDenied, Unauthenticated
from lineal.identity import current_principal
from lineal.store import Store

from .conftest import bearer


def _proxy(store: Store, **changes: Any) -> Authenticator:
    values: dict[str, Any] = {"enabled": True, "proxy_header": "X-Forwarded-User",
                              "proxy_groups_header": "X-Forwarded-Groups",
                              "trusted_proxies": ["10.1.0.0/16", "127.0.0.1", "fd00::/8"],
                              "role_map": {"ml": ["writer:churn"], "ops": ["admin"]},
                              "default_roles": ["reader"]}
    values.update(changes)
    return Authenticator(AuthSettings(**values), store)


@pytest.mark.parametrize("host", ["10.1.2.3", "127.0.0.1", "fd00::5", "::ffff:10.1.9.9"])
def test_the_header_is_believed_from_a_trusted_proxy(auth_store: Store, host: str) -> None:
    principal = _proxy(auth_store).authenticate(
        {"X-Forwarded-User": " ana ", "X-Forwarded-Groups": "ml, staff"}, host)
    assert principal.name == "ana" and principal.method is AuthMethod.PROXY
    assert principal.roles == {"*": Role.READER, "churn": Role.WRITER}


@pytest.mark.parametrize("host", ["10.2.0.1", "192.168.1.1", "::1", None, "", "not-an-ip"])
def test_the_header_is_refused_from_anywhere_else(auth_store: Store, host: str | None) -> None:
    with pytest.raises(Unauthenticated, match="only from a trusted proxy"):
        _proxy(auth_store).authenticate({"x-forwarded-user": "ana"}, host)


def test_a_header_sent_twice_is_refused(auth_store: Store) -> None:
    twice = [("X-Forwarded-User", "ana"), ("x-forwarded-user", "admin"), ("accept", "a"),
             ("accept", "b")]

    class Headers:  # Starlette's Headers lists a repeated header once per value
        def items(self) -> list[tuple[str, str]]:
            return twice

    with pytest.raises(Unauthenticated, match="more than once"):
        _proxy(auth_store).authenticate(Headers(), "10.1.0.1")  # type: ignore[arg-type]
    ok = Headers()
    twice[:] = [("X-Forwarded-User", "ana"), ("accept", "a"), ("accept", "b")]
    assert _proxy(auth_store).authenticate(ok, "10.1.0.1").name == "ana"  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "   ", "a" * 129, "ana\nadmin"])
def test_an_unusable_name_is_refused(auth_store: Store, name: str) -> None:
    with pytest.raises(Unauthenticated, match="usable name"):
        _proxy(auth_store).authenticate({"X-Forwarded-User": name}, "10.1.0.1")


def test_a_bearer_token_wins_over_the_proxy_header(auth_store: Store) -> None:
    token, secret = lineal.create_token("writer", project="churn", store=auth_store)
    principal = _proxy(auth_store).authenticate(
        {**bearer(secret), "X-Forwarded-User": "ana"}, "10.1.0.1")
    assert principal.name == f"token:{token.id}"


def test_without_a_credential_is_unauthenticated(auth_store: Store) -> None:
    auth = _proxy(auth_store)
    with pytest.raises(Unauthenticated, match="needs a credential") as caught:
        auth.authenticate({"Accept": "application/json"}, "10.1.0.1")
    assert caught.value.http_status == 401 and caught.value.exit_code == 9
    with pytest.raises(Unauthenticated, match="Bearer <token>"):
        auth.authenticate({"Authorization": "Basic YW5hOnB3"}, "10.1.0.1")


@pytest.mark.parametrize("changes", [
    {"trusted_proxies": []},
    {"trusted_proxies": ["10.0.0.0/33"]},
    {"trusted_proxies": ["proxy.local"]},
])
def test_bad_proxy_settings_are_refused_at_start(changes: dict[str, Any]) -> None:
    values: dict[str, Any] = {"enabled": True, "proxy_header": "X-Forwarded-User",
                              "trusted_proxies": ["127.0.0.1"], **changes}
    with pytest.raises(InvalidArgument):
        AuthSettings(**values)


def test_auth_off_is_the_servers_account_admin_everywhere(auth_store: Store) -> None:
    auth = Authenticator(AuthSettings(), auth_store)
    principal = auth.authenticate({"X-Forwarded-User": "mallory",
                                   "Authorization": "Bearer lnl_whatever"}, "10.1.0.1")
    assert principal.name == current_principal() and principal.method is AuthMethod.LOCAL
    assert principal.role_in("any") is Role.ADMIN and principal.role_in(None) is Role.ADMIN
    named = Authenticator(AuthSettings(local_principal="svc-lineal"), auth_store)
    assert named.authenticate({}, None).name == "svc-lineal"


# -- roles -----------------------------------------------------------------------------------------
def test_roles_are_ordered_by_rank_not_by_name() -> None:
    assert Role.READER < Role.WRITER < Role.ADMIN
    assert Role.ADMIN >= "writer" and not Role.READER >= Role.WRITER
    assert max([Role.READER, Role.ADMIN, Role.WRITER]) is Role.ADMIN
    assert sorted(Role) == [Role.READER, Role.WRITER, Role.ADMIN]


def test_grants() -> None:
    assert parse_grant("admin") == ("*", Role.ADMIN)
    assert parse_grant(" Writer:churn ") == ("churn", Role.WRITER)
    assert parse_grant("reader:*") == ("*", Role.READER)
    for bad in ("owner", "writer:", "writer:a b", ""):
        with pytest.raises(InvalidArgument):
            parse_grant(bad)


@pytest.mark.parametrize(("roles", "project", "needed", "allowed"), [
    ({"*": Role.READER}, "churn", Role.READER, True),
    ({"*": Role.READER}, "churn", Role.WRITER, False),
    ({"churn": Role.WRITER}, "churn", Role.WRITER, True),
    ({"churn": Role.WRITER}, "churn", Role.ADMIN, False),
    ({"churn": Role.WRITER}, "fraud", Role.READER, False),
    ({"churn": Role.ADMIN, "*": Role.READER}, "fraud", Role.READER, True),
    ({"churn": Role.ADMIN, "*": Role.READER}, "fraud", Role.WRITER, False),
    ({"*": Role.WRITER, "churn": Role.READER}, "churn", Role.WRITER, True),
    ({"churn": Role.ADMIN}, None, Role.ADMIN, False),
    ({"*": Role.ADMIN}, None, Role.ADMIN, True),
    ({}, "churn", Role.READER, False),
])
def test_require(roles: dict[str, Role], project: str | None, needed: Role,
                 allowed: bool) -> None:
    principal = Principal("ana", AuthMethod.OIDC, roles)
    if allowed:
        assert require(principal, project, needed) >= needed
    else:
        with pytest.raises(PermissionDenied) as caught:
            require(principal, project, needed)
        assert f"needs the {needed} role" in str(caught.value)
        assert caught.value.http_status == 403


def test_a_refusal_says_what_is_needed_and_what_is_held() -> None:
    principal = Principal("ana", AuthMethod.OIDC, {"churn": Role.READER})
    with pytest.raises(PermissionDenied) as caught:
        require(principal, "churn", "admin")
    assert caught.value.message == ("this needs the admin role in project 'churn'; "
                                    "ana is reader there")
    assert caught.value.hint == "roles held: reader:churn; ask an admin for a higher one"
    with pytest.raises(PermissionDenied, match="ana has no role there"):
        require(principal, "fraud", Role.READER)


def test_acting_as_records_the_authenticated_principal(auth_store: Store) -> None:
    with acting_as(Principal("token:01ABC", AuthMethod.TOKEN, {"*": Role.ADMIN})):
        assert current_principal() == "token:01ABC"
        token, _ = lineal.create_token("reader", store=auth_store)
    assert token.created_by == "token:01ABC"
    assert current_principal() != "token:01ABC"
    assert local_principal("srv").roles == {"*": Role.ADMIN}


def test_settings_from_a_configuration_table() -> None:
    settings = AuthSettings.from_mapping({
        "enabled": True, "oidc_issuer": "https://login.example.test",
        "oidc_jwks_file": "/etc/lineal/jwks.json", "oidc_role_claim": "groups",
        "role_map": {"ml-admins": ["admin"]}, "default_roles": ["reader"], "jwks_cache_s": 600,
        "proxy_header": "X-Forwarded-User", "trusted_proxies": ["10.0.0.0/8"],
    })
    assert settings.oidc_jwks_file is not None and settings.oidc_jwks_file.name == "jwks.json"
    assert settings.role_map == {"ml-admins": ("admin",)} and settings.jwks_cache_s == 600.0
    for bad, message in [({"enabeld": True}, "unknown auth setting"),
                         ({"enabled": "yes"}, "true or false"),
                         ({"trusted_proxies": "10.0.0.0/8"}, "list of strings"),
                         ({"role_map": {"g": "admin"}}, "lists of grants"),
                         ({"jwks_cache_s": -1}, "0 or more"),
                         ({"oidc_issuer": 3}, "text")]:
        with pytest.raises(InvalidArgument, match=message):
            AuthSettings.from_mapping(bad)
