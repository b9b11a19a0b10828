"""Fixtures of the server tests: a store, a server with auth on over it, tokens per role."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

import lineal
from lineal.auth import AuthSettings
from lineal.server import ServerSettings, create_app
from lineal.server.testing import in_process
from lineal.store import Store, open_store


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path / "store", artifacts=str(tmp_path / "blobs"))
    yield store
    store.close()


@pytest.fixture
def auth_client(embedded: Store) -> Iterator[TestClient]:
    """A server with auth on (API tokens only) over ``embedded``."""
    settings = ServerSettings(auth=AuthSettings(enabled=True), webhooks=False)
    with TestClient(create_app(settings, store=embedded)) as client:
        yield client


@pytest.fixture
def tokens(embedded: Store) -> dict[str, str]:
    """Secrets of tokens for every role in every project, and for one project (``churn``)."""
    made = {}
    for role in ("reader", "writer", "admin"):
        made[role] = lineal.create_token(role, store=embedded)[1]
        made[f"{role}:churn"] = lineal.create_token(role, project="churn", store=embedded)[1]
    return made


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def local(tmp_path: Path) -> Store:
    """An embedded store (SQLite and a blob folder) for the upload tests."""
    return open_store(str(tmp_path / "store"))


@pytest.fixture
def uploads_client(local: Store) -> Iterator[httpx.Client]:
    """The httpx client of an HTTP store served in-process over ``local``."""
    with in_process(local) as remote:
        yield remote.metadata.transport.client  # type: ignore[attr-defined]
