"""Signing in with SSO in a real browser: a ``lineal server --auth-config`` process set up as
an OIDC client of a tiny provider on loopback (tests/auth/oidc_provider.py), chromium clicking
"Sign in with SSO" on the sign-in dialog, and landing back on the page it started from, signed
in, with its name and role in the header; then signing out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.auth.conftest import _key
from tests.auth.oidc_provider import OidcProvider

import lineal
from lineal.server.testing import ServerProcess
from lineal.server.ui_bundle import PACKAGED_UI
from lineal.store import open_store

from .conftest import missing

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(_key("idp-ui"), claims={"sub": "ana-sub", "groups": ["ml-readers"]}) \
            as idp:
        yield idp


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory,
               provider: OidcProvider) -> Iterator[tuple[ServerProcess, str]]:
    """A ``lineal server`` that signs browsers in through ``provider``, over a store with one
    run; the run's id."""
    if not (PACKAGED_UI / "index.html").is_file():
        missing(f"the UI bundle is not built ({PACKAGED_UI}/index.html): run `make ui`")
    folder = tmp_path_factory.mktemp("sso-store")
    backend, blobs = str(folder / "store"), str(folder / "blobs")
    store = open_store(backend, artifacts=blobs)
    try:
        with lineal.run("sso-check", kind="train", capture=False, store=store) as run:
            run.log_metric("auc", 0.9)
        run_id = run.id
    finally:
        store.close()
    config = folder / "auth.toml"
    config.write_text(f'oidc_issuer = "{provider.url}"\n'
                      f'oidc_jwks_url = "{provider.url}/jwks.json"\n'
                      f'oidc_client_id = "{provider.client_id}"\n'
                      'oidc_role_claim = "groups"\n'
                      'role_map = {"ml-readers" = ["reader"]}\n')
    # The secrets come from the environment, as they would in a container.
    env = {"LINEAL_OIDC_CLIENT_SECRET": provider.client_secret,
           "LINEAL_SESSION_SECRET": "a-session-secret-for-the-browser-test-0123456789"}
    with ServerProcess(backend=backend, artifacts=blobs, env=env,
                       extra_args=["--auth-config", str(config), "--no-webhooks"]) as process:
        yield process, run_id


def test_sign_in_with_sso_lands_signed_in(chromium: Any, sso_server: tuple[ServerProcess, str],
                                          provider: OidcProvider) -> None:
    process, run_id = sso_server
    context = chromium.new_context(viewport={"width": 1440, "height": 900},
                                   base_url=process.url)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/runs")
        dialog = page.get_by_role("dialog", name="sign in")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Sign in with SSO").click()

        expect(page).to_have_url(re.compile(r"/runs$"))  # back where it started
        expect(page.get_by_role("dialog", name="sign in")).to_have_count(0)
        identity = page.get_by_test_id("identity")
        expect(identity).to_contain_text("ana-sub")
        expect(identity).to_contain_text("reader")
        table = page.get_by_role("table", name="runs")
        expect(table.get_by_role("link", name=run_id[:10])).to_be_visible()
        assert provider.token_requests >= 1
        assert any(c["name"] == "lineal_session" and c["httpOnly"] for c in context.cookies())

        identity.get_by_role("button", name="sign out").click()
        expect(page.get_by_role("button", name="Sign in", exact=True).first).to_be_visible()
        assert not any(c["name"] == "lineal_session" for c in context.cookies())
        assert errors == [], errors
    finally:
        context.close()

