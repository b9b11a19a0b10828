"""Every route against every role: 401 without a credential, 403 for a role that is not
enough, and the ledger records the authenticated principal."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

import lineal
from lineal.store import Store
from lineal.store.http.routes import ADMIN, READER, ROUTES, WRITER, Route

from .conftest import bearer

RANK = {READER: 0, WRITER: 1, ADMIN: 2}


def _url(route: Route) -> str:
    # Path values that decode for every route (a version number where an int is expected).
    return re.sub(r"\{([a-z_]+)(:path)?\}",
                  lambda m: "1" if m.group(1) == "version" else "x", route.url)


def _send(client: TestClient, route: Route, headers: dict[str, str]) -> int:
    if route.verb == "GET":
        return client.get(_url(route), headers=headers).status_code
    return client.request(route.verb, _url(route), json={}, headers=headers).status_code


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.method)
def test_every_route_needs_a_credential(auth_client: TestClient, route: Route) -> None:
    answer_codes = {_send(auth_client, route, {}),
                    _send(auth_client, route, bearer("lnl_not-a-real-token"))}
    assert answer_codes == {401}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.method)
@pytest.mark.parametrize("role", [READER, WRITER, ADMIN])
def test_every_route_against_every_role(auth_client: TestClient, tokens: dict[str, str],
                                        route: Route, role: str) -> None:
    status = _send(auth_client, route, bearer(tokens[role]))
    if RANK[role] < RANK[route.role]:
        assert status == 403, (route.method, role, status)
    else:  # allowed: whatever the (empty) arguments make of it, never a refusal of the role
        assert status not in (401, 403, 500), (route.method, role, status)


def test_the_401_names_the_scheme(auth_client: TestClient) -> None:
    answer = auth_client.get("/api/v1/runs")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"]["code"] == "Unauthenticated"


def test_a_project_token_writes_only_its_project(auth_client: TestClient, embedded: Store,
                                                 tokens: dict[str, str]) -> None:
    from lineal.store.http import open_http_store
    from lineal.store.http.client import HttpMetadataStore

    remote = HttpMetadataStore("http://testserver", token=tokens["writer:churn"],
                               client=auth_client)
    from lineal.entities import Run, RunStatus, new_id, us_to_datetime

    def run_in(project: str) -> Run:
        return Run(new_id(), project, "r", "train", RunStatus.RUNNING,
                   us_to_datetime(1_800_000_000_000_000))

    remote.create_run(run_in("churn"), "ignored")
    with pytest.raises(lineal.PermissionDenied, match="writer.*'fraud'"):
        remote.create_run(run_in("fraud"), "ignored")
    assert open_http_store  # the same client the SDK uses


def test_the_ledger_records_the_token_not_a_claimed_name(auth_client: TestClient,
                                                         embedded: Store,
                                                         tokens: dict[str, str]) -> None:
    from lineal.entities import Run, RunStatus, new_id, us_to_datetime
    from lineal.store.http.client import HttpMetadataStore

    remote = HttpMetadataStore("http://testserver", token=tokens["writer"], client=auth_client)
    run = Run(new_id(), "churn", "r", "train", RunStatus.RUNNING,
              us_to_datetime(1_800_000_000_000_000))
    remote.create_run(run, "mallory")  # the actor argument never travels
    entry = embedded.metadata.ledger_entries(entity_id=run.id)[0]
    assert entry.actor.startswith("token:") and entry.actor != "mallory"
    assert embedded.metadata.get_run(run.id).created_by == entry.actor


def test_promotion_to_production_needs_an_admin(auth_client: TestClient, embedded: Store,
                                                tokens: dict[str, str]) -> None:
    path = "/api/v1/models/default/churn/versions/1/stage"
    answer = auth_client.post(path, json={"stage": "production"},
                              headers=bearer(tokens["writer"]))
    assert answer.status_code == 403 and "admin" in answer.json()["error"]["message"]
    answer = auth_client.post(path, json={"stage": "staging"}, headers=bearer(tokens["writer"]))
    assert answer.status_code == 404  # allowed: the model does not exist


def test_a_reader_cannot_read_bytes_of_another_project(auth_client: TestClient,
                                                       embedded: Store,
                                                       tokens: dict[str, str],
                                                       tmp_path) -> None:
    import lineal.store as store_module

    store_module.set_default_store(embedded)
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n")
    with lineal.run(project="fraud", name="r", kind="ingest") as run:
        version = run.log_artifact(data, name="d", kind="dataset")
    url = f"/api/v1/blobs/{version.digest}"
    assert auth_client.get(url, headers=bearer(tokens["reader:churn"])).status_code == 403
    assert auth_client.get(url, headers=bearer(tokens["reader"])).content == b"a,b\n1,2\n"
