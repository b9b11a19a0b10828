"""Keys, JWKS documents and signed tokens made here, and a JWKS served over loopback HTTP.

Nothing is mocked: tokens are real JWTs signed with RSA keys generated per session, checked
by the real Authenticator against a JWKS fetched with httpx from a real ``http.server``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from lineal.store import Store, open_store

ISSUER = "https://login.example.test"
AUDIENCE = "lineal"


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def sign(self, claims: dict[str, Any] | None = None, *, kid: str | None = "same",
             algorithm: str = "RS256", **changes: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-123", "email": "ana@example.test",
                "iat": now, "exp": now + 300, **(claims or {})}
        for name, value in changes.items():
            if value is None:
                body.pop(name, None)
            else:
                body[name] = value
        headers = {} if kid is None else {"kid": self.kid if kid == "same" else kid}
        return jwt.encode(body, self.private, algorithm=algorithm, headers=headers)


def _key(kid: str) -> SigningKey:
    return SigningKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def keys() -> dict[str, SigningKey]:
    """Three RSA key pairs: the issuer's, its next one (a rotation), and an attacker's."""
    return {"current": _key("k1"), "next": _key("k2"), "attacker": _key("k1")}


def jwks(*signing: SigningKey) -> dict[str, Any]:
    return {"keys": [k.jwk() for k in signing]}


@dataclass
class JwksServer:
    """A loopback HTTP server answering ``/jwks.json`` with ``document``; counts requests."""

    document: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    requests: int = 0
    url: str = ""


@pytest.fixture
def jwks_server(keys: dict[str, SigningKey]) -> Iterator[JwksServer]:
    state = JwksServer(document=jwks(keys["current"]))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            state.requests += 1
            body = json.dumps(state.document).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def jwks_file(tmp_path: Path, keys: dict[str, SigningKey]) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(keys["current"])))
    return path


@pytest.fixture
def auth_store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "auth-store")
    yield s
    s.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
