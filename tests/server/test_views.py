"""The web UI's view endpoints (/api/v1/views/...) over a real pipeline on a real store, through
the server application in this process; and the UI bundle served at / with its SPA fallback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import lineal
from lineal import deployments, registry
from lineal.auth import AuthSettings
from lineal.server import ServerSettings, create_app
from lineal.store import Store

from .conftest import bearer


def fill(store: Store, folder: Path) -> dict[str, str]:
    """raw -> prepare -> features -> train (x2, one failed) -> model v1, v2; v1 deployed to prod,
    then v2 replaces it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "raw.csv").write_text("a,b\n1,2\n3,4\n")
    (folder / "features.csv").write_text("a,b,c\n1,2,3\n")
    with lineal.run("ingest", kind="ingest", capture=False, store=store) as run:
        raw = run.log_artifact(folder / "raw.csv", name="churn-raw", kind="dataset")
    with lineal.run("prepare", kind="preprocess", capture=False, store=store) as run:
        run.use_version(raw, role="raw_data")
        features = run.log_artifact(folder / "features.csv", name="churn-features",
                                    kind="dataset")
    made = {"raw": raw.id, "features": features.id}
    for i, c in enumerate((0.5, 2.0), start=1):
        (folder / f"model{i}.bin").write_text(f"weights {c}")
        with lineal.run("train", kind="train", params={"C": c}, capture=False,
                        store=store) as run:
            run.use_version(features, role="train_data")
            for step in range(5):
                run.log_metric("loss", 1.0 / (step + c), step=step)
            run.log_metric("auc", 0.8 + i / 100)
            model = run.log_artifact(folder / f"model{i}.bin", name="churn-model", kind="model")
            made[f"train{i}"] = run.id
        registry.register_model("churn", model.ref, store=store)
    with pytest.raises(ValueError), lineal.run("train", kind="train", capture=False,
                                                store=store) as run:
        run.use_version(features, role="train_data")
        made["failed"] = run.id
        raise ValueError("diverged")
    made["prod1"] = deployments.record_deployment("churn@v1", name="churn-api", environment="prod",
                                                  capture=False, store=store).id
    made["prod2"] = deployments.record_deployment("churn@v2", name="churn-api", environment="prod",
                                                  capture=False, store=store).id
    return made


@pytest.fixture
def pipeline(embedded: Store, tmp_path: Path) -> dict[str, str]:
    return fill(embedded, tmp_path / "work")


@pytest.fixture
def client(embedded: Store) -> Iterator[TestClient]:
    with TestClient(create_app(ServerSettings(webhooks=False), store=embedded)) as c:
        yield c


def ok(response) -> dict:  # noqa: ANN001 - an httpx response
    assert response.status_code == 200, response.text
    return response.json()


def test_lineage_view_one_hop_then_full_depth_with_states(client: TestClient,
                                                           pipeline: dict[str, str]) -> None:
    one = ok(client.get("/api/v1/views/lineage", params={"ref": "churn@v2"}))
    by_type = {n["type"] for n in one["nodes"]}
    assert one["nodes"][0]["ref"] == "model:default/churn@v2"
    assert by_type == {"model_version", "artifact", "deployment"}  # one hop each way
    assert one["depth_limited"] is True
    assert "registered" in {e["type"] for e in one["edges"]}
    full = ok(client.get("/api/v1/views/lineage",
                         params={"ref": "churn@v2", "depth": "all", "direction": "up"}))
    names = {n["name"] for n in full["nodes"]}
    assert {"churn-raw", "prepare", "churn-features", "train", "churn-model"} <= names
    assert {e["role"] for e in full["edges"]} >= {"raw_data", "train_data"}
    down = ok(client.get("/api/v1/views/lineage",
                         params={"ref": "churn-features@v1", "depth": "all",
                                 "direction": "down"}))
    flags = {n["id"]: n["flags"] for n in down["nodes"]}
    assert flags[pipeline["failed"]] == ["failed"]
    assert flags[pipeline["prod2"]] == ["live"] and flags[pipeline["prod1"]] == ["ended"]


def test_lineage_view_as_of_hides_later_nodes_and_shows_what_was_live(
        client: TestClient, pipeline: dict[str, str], embedded: Store) -> None:
    first = deployments.get(pipeline["prod1"], store=embedded)
    second = deployments.get(pipeline["prod2"], store=embedded)
    between = first.started_at + (second.started_at - first.started_at) / 2
    then = ok(client.get("/api/v1/views/lineage", params={
        "ref": "churn-features@v1", "depth": "all", "direction": "down",
        "as_of": between.isoformat()}))
    ids = {n["id"]: n for n in then["nodes"]}
    assert pipeline["prod2"] not in ids and then["hidden_later"] >= 1
    assert ids[pipeline["prod1"]]["flags"] == ["live"]


