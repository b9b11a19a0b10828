"""Browser sign-in through the server (OIDC authorization code flow with PKCE), end to end:
a real uvicorn server in this process, a tiny OIDC provider on loopback (tests/auth/
oidc_provider.py), and httpx as the browser (it follows redirects and keeps cookies)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests.auth.conftest import SigningKey, _key
from tests.auth.oidc_provider import OidcProvider

import lineal
from lineal.auth import AuthSettings
from lineal.entities import Run, RunStatus, new_id, us_to_datetime
from lineal.errors import InvalidArgument, StoreError
from lineal.server import ServerSettings, create_app
from lineal.server.testing import ServerProcess, free_port
from lineal.store import Store
from lineal.store.http.client import HttpMetadataStore

SECRET = "a-session-secret-of-at-least-32-characters!"


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return _key("idp-1")


@pytest.fixture
def provider(signing_key: SigningKey) -> Iterator[OidcProvider]:
    with OidcProvider(signing_key, claims={"sub": "ana-sub", "groups": ["ml-writers"]}) as idp:
        yield idp


def login_settings(provider: OidcProvider, folder: Path, **changes: Any) -> AuthSettings:
    (folder / "client.secret").write_text(provider.client_secret + "\n")
    (folder / "session.key").write_text(SECRET)
    values: dict[str, Any] = {
        "enabled": True, "oidc_issuer": provider.url, "oidc_audience": "lineal-api",
        "oidc_jwks_url": f"{provider.url}/jwks.json", "oidc_client_id": provider.client_id,
        "oidc_client_secret_file": folder / "client.secret",
        "session_secret_file": folder / "session.key", "oidc_role_claim": "groups",
        "role_map": {"ml-writers": ["writer"], "ml-readers": ["reader"]}}
    values.update(changes)
    return AuthSettings(**values)


class LiveServer:
    """``create_app`` served by uvicorn on a loopback port, in a thread of this process."""

    def __init__(self, settings: ServerSettings, store: Store) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(create_app(settings, store=store), host="127.0.0.1", port=port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def serve(embedded: Store) -> Iterator[Callable[[AuthSettings], LiveServer]]:
    started: list[LiveServer] = []

    def start(auth: AuthSettings) -> LiveServer:
        started.append(LiveServer(ServerSettings(auth=auth, webhooks=False), embedded))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live(serve: Callable[[AuthSettings], LiveServer], provider: OidcProvider,
         tmp_path: Path) -> LiveServer:
    return serve(login_settings(provider, tmp_path))


def browser(live: LiveServer) -> httpx.Client:
    """A client that follows redirects and keeps cookies, as a browser does."""
    return httpx.Client(base_url=live.url, follow_redirects=True, timeout=15)


def sign_in(client: httpx.Client, live: LiveServer, next_path: str = "/runs") -> httpx.Response:
    return client.get(f"{live.url}/auth/login", params={"next": next_path})


def run_in(project: str) -> Run:
    return Run(new_id(), project, "r", "train", RunStatus.RUNNING,
               us_to_datetime(1_800_000_000_000_000))


def test_signing_in_opens_a_session_the_server_accepts(live: LiveServer,
                                                       provider: OidcProvider,
                                                       embedded: Store) -> None:
    with browser(live) as client:
        answer = sign_in(client, live)
        assert [r.status_code for r in answer.history] == [302, 302, 303]
        assert answer.history[0].headers["location"].startswith(f"{provider.url}/authorize?")
        assert answer.url == f"{live.url}/runs"  # landed where the sign-in started
        assert provider.token_requests == 1
        cookie = answer.history[2].headers.get_list("set-cookie")
        session = next(c for c in cookie if c.startswith("lineal_session="))
        assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session
        assert "Secure" not in session  # http: a Secure cookie would never come back

        me = client.get(f"{live.url}/api/v1/views/whoami").json()
        assert me == {"name": "ana-sub", "method": "session", "auth": True,
                      "roles": {"*": "writer"}}

        # A write needs the CSRF token of the session (double submit)...
        csrf = client.cookies["lineal_csrf"]
        remote = HttpMetadataStore(live.url, client=client)
        with pytest.raises(lineal.PermissionDenied, match="CSRF"):
            remote.create_run(run_in("churn"), "ignored")
        client.headers["x-csrf-token"] = csrf[:-2] + "xx"
        with pytest.raises(lineal.PermissionDenied, match="CSRF"):
            remote.create_run(run_in("churn"), "ignored")
        # ...and with it, is recorded as the OIDC subject, as a bearer JWT's would be.
        client.headers["x-csrf-token"] = csrf
        run = run_in("churn")
        remote.create_run(run, "mallory")
    entry = embedded.metadata.ledger_entries(entity_id=run.id)[0]
    assert entry.actor == "ana-sub"
    assert embedded.metadata.get_run(run.id).created_by == "ana-sub"


def test_a_reader_signed_in_cannot_write(live: LiveServer, provider: OidcProvider) -> None:
    provider.claims["groups"] = ["ml-readers", "some-other-group"]
    with browser(live) as client:
        sign_in(client, live)
        client.headers["x-csrf-token"] = client.cookies["lineal_csrf"]
        assert client.get(f"{live.url}/api/v1/runs").status_code == 200
        with pytest.raises(lineal.PermissionDenied, match="writer"):
            HttpMetadataStore(live.url, client=client).create_run(run_in("churn"), "x")


@pytest.mark.parametrize(("change", "reason"), [
    ({"state_override": "forged-state"}, "state does not match"),
    ({"id_token_changes": {"nonce": "another-login"}}, "nonce is not this sign-in's"),
    ({"id_token_changes": {"aud": "another-client"}}, "not for this server"),
    ({"id_token_changes": {"exp": int(time.time()) - 3600}}, "expired"),
    ({"id_token_changes": {"iss": "https://evil.example.test"}}, "not issued by the configured"),
])
def test_sign_ins_that_are_refused(live: LiveServer, provider: OidcProvider,
                                   change: dict[str, Any], reason: str) -> None:
    for name, value in change.items():
        setattr(provider, name, value)
    with browser(live) as client:
        answer = sign_in(client, live)
        assert answer.status_code == 401, answer.text
        assert reason in answer.json()["error"]["message"]
        assert "lineal_session" not in client.cookies
        assert client.get(f"{live.url}/api/v1/views/whoami").status_code == 401


def test_a_callback_without_the_login_cookie_is_refused(live: LiveServer,
                                                        provider: OidcProvider) -> None:
    with browser(live) as client:
        first = client.get(f"{live.url}/auth/login", follow_redirects=False)
        to_provider = client.get(first.headers["location"], follow_redirects=False)
    with browser(live) as other:  # another browser, without the login cookie
        answer = other.get(to_provider.headers["location"])
    assert answer.status_code == 401 and "no login cookie" in answer.json()["error"]["message"]
    assert provider.token_requests == 0  # refused before the code was spent


def test_a_tampered_or_foreign_session_cookie_is_401(live: LiveServer, serve: Any,
                                                     provider: OidcProvider,
                                                     tmp_path: Path) -> None:
    with browser(live) as client:
        sign_in(client, live)
        value = client.cookies["lineal_session"]
    flipped = value[:20] + ("A" if value[20] != "A" else "B") + value[21:]
    for bad in (flipped, value[:-4], "not-a-cookie"):
        answer = httpx.get(f"{live.url}/api/v1/views/whoami",
                           headers={"cookie": f"lineal_session={bad}"})
        assert answer.status_code == 401
        assert "session cookie is not valid" in answer.json()["error"]["message"]
    # The same cookie on a server with another session secret: refused too.
    (tmp_path / "other").mkdir()
    (tmp_path / "other.key").write_text("another-secret-" * 4)
    other = serve(login_settings(provider, tmp_path / "other",
                                 session_secret_file=tmp_path / "other.key"))
    answer = httpx.get(f"{other.url}/api/v1/views/whoami",
                       headers={"cookie": f"lineal_session={value}"})
    assert answer.status_code == 401
    assert httpx.get(f"{live.url}/api/v1/views/whoami",
                     headers={"cookie": f"lineal_session={value}"}).status_code == 200


def test_the_session_ends_no_later_than_the_id_token(live: LiveServer,
                                                     provider: OidcProvider) -> None:
    provider.id_token_changes = {"exp": int(time.time()) + 90}
    with browser(live) as client:
        answer = sign_in(client, live)
    cookie = next(c for c in answer.history[-1].headers.get_list("set-cookie")
                  if c.startswith("lineal_session="))
    max_age = int(cookie.split("Max-Age=")[1].split(";")[0])
    assert 0 < max_age <= 90


def test_an_expired_session_is_refused(serve: Any, provider: OidcProvider,
                                       tmp_path: Path) -> None:
    # The ID token expires within the leeway: accepted at sign-in, its session ends with it.
    provider.id_token_changes = {"exp": int(time.time()) + 1}
    live = serve(login_settings(provider, tmp_path))
    with browser(live) as client:
        sign_in(client, live)
        value = client.cookies["lineal_session"]
    time.sleep(1.5)
    answer = httpx.get(f"{live.url}/api/v1/views/whoami",
                       headers={"cookie": f"lineal_session={value}"})
    assert answer.status_code == 401 and "expired" in answer.json()["error"]["message"]


def test_signing_out_forgets_the_session(live: LiveServer) -> None:
    with browser(live) as client:
        sign_in(client, live)
        assert client.get(f"{live.url}/api/v1/views/whoami").status_code == 200
        assert client.post(f"{live.url}/auth/logout").status_code == 204
        assert "lineal_session" not in client.cookies
        assert client.get(f"{live.url}/api/v1/views/whoami").status_code == 401


def test_the_landing_page_is_always_on_this_server(live: LiveServer) -> None:
    for attempt in ("//evil.example.test/x", "https://evil.example.test/", "runs"):
        with browser(live) as client:
            assert sign_in(client, live, attempt).url == f"{live.url}/"


def test_the_config_says_whether_sso_is_offered(live: LiveServer, serve: Any,
                                                tmp_path: Path) -> None:
    config = httpx.get(f"{live.url}/api/v1/auth/config").json()  # no credential
    assert config["auth"] is True and config["login"] is True
    assert config["login_url"] == "/auth/login"
    tokens_only = serve(AuthSettings(enabled=True))
    assert httpx.get(f"{tokens_only.url}/api/v1/auth/config").json()["login"] is False
    answer = httpx.get(f"{tokens_only.url}/auth/login")
    assert answer.status_code == 404 and "does not sign browsers in" in answer.text


def test_bearer_credentials_still_come_first(live: LiveServer, embedded: Store) -> None:
    secret = lineal.create_token("reader", store=embedded)[1]
    with browser(live) as client:
        sign_in(client, live)
        me = client.get(f"{live.url}/api/v1/views/whoami",
                        headers={"authorization": f"Bearer {secret}"}).json()
    assert me["method"] == "token"


def test_sign_in_needs_a_session_secret(provider: OidcProvider, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINEAL_SESSION_SECRET", raising=False)
    with pytest.raises(InvalidArgument, match="needs a session secret of at least 32"):
        login_settings(provider, tmp_path, session_secret_file=None)
    (tmp_path / "short.key").write_text("too-short")
    with pytest.raises(InvalidArgument, match="at least 32"):
        login_settings(provider, tmp_path, session_secret_file=tmp_path / "short.key")
    monkeypatch.setenv("LINEAL_SESSION_SECRET", SECRET)
    assert login_settings(provider, tmp_path, session_secret_file=None).login
    with pytest.raises(InvalidArgument, match="no OIDC issuer"):
        AuthSettings(enabled=True, oidc_client_id="x")


def test_the_server_refuses_to_start_without_a_session_secret(
        tmp_path: Path, provider: OidcProvider) -> None:
    config = tmp_path / "auth.toml"
    config.write_text(f'oidc_issuer = "{provider.url}"\n'
                      f'oidc_jwks_url = "{provider.url}/jwks.json"\n'
                      'oidc_client_id = "lineal-web"\n')
    with pytest.raises(StoreError, match="needs a session secret"):
        ServerProcess(backend=str(tmp_path / "store"), env={"LINEAL_SESSION_SECRET": ""},
                      extra_args=["--auth-config", str(config)], timeout=20)
