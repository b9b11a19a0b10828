"""Browser sign-in through the server (:mod:`lineal.auth.login`): ``GET /auth/login``,
``GET /auth/callback``, ``POST /auth/logout``, and ``GET /api/v1/auth/config``, which tells
the UI, before anyone has signed in, which ways of signing in this server offers.

The login in progress and the session live in sealed cookies (:mod:`lineal.auth.session`),
``HttpOnly``, ``SameSite=Lax`` (the issuer's redirect back is a top-level navigation from
another site, which must carry the login cookie), ``Secure`` when the callback URL is https.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..auth.session import CSRF_COOKIE, LOGIN_COOKIE, SESSION_COOKIE, cookies
from ..errors import InvalidArgument, NotFound, Unauthenticated
from .context import ServerContext
from .store_routes import json_response

__all__ = ["add_login_routes"]

LOGIN_PATH = "/auth/login"
LOGOUT_PATH = "/auth/logout"


def add_login_routes(app: FastAPI) -> None:
    """Register the sign-in routes (they answer 404 while sign-in through the server is off,
    except the configuration, which always answers)."""
    app.add_api_route("/api/v1/auth/config", auth_config, methods=["GET"], tags=["auth"],
                      summary="How this server signs browsers in (no credential needed)",
                      response_class=Response)
    app.add_api_route(LOGIN_PATH, login, methods=["GET"], tags=["auth"],
                      summary="Start signing in at the OIDC issuer (a redirect)",
                      response_class=Response)
    app.add_api_route("/auth/callback", callback, methods=["GET"], tags=["auth"],
                      name="auth_callback", response_class=Response,
                      summary="Where the issuer sends the browser back; opens the session")
    app.add_api_route(LOGOUT_PATH, logout, methods=["POST"], tags=["auth"],
                      summary="End the browser session", response_class=Response)


def _login(request: Request) -> Any:
    context: ServerContext = request.app.state.lineal
    authenticator = context.authenticator
    login = getattr(authenticator, "login", None)
    if login is None:
        raise NotFound("this server does not sign browsers in through an OIDC issuer",
                       hint="set oidc_client_id (and a session secret) in the auth settings, "
                       "or sign in with an API token")
    return login


def _redirect_url(request: Request, login: Any) -> str:
    configured: str | None = login.settings.oidc_redirect_url
    return configured or str(request.url_for("auth_callback"))


async def auth_config(request: Request) -> Response:
    """``auth``: whether the server needs a credential; ``login``: whether it signs browsers
    in through the issuer (the UI then offers "Sign in with SSO" at ``login_url``); the
    cookie and header of the CSRF double submit that writes with a session need."""
    context: ServerContext = request.app.state.lineal
    settings = context.settings.auth
    auth = settings is not None and bool(settings.enabled)
    login = auth and getattr(context.authenticator, "login", None) is not None
    return json_response({
        "auth": auth, "login": login,
        "login_url": LOGIN_PATH if login else None,
        "logout_url": LOGOUT_PATH if login else None,
        "csrf_cookie": CSRF_COOKIE, "csrf_header": "X-CSRF-Token",
    })


async def login(request: Request) -> Response:
    """``?next=/path``: redirect to the issuer's authorization endpoint; the browser comes
    back to ``/auth/callback`` and lands on ``next`` (a path on this server) signed in."""
    flow = _login(request)
    redirect_url = _redirect_url(request, flow)
    start = await run_in_threadpool(flow.begin, redirect_url, request.query_params.get("next", "/"))
    response = RedirectResponse(start.authorize_url, status_code=302)
    from ..auth.login import LOGIN_TTL_S

    response.set_cookie(LOGIN_COOKIE, start.cookie, max_age=LOGIN_TTL_S, path="/auth",
                        httponly=True, secure=redirect_url.startswith("https://"),
                        samesite="lax")
    return response


async def callback(request: Request) -> Response:
    """``?code=&state=`` from the issuer: check, exchange, validate, open the session, and
    redirect to the page the sign-in started from."""
    flow = _login(request)
    query = request.query_params
    if query.get("error"):
        raise Unauthenticated(f"the issuer did not sign you in: {query['error']} "
                              f"{query.get('error_description', '')}".strip(),
                              hint="start again from /auth/login")
    code, state = query.get("code"), query.get("state")
    if not code or not state:
        raise InvalidArgument("the callback needs the issuer's code and state",
                              hint="start signing in from /auth/login")
    login_cookie = cookies(request.headers.get("cookie")).get(LOGIN_COOKIE)
    claims, landing = await run_in_threadpool(
        lambda: flow.finish(code=code, state=state, login_cookie=login_cookie))
    context: ServerContext = request.app.state.lineal
    session = await run_in_threadpool(context.authenticator.start_session, claims)
    secure = _redirect_url(request, flow).startswith("https://")
    max_age = max(1, int(session.expires_at - time.time()))
    response = RedirectResponse(landing, status_code=303)
    response.set_cookie(SESSION_COOKIE, session.cookie, max_age=max_age, path="/",
                        httponly=True, secure=secure, samesite="lax")
    response.set_cookie(CSRF_COOKIE, session.csrf, max_age=max_age, path="/",
                        httponly=False, secure=secure, samesite="lax")
    response.delete_cookie(LOGIN_COOKIE, path="/auth")
    return response


async def logout(request: Request) -> Response:
    """Forget the browser session (its cookies). Sessions are not kept on the server, so
    this is the browser's part; the issuer's own session, if any, is the issuer's."""
    response = Response(status_code=204)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/")
    return response
