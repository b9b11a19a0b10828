"""A tiny OIDC provider on loopback, for the sign-in tests: discovery, an authorization
endpoint that signs everyone in at once (it redirects back with a code), a token endpoint that
checks the client's secret, the redirect URI and the PKCE verifier before answering an ID
token signed with a generated RSA key, and the JWKS. Real HTTP, real JWTs: nothing mocked.

Tests steer it: ``claims`` are added to every ID token (who signs in, their groups),
``id_token_changes`` override claims after everything else (a wrong nonce, audience, expiry),
``state_override`` replaces the state sent back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

from tests.auth.conftest import SigningKey


@dataclass
class OidcProvider:
    key: SigningKey
    client_id: str = "lineal-web"
    client_secret: str = "the-client-secret/with+odd=chars"
    claims: dict[str, Any] = field(default_factory=dict)
    id_token_changes: dict[str, Any] = field(default_factory=dict)
    state_override: str | None = None
    url: str = ""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: int = 0
    refused: list[str] = field(default_factory=list)

    def start(self) -> OidcProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path, _, query = self.path.partition("?")
                if path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif path == "/jwks.json":
                    self._json(200, {"keys": [provider.key.jwk()]})
                elif path == "/authorize":
                    self._authorize({k: v[0] for k, v in parse_qs(query).items()})
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                provider.token_requests += 1
                status, body = provider.token(form, self.headers.get("authorization", ""))
                self._json(status, body)

            def _authorize(self, query: dict[str, str]) -> None:
                problem = provider.authorize_problem(query)
                if problem:
                    provider.refused.append(problem)
                    self._json(400, {"error": "invalid_request", "error_description": problem})
                    return
                code = secrets.token_urlsafe(16)
                provider.codes[code] = query
                state = provider.state_override or query["state"]
                self.send_response(302)
                self.send_header("Location", f"{query['redirect_uri']}?"
                                 + urlencode({"code": code, "state": state}))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _json(self, status: int, document: Any) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks.json",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"]}

    def authorize_problem(self, query: dict[str, str]) -> str | None:
        for name in ("redirect_uri", "state", "nonce", "code_challenge"):
            if not query.get(name):
                return f"no {name}"
        if query.get("response_type") != "code" or query.get("client_id") != self.client_id:
            return "not a code request of the known client"
        if query.get("code_challenge_method") != "S256":
            return "PKCE must be S256"
        if "openid" not in query.get("scope", "").split():
            return "no openid scope"
        return None

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        scheme, _, encoded = authorization.partition(" ")
        user, _, password = base64.b64decode(encoded or "").decode().partition(":")
        if scheme != "Basic" or (unquote(user), unquote(password)) != (
                self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        login = self.codes.pop(form.get("code", ""), None)  # a code is good once
        if login is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant", "error_description": "unknown code"}
        if form.get("redirect_uri") != login["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).decode().rstrip("=") != login["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier"}
        changes = {"iss": self.url, "aud": self.client_id, **self.id_token_changes}
        id_token = self.key.sign({"nonce": login["nonce"], **self.claims}, **changes)
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                     "expires_in": 300, "id_token": id_token}

