"""What every request of one server process shares: the store, who the caller is, what they
may do, and the call into the store as them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..auth.principal import acting_as
from ..errors import Conflict, NotFound, PermissionDenied, StoreError
from ..identity import os_account
from ..store import Store, open_store
from ..store.http.routes import Route, takes_principal
from .settings import ServerSettings

if TYPE_CHECKING:
    from ..auth import Principal

__all__ = ["ServerContext"]

log = logging.getLogger("lineal.server")


class ServerContext:
    """The store and the policies of one server process."""

    def __init__(self, settings: ServerSettings, store: Store | None = None) -> None:
        self.settings = settings
        self._store = store
        self._owns_store = store is None
        self._authenticator: Any = None
        self._lock = threading.Lock()
        self.ready_error: str | None = None
        self.background: list[Any] = []

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Open the store (if none was given) and start background work."""
        try:
            self.store  # noqa: B018 - opens it
        except Exception as error:  # noqa: BLE001 - reported by /readyz, logged here
            self.ready_error = f"{type(error).__name__}: {error}"
            log.error("store not available: %s", self.ready_error)
            return
        if self.settings.auth is not None and self.settings.auth.enabled:
            from ..auth import Authenticator

            self._authenticator = Authenticator(self.settings.auth, self.store)
        if self.settings.webhooks:
            self._start_webhooks()

    def _start_webhooks(self) -> None:
        try:
            from ..webhooks import WebhookDispatcher
        except ImportError:
            return
        dispatcher = WebhookDispatcher(self.store)
        dispatcher.start()
        self.background.append(dispatcher)

    def stop(self) -> None:
        for worker in self.background:
            worker.stop()
        self.background.clear()
        if self._owns_store and self._store is not None:
            self._store.close()
            self._store = None

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.settings.backend, self.settings.artifacts)
        return self._store

    # -- who is calling -----------------------------------------------------------------------
    def authenticate(self, headers: Mapping[str, str], client_host: str | None,
                     method: str | None = None) -> Principal:
        """The caller of a request (HTTP ``method``: a write made with a session cookie needs
        its CSRF token; None counts as a write); Unauthenticated (401) when auth is on and the
        credential is missing or bad. With auth off, the server's own OS account, admin
        everywhere (single-user local use: the person who started the server)."""
        if self._authenticator is None:
            from ..auth import local_principal

            return local_principal(os_account())
        principal: Principal = self._authenticator.authenticate(headers, client_host, method)
        return principal

    @property
    def authenticator(self) -> Any:
        """The :class:`lineal.auth.Authenticator` (None: auth is off, or not started)."""
        return self._authenticator

    def local_caller(self) -> Principal | None:
        """The caller of every request when auth is off (see :meth:`authenticate`); None when
        it is on, and each request's credential must be checked."""
        if self._authenticator is not None:
            return None
        from ..auth import local_principal

        return local_principal(os_account())

    def require(self, caller: Principal, project: str | None, role: str, what: str) -> None:
        """PermissionDenied (403) unless ``caller`` holds ``role`` (or more) on ``project``
        (None: on every project)."""
        from ..auth import require

        try:
            require(caller, project, role)
        except PermissionDenied as error:
            raise PermissionDenied(f"{what}: {error.message}", hint=error.hint) from None

    def require_somewhere(self, caller: Principal, role: str, what: str) -> None:
        """PermissionDenied (403) unless ``caller`` holds ``role`` on at least one project:
        checked before a request is even decoded, so a reader learns nothing of a writer's
        route but that it may not use it."""
        from ..auth import Role

        if any(held >= Role(role) for held in caller.roles.values()):
            return
        best = max(caller.roles.values(), default=None)
        raise PermissionDenied(
            f"{what} needs the {role} role; {caller.name!r} "
            f"{'is ' + str(best) if best else 'has no role'} in every project it can reach",
            hint="ask an admin for a token with that role (`lineal token create --role ...`)")

    # -- calling the store ------------------------------------------------------------------
    def call_once(self, caller: Principal, route: Route, kwargs: dict[str, Any],
                  key: str | None) -> str:
        """:meth:`call` a write at most once per idempotency ``key``, as JSON text: a retry
        of an applied request gets the first attempt's answer and writes nothing."""
        from ..store.http.routes import encode
        from ..store.idempotency import Replayed, applying
        from .store_routes import json_text

        if not key:
            return json_text(encode(self.call(caller, route, kwargs)))
        scoped = f"{caller.name}:{key}"  # one caller cannot replay another's answers
        metadata = self.store.metadata
        try:
            with applying(scoped, route.method):
                body = json_text(encode(self.call(caller, route, kwargs)))
        except Replayed:
            applied, saved = metadata.request_response(scoped)
            if saved is not None:
                return saved
            if _returns_none(route.method):
                return "null"
            raise Conflict(f"{route.method}: this request was applied before, and its answer "
                           "was lost with the server that applied it",
                           hint="read the result back (nothing was written twice)") from None
        if not _returns_none(route.method):  # a replay of a call answering None says null
            metadata.save_request_response(scoped, body)
        return body

    def call(self, caller: Principal, route: Route, kwargs: dict[str, Any]) -> Any:
        """Authorize and run one contract call as ``caller`` (in a worker thread)."""
        from .policy import needed_role, project_of

        metadata = self.store.metadata
        role = needed_role(metadata, route, kwargs)
        try:
            project = project_of(metadata, route.method, kwargs)
        except NotFound:
            project = None  # the call itself reports what is missing, after the role check
        self.require(caller, project, role, route.method.replace("_", " "))
        function = getattr(metadata, route.method)
        if takes_principal(route.method):
            kwargs = {**kwargs, "actor": caller.name}
        with acting_as(caller):
            try:
                return function(**kwargs)
            except OSError as error:
                raise StoreError(f"{route.method}: {error}") from error



def _returns_none(method: str) -> bool:
    from ..store.http.routes import signature

    _, hints = signature(method)
    return hints.get("return") is type(None)
