"""Serving the built web UI at ``/``: its files, and ``index.html`` for every client route
(``/lineage/churn@v3``, ``/runs/01J...``, ``/registry/churn``) so a shared URL opens its page.

The bundle is what ``npm run build`` in ``ui/`` writes (into ``src/lineal/server/ui/``, not
committed), or the folder ``ServerSettings.ui_dir`` names. It is looked up per request, so a
build made while the server runs is served without a restart. The route matches only GET and
HEAD requests outside the server's own paths (``/api``, ``/healthz``, ``/readyz``,
``/metrics``): an unknown API path keeps its JSON 404 and a wrong method its 405.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

__all__ = ["BUILD_HINT", "PACKAGED_UI", "add_ui_bundle", "ui_folder"]

ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
"""Content encodings of the assets the build also writes compressed (ui/vite.config.ts), best
first."""

PACKAGED_UI = Path(__file__).resolve().parent / "ui"
"""Where ``npm run build`` in ``ui/`` puts the bundle."""
BUILD_HINT = "build it with `make ui` (npm ci && npm run build in ui/), or start the server " \
             "with a built bundle in ServerSettings.ui_dir"
RESERVED = ("api", "auth", "healthz", "readyz", "metrics")
"""First path segments the UI never answers."""


def ui_folder(ui_dir: str | None) -> Path:
    """The folder the UI is served from: ``ui_dir`` if set, else the packaged bundle."""
    return Path(ui_dir).expanduser().resolve() if ui_dir else PACKAGED_UI


def add_ui_bundle(app: FastAPI) -> None:
    """Append the UI route to ``app``'s routes: after every other route, so it only answers
    what none of them takes."""
    app.router.routes.append(_UIRoute())


class _UIRoute(BaseRoute):
    """``/`` and everything below it that is not the server's own, for GET and HEAD."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return Match.NONE, {}
        first = scope["path"].lstrip("/").split("/", 1)[0]
        if first in RESERVED:
            return Match.NONE, {}
        return Match.FULL, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _answer(scope)
        await response(scope, receive, send)


def _answer(scope: Scope) -> Response:
    from .app import error_body

    settings = scope["app"].state.lineal.settings
    folder = ui_folder(settings.ui_dir)
    index = folder / "index.html"
    if not index.is_file():
        return JSONResponse(error_body(
            "UINotBuilt", f"the web UI is not built (no {index})", {"hint": BUILD_HINT}),
            status_code=503)
    relative = scope["path"].lstrip("/")
    if relative:
        target = (folder / relative).resolve()
        if target.is_relative_to(folder) and target.is_file():
            immutable = relative.startswith("assets/")  # file names carry a content hash
            headers = {"cache-control": (
                "public, max-age=31536000, immutable" if immutable else "no-cache")}
            if immutable:
                return _asset(target, scope, headers)
            return FileResponse(target, headers=headers)
        last = relative.rsplit("/", 1)[-1]
        if relative.startswith("assets/") or ("." in last and "@" not in last):
            # A missing file (a stale asset, a typo), not a client route: say so.
            return JSONResponse(error_body("NotFound", f"no such file in the UI: /{relative}"),
                                status_code=404)
    return FileResponse(index, headers={"cache-control": "no-cache"})


def _asset(target: Path, scope: Scope, headers: dict[str, str]) -> Response:
    """A hashed asset, as the compressed copy the build wrote beside it when the browser accepts
    its encoding (``Vary: Accept-Encoding`` either way), else as it is."""
    accepted = _accepted(scope)
    headers = {**headers, "vary": "accept-encoding"}
    for encoding, suffix in ENCODINGS:
        packed = target.with_name(target.name + suffix)
        if encoding in accepted and packed.is_file():
            media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            return FileResponse(packed, media_type=media_type,
                                headers={**headers, "content-encoding": encoding})
    return FileResponse(target, headers=headers)


def _accepted(scope: Scope) -> set[str]:
    """The content codings the request's Accept-Encoding allows (q=0 ones left out)."""
    found: set[str] = set()
    for name, value in scope.get("headers", ()):
        if name != b"accept-encoding":
            continue
        for part in value.decode("latin-1").split(","):
            coding, _, params = part.strip().partition(";")
            if coding and params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00",
                                                                  "q=0.000"):
                found.add(coding.strip().lower())
    return found
