"""The API fuzzed from its own OpenAPI document (schemathesis): no input makes it fail with a
5xx. Bounded: a few cases per operation, so the suite stays fast; run more with
``LINEAL_FUZZ_EXAMPLES=200``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from lineal.server import ServerSettings, create_app
from lineal.store import open_store

EXAMPLES = int(os.environ.get("LINEAL_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    folder = tmp_path_factory.mktemp("fuzz")
    store = open_store(folder / "store", artifacts=str(folder / "blobs"))
    app = create_app(ServerSettings(webhooks=False), store=store)
    with TestClient(app):  # runs the application's start-up
        yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    store.close()


def _operations() -> list[str]:
    from lineal.store.http.routes import ROUTES

    return [r.method for r in ROUTES] + ["put_blob", "post_blob", "get_blob", "blob_info"]


@pytest.mark.parametrize("operation_id", _operations())
def test_no_input_makes_the_server_fail(api_schema: object, operation_id: str) -> None:
    operation = next(result.ok() for result in api_schema.get_all_operations()  # type: ignore[attr-defined]
                     if result.ok().definition.raw.get("operationId") == operation_id)

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None)
    @given(case=operation.as_strategy())
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call()
        assert response.status_code < 500, (case.method, case.formatted_path, case.body,
                                            case.query, response.text[:500])

    fuzz()


def test_fuzzing_reaches_every_route() -> None:
    from lineal.store.http.routes import ROUTES

    spec = Path(__file__).parents[2] / "docs" / "openapi.json"
    text = spec.read_text()
    missing = [r.method for r in ROUTES if f'"operationId": "{r.method}"' not in text]
    assert missing == []
