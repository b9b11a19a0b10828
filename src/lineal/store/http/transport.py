"""One HTTP connection to a lineal server: credentials, retries, idempotency keys, errors.

- Credentials: ``LINEAL_TOKEN`` (an API token or an OIDC access token) is sent as a bearer
  token. It is a credential the server checks, not an identity the client claims.
- Retries: a request that fails before an answer (connection refused or reset, timeout) or gets
  502/503/504 is sent again with exponential backoff and jitter, up to ``retries`` times.
- Idempotency: every write carries an ``Idempotency-Key`` header, the same on each retry, so a
  server that saw the first attempt answers the retry with the first answer instead of doing
  the write twice.
- Errors: the server's ``{"error": {"code", "message", "details"}}`` becomes the same
  :class:`~lineal.errors.LinealError` subclass the embedded store would have raised; an
  unreachable server is one :class:`~lineal.errors.StoreError` line naming it.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ... import errors as error_tree
from ...errors import LinealError, StoreError

__all__ = ["Transport"]

ENV_TOKEN = "LINEAL_TOKEN"
RETRY_STATUS = frozenset({502, 503, 504})
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Transport:
    """An httpx client bound to one server, with lineal's retry and error rules."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        retries: int = 4,
        backoff: float = 0.2,
        timeout: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        token = token if token is not None else os.environ.get(ENV_TOKEN)
        headers = {"user-agent": "lineal-client"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._owns_client = client is None
        self.client = client or httpx.Client(base_url=self.base_url, timeout=timeout)
        if self._owns_client:
            self.client.headers.update(headers)
        else:
            self._headers = headers

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def request(self, verb: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; the answer of a 2xx, else the error it carries, raised."""
        response = self._send(verb, url, stream=False, **kwargs)
        if response.status_code >= 400:
            raise error_from(response)
        return response

    @contextmanager
    def stream(self, verb: str, url: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed answer (downloads); errors raised before the body is read."""
        response = self._send(verb, url, stream=True, **kwargs)
        try:
            if response.status_code >= 400:
                response.read()
                raise error_from(response)
            yield response
        finally:
            response.close()

    def _send(self, verb: str, url: str, *, stream: bool, **kwargs: Any) -> httpx.Response:
        headers = {**getattr(self, "_headers", {}), **(kwargs.pop("headers", None) or {})}
        if verb in WRITE_VERBS:
            headers.setdefault("idempotency-key", uuid.uuid4().hex)
        attempt = 0
        while True:
            try:
                request = self.client.build_request(verb, url, headers=headers, **kwargs)
                response = self.client.send(request, stream=stream)
            except httpx.TransportError as error:
                if attempt >= self.retries or not _rewindable(kwargs):
                    raise StoreError(
                        f"lineal server {self.base_url} is not reachable: "
                        f"{type(error).__name__}: {error}".rstrip(": "),
                        hint="check that `lineal server` runs there and LINEAL_URI is right",
                    ) from error
            else:
                if response.status_code not in RETRY_STATUS or attempt >= self.retries \
                        or not _rewindable(kwargs):
                    return response
                response.close()
            attempt += 1
            time.sleep(self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))


def _rewindable(kwargs: dict[str, Any]) -> bool:
    """Whether the request body can be sent again (not a one-shot stream)."""
    content = kwargs.get("content")
    return content is None or isinstance(content, (bytes, str))


def error_from(response: httpx.Response) -> LinealError:
    """The lineal error an error answer carries."""
    try:
        body = response.json()
        error = body["error"]
        code, message = str(error["code"]), str(error["message"])
        hint = (error.get("details") or {}).get("hint")
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:300]
        cls = _by_status(response.status_code)  # HEAD answers have no body
        message = f"{response.request.method} {response.request.url.path}: " \
            f"{text or response.reason_phrase or response.status_code}"
        return cls(message) if cls is not LinealError else StoreError(
            f"lineal server answered {response.status_code}: {text or 'no body'}")
    details = error.get("details") or {}
    if code == "BadImport" and {"section", "index"} <= set(details):
        from ..types import BadImport

        return BadImport(str(details["section"]), int(details["index"]), message, hint=hint)
    named = getattr(error_tree, code, None)
    if isinstance(named, type) and issubclass(named, LinealError):
        cls = named
    else:
        cls = _by_status(response.status_code)
    failure = cls(message, hint=hint)
    failure.http_status = response.status_code  # e.g. 413 or 416 beside InvalidArgument's 400
    return failure


def _by_status(status: int) -> type[LinealError]:
    for name in error_tree.__all__:
        cls = getattr(error_tree, name)
        if cls.__bases__ == (LinealError,) and cls.http_status == status:
            return cls
    return StoreError if status >= 500 else LinealError
