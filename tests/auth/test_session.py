"""Sealed cookies (lineal.auth.session): unreadable, unchangeable, bound to their purpose and
their expiry."""

from __future__ import annotations

import pytest

from lineal.auth.login import local_path
from lineal.auth.session import CookieSealer, cookies
from lineal.errors import Unauthenticated

SECRET = b"k" * 32


def test_a_sealed_value_opens_only_for_its_purpose_and_secret() -> None:
    sealer = CookieSealer(SECRET, clock=lambda: 1000.0)
    value = sealer.seal("login", {"state": "s", "verifier": "v"}, expires_at=1600)
    assert sealer.open("login", value) == {"state": "s", "verifier": "v", "exp": 1600}
    assert "verifier" not in value and "state" not in value  # encrypted, not only signed
    with pytest.raises(Unauthenticated, match="session cookie is not valid"):
        sealer.open("session", value)  # a login cookie is not a session
    with pytest.raises(Unauthenticated, match="not valid"):
        CookieSealer(b"x" * 32, clock=lambda: 1000.0).open("login", value)


@pytest.mark.parametrize("bad", ["", "!!!", "abc", "A" * 64])
def test_garbage_is_refused(bad: str) -> None:
    with pytest.raises(Unauthenticated, match="not valid"):
        CookieSealer(SECRET).open("session", bad)


def test_every_changed_character_is_refused() -> None:
    sealer = CookieSealer(SECRET, clock=lambda: 0.0)
    value = sealer.seal("session", {"name": "ana"}, expires_at=60)
    for i in range(0, len(value), 7):
        changed = value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1:]
        with pytest.raises(Unauthenticated):
            sealer.open("session", changed)


def test_an_expired_value_is_refused() -> None:
    now = [0.0]
    sealer = CookieSealer(SECRET, clock=lambda: now[0])
    value = sealer.seal("session", {"name": "ana"}, expires_at=60)
    now[0] = 59.0
    assert sealer.open("session", value)["name"] == "ana"
    now[0] = 60.0
    with pytest.raises(Unauthenticated, match="session has expired"):
        sealer.open("session", value)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CookieSealer(b"short")


def test_cookie_header_and_landing_path() -> None:
    assert cookies('a=1; lineal_session="x=y"; a=2; junk') == {"a": "1", "lineal_session": "x=y"}
    assert cookies(None) == {}
    assert local_path("/registry/default/churn?v=2") == "/registry/default/churn?v=2"
    for bad in ("//evil.test", "/\\evil.test", "https://evil.test/", "runs", "/a\nb"):
        assert local_path(bad) == "/"