def test_lineage_view_truncates_past_max_nodes(client: TestClient,
                                               pipeline: dict[str, str]) -> None:
    cut = ok(client.get("/api/v1/views/lineage", params={
        "ref": "churn-raw@v1", "depth": "all", "direction": "down", "max_nodes": 3}))
    assert cut["truncated"] is True and len(cut["nodes"]) == 3 and cut["total"] > 3
    ids = {n["id"] for n in cut["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in cut["edges"])


def test_lineage_view_bad_input_is_one_clear_error(client: TestClient,
                                                   pipeline: dict[str, str]) -> None:
    missing = client.get("/api/v1/views/lineage", params={"ref": "nope@v9"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"
    bad = client.get("/api/v1/views/lineage", params={"ref": "churn@v1", "depth": "-1"})
    assert bad.status_code == 400 and "depth" in bad.json()["error"]["message"]
    empty = client.get("/api/v1/views/lineage")
    assert empty.status_code == 400 and "ref is required" in empty.json()["error"]["message"]


def test_run_view(client: TestClient, pipeline: dict[str, str]) -> None:
    view = ok(client.get(f"/api/v1/views/run/{pipeline['train1']}"))
    assert view["run"]["params"] == {"C": 0.5}
    assert [p[0] for p in view["series"]["loss"]] == [0, 1, 2, 3, 4]
    assert view["inputs"][0]["role"] == "train_data"
    assert view["inputs"][0]["name"] == "churn-features"
    assert view["outputs"][0]["name"] == "churn-model"
    assert "packages" in view["not_captured"]  # capture=False: unknown, and said so
    failed = ok(client.get(f"/api/v1/views/run/{pipeline['failed'][:10]}"))
    assert failed["state"] == "failed" and "diverged" in failed["run"]["error"]["message"]


def test_compare_view_two_versions(client: TestClient, pipeline: dict[str, str]) -> None:
    view = ok(client.get("/api/v1/views/compare", params={"refs": "churn@v1,churn@v2"}))
    assert [s["run"]["params"]["C"] for s in view["subjects"]] == [0.5, 2.0]
    assert view["subjects"][0]["run"]["points"] == {"auc": 1, "loss": 5}
    (d,) = view["diffs"]
    assert d["first_divergence"]["step"] == "train"
    assert any("C" in r for r in d["first_divergence"]["reasons"])
    one = client.get("/api/v1/views/compare", params={"refs": "churn@v1"})
    assert one.status_code == 400


def test_model_view_versions_history_timeline(client: TestClient, pipeline: dict[str, str],
                                              embedded: Store) -> None:
    view = ok(client.get("/api/v1/views/model/churn"))
    assert [v["version"] for v in view["versions"]] == [2, 1]
    assert [d["id"] for d in view["timeline"]] == [pipeline["prod1"], pipeline["prod2"]]
    assert [d["id"] for d in view["live"]] == [pipeline["prod2"]]
    assert {"version.create", "deployment.start"} <= {e["action"] for e in view["history"]}
    first = deployments.get(pipeline["prod1"], store=embedded)
    then = ok(client.get("/api/v1/views/model/churn",
                         params={"as_of": first.started_at.isoformat()}))
    assert [d["id"] for d in then["as_of"]["live"]] == [pipeline["prod1"]]


def test_impact_and_taint_and_untaint(client: TestClient, pipeline: dict[str, str]) -> None:
    before = ok(client.get("/api/v1/views/impact", params={"ref": "churn-raw@v1"}))
    assert before["taint"] is None and before["counts"]["model_versions"] == 2
    assert before["counts"]["live_deployments"] == 1
    report = ok(client.post("/api/v1/views/taint",
                            json={"ref": "churn-raw@v1", "reason": "labels leaked"}))
    assert report["taint"]["reason"] == "labels leaked"
    graph = ok(client.get("/api/v1/views/lineage", params={"ref": "churn-raw@v1"}))
    assert graph["nodes"][0]["flags"] == ["tainted"]
    assert graph["nodes"][0]["taint"]["reason"] == "labels leaked"
    ok(client.post("/api/v1/views/untaint", json={"ref": "churn-raw@v1"}))
    assert ok(client.get("/api/v1/views/impact", params={"ref": "churn-raw@v1"}))["taint"] is None
    no_reason = client.post("/api/v1/views/taint", json={"ref": "churn-raw@v1"})
    assert no_reason.status_code == 400


@pytest.fixture
def auth_app(embedded: Store) -> Iterator[TestClient]:
    settings = ServerSettings(auth=AuthSettings(enabled=True), webhooks=False)
    with TestClient(create_app(settings, store=embedded)) as c:
        yield c


def test_views_need_a_credential_and_actions_their_role(auth_app: TestClient, embedded: Store,
                                                         pipeline: dict[str, str]) -> None:
    assert auth_app.get("/api/v1/views/model/churn").status_code == 401
    reader = bearer(lineal.create_token("reader", store=embedded)[1])
    writer = bearer(lineal.create_token("writer", store=embedded)[1])
    admin = bearer(lineal.create_token("admin", store=embedded)[1])
    other = bearer(lineal.create_token("admin", project="fraud", store=embedded)[1])
    assert ok(auth_app.get("/api/v1/views/whoami", headers=reader))["roles"] == {"*": "reader"}
    ok(auth_app.get("/api/v1/views/model/churn", headers=reader))
    denied = auth_app.get("/api/v1/views/model/churn", headers=other)
    assert denied.status_code == 403
    review = {"name": "churn", "version": 2, "decision": "approve", "comment": "looks good"}
    for headers in (reader, writer):
        assert auth_app.post("/api/v1/views/review", json=review, headers=headers).status_code == 403
    approval = ok(auth_app.post("/api/v1/views/review", json=review, headers=admin))
    assert approval["decision"] == "approved" and approval["actor"].startswith("token:")
    taint = {"ref": "churn-raw@v1", "reason": "bad"}
    assert auth_app.post("/api/v1/views/taint", json=taint, headers=reader).status_code == 403
    ok(auth_app.post("/api/v1/views/taint", json=taint, headers=writer))
    reject = {**review, "decision": "maybe"}
    assert auth_app.post("/api/v1/views/review", json=reject, headers=admin).status_code == 400


# -- the bundle ----------------------------------------------------------------------------------
@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>lineal</title>")
    (folder / "assets" / "app-1234.js").write_text("console.log('hi')")
    return folder


def test_bundle_served_with_spa_fallback_without_shadowing_the_api(
        embedded: Store, bundle: Path) -> None:
    settings = ServerSettings(webhooks=False, ui_dir=str(bundle))
    with TestClient(create_app(settings, store=embedded)) as c:
        for path in ("/", "/runs", "/lineage/churn@v3", "/registry/churn", "/runs/01JABC"):
            page = c.get(path)
            assert page.status_code == 200 and "<title>lineal</title>" in page.text, path
        asset = c.get("/assets/app-1234.js")
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        assert c.get("/assets/gone-999.js").status_code == 404
        assert c.get("/../secret.txt").status_code in (200, 404)  # never outside the bundle
        assert c.get("/healthz").status_code == 200
        api = c.get("/api/v1/nothing-here")
        assert api.status_code == 404 and api.json()["error"]["code"] == "NotFound"
        assert c.post("/api/v1/nothing-here").status_code == 404
        assert c.get("/api/v1/ledger/verify").status_code == 405  # a wrong method stays a 405
        assert c.get("/api/v1/openapi.json").json()["info"]["title"] == "lineal"


def test_assets_served_as_the_compressed_copies_the_browser_accepts(
        embedded: Store, bundle: Path) -> None:
    import gzip

    import httpx

    text = b"console.log('hi');" * 100
    (bundle / "assets" / "big-5678.js").write_bytes(text)
    (bundle / "assets" / "big-5678.js.gz").write_bytes(gzip.compress(text))
    (bundle / "assets" / "big-5678.js.br").write_bytes(b"not really brotli")
    settings = ServerSettings(webhooks=False, ui_dir=str(bundle))
    with TestClient(create_app(settings, store=embedded)) as c:
        def get(accept: str) -> httpx.Response:
            return c.get("/assets/big-5678.js", headers={"accept-encoding": accept})

        zipped = get("gzip, deflate")  # httpx decodes gzip itself
        assert zipped.headers["content-encoding"] == "gzip" and zipped.content == text
        assert zipped.headers["content-type"].startswith(("text/javascript", "application/javascript"))
        assert "immutable" in zipped.headers["cache-control"]
        assert zipped.headers["vary"] == "accept-encoding"
        assert get("br;q=0, gzip").headers["content-encoding"] == "gzip"
        plain = get("identity")
        assert "content-encoding" not in plain.headers and plain.content == text
        with c.stream("GET", "/assets/big-5678.js", headers={"accept-encoding": "gzip, br"}) as r:
            assert r.headers["content-encoding"] == "br"  # the smaller first (body not decoded)
        # an asset the build left uncompressed (under 1 kB) is served as it is
        small = c.get("/assets/app-1234.js", headers={"accept-encoding": "gzip, br"})
        assert "content-encoding" not in small.headers and small.text == "console.log('hi')"


def test_no_bundle_says_how_to_build_it(embedded: Store, tmp_path: Path) -> None:
    settings = ServerSettings(webhooks=False, ui_dir=str(tmp_path / "none"))
    with TestClient(create_app(settings, store=embedded)) as c:
        page = c.get("/")
        assert page.status_code == 503
        assert page.json()["error"]["code"] == "UINotBuilt"
        assert "make ui" in page.json()["error"]["details"]["hint"]


def test_lineage_view_carries_a_dataset_schema(client: TestClient, embedded: Store) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"age": [31, 45], "plan": ["basic", "pro"]})
    with lineal.run("ingest", capture=False, store=embedded) as run:
        run.log_dataset(frame, name="customers")
    view = ok(client.get("/api/v1/views/lineage", params={"ref": "customers@v1"}))
    facts = view["nodes"][0]["dataset"]
    assert facts["rows"] == 2 and facts["columns"] == 2 and set(facts["schema"]) == {"age", "plan"}


def test_lineage_view_leaves_out_projects_the_caller_cannot_read(
        auth_app: TestClient, embedded: Store, tmp_path: Path) -> None:
    (tmp_path / "shared.csv").write_text("a\n1\n")
    with lineal.run("ingest", project="shared", capture=False, store=embedded) as run:
        shared = run.log_artifact(tmp_path / "shared.csv", name="shared-data", kind="dataset")
    with lineal.run("train", project="churn", capture=False, store=embedded) as run:
        run.use_version(shared, role="train_data")
    churn_only = bearer(lineal.create_token("reader", project="churn", store=embedded)[1])
    everyone = bearer(lineal.create_token("reader", store=embedded)[1])
    ref = {"ref": f"run:{run.id}", "depth": "all"}
    full = ok(auth_app.get("/api/v1/views/lineage", params=ref, headers=everyone))
    assert {n["project"] for n in full["nodes"]} == {"churn", "shared"}
    cut = ok(auth_app.get("/api/v1/views/lineage", params=ref, headers=churn_only))
    assert {n["project"] for n in cut["nodes"]} == {"churn"}
    assert cut["hidden_unreadable"] >= 1 and cut["edges"] == []
    denied = auth_app.get("/api/v1/views/lineage", params={"ref": "shared/shared-data@v1"},
                          headers=churn_only)
    assert denied.status_code == 403


def test_dataset_views_schema_profile_versions_and_diff(client: TestClient, embedded: Store,
                                                        pipeline: dict[str, str]) -> None:
    pandas = pytest.importorskip("pandas")
    kg = pandas.DataFrame({"weight": [60.0 + i % 30 for i in range(200)],
                           "plan": ["basic", "pro"] * 100})
    with lineal.run("ingest", capture=False, store=embedded) as run:
        run.log_dataset(kg, name="patients")
        run.log_dataset(kg.assign(weight=kg.weight * 2.20462, extra=1), name="patients")
    listed = ok(client.get("/api/v1/views/datasets"))["datasets"]
    assert [(d["latest"]["ref"], d["versions"]) for d in listed] == [("default/patients@v2", 2)]
    view = ok(client.get("/api/v1/views/dataset", params={"ref": "patients@v1"}))
    assert view["dataset"]["ref"] == "default/patients@v1" and view["dataset"]["num_rows"] == 200
    assert [c["name"] for c in view["dataset"]["schema"]] == ["weight", "plan"]
    assert view["dataset"]["columns"][0]["mean"] == pytest.approx(74.0)
    assert [v["version"] for v in view["versions"]] == [2, 1]
    diff = ok(client.get("/api/v1/views/dataset-diff",
                         params={"a": "patients@v1", "b": "patients@v2"}))
    assert diff["a"]["version"] == 1 and diff["b"]["version"] == 2
    assert diff["diff"]["added_columns"] == ["extra"]
    shift = {s["name"]: s for s in diff["diff"]["column_shifts"]}["weight"]
    assert shift["flagged"] and "kg -> lb" in shift["reason"]
    # churn-raw was logged as a plain file: an artifact, not a described dataset
    plain = client.get("/api/v1/views/dataset", params={"ref": "churn-raw@v1"})
    assert plain.status_code == 400 and "not a dataset" in plain.json()["error"]["message"]
    assert client.get("/api/v1/views/dataset", params={"ref": "nope@v1"}).status_code == 404
    bad = client.get("/api/v1/views/dataset-diff",
                     params={"a": "patients@v1", "b": "patients@v2", "threshold": "x"})
    assert bad.status_code == 400
    assert client.get("/api/v1/views/dataset-diff", params={"a": "patients@v1"}).status_code == 400
