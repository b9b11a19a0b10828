"""The run search contract (``MetadataStore.search_runs``) on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lineal.entities import EdgeDirection, MetricPoint, Run, RunStatus, Storage, new_id
from lineal.errors import InvalidArgument
from lineal.identity import os_account
from lineal.store import Store
from lineal.store.base import MetadataStore, NewArtifactVersion

# What every backend records: the SQL store the actor it is told, an HTTP store the server's
# principal (here the same OS account).
ACTOR = os_account()
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_run(meta: MetadataStore, name: str, minutes: int, *, metrics: dict[str, float] | None = None,
             status: RunStatus = RunStatus.FINISHED, **fields: Any) -> Run:
    run = Run(id=new_id(), project=fields.pop("project", "default"), name=name,
              kind=fields.pop("kind", "train"), status=RunStatus.RUNNING,
              started_at=T0 + timedelta(minutes=minutes), **fields)
    meta.create_run(run, ACTOR)
    points = [MetricPoint(k, v, 0, 1) for k, v in (metrics or {}).items()]
    ended = int((T0 + timedelta(minutes=minutes, seconds=30)).timestamp() * 1_000_000)
    meta.finish_run(run.id, status, ended, None, ACTOR, metrics=points)
    return run


def artifact(meta: MetadataStore, name: str, content: str, kind: str = "dataset",
             **fields: Any) -> Any:
    spec = NewArtifactVersion(
        project="default", name=name, kind=kind,
        digest="sha256:" + hashlib.sha256(content.encode()).hexdigest(),
        uri=f"file:///blobs/{content}", size=len(content), storage=Storage.STORED, **fields,
    )
    return meta.create_artifact_version(spec, ACTOR)[0]


@pytest.fixture
def runs(backend_store: Store) -> dict[str, Run]:
    meta = backend_store.metadata
    made = {
        "a": make_run(meta, "alpha", 1, metrics={"auc": 0.95, "my-key": 3.0},
                      params={"C": "0.5", "model": "xgboost"}, tags={"team": "ml", "owner": "Alice"},
                      experiment="exp-1"),
        "b": make_run(meta, "beta", 2, metrics={"auc": 0.85}, params={"C": 0.5, "model": "linear"},
                      tags={"team": "ml"}, experiment="exp-1"),
        "c": make_run(meta, "gamma", 3, metrics={"auc": 0.92}, params={"C": "1.0", "model": "XGB-big"},
                      tags={"team": "data"}, status=RunStatus.FAILED, kind="evaluate"),
        "d": make_run(meta, "delta", 4, params={"C": "2"}, project="other"),
    }
    return made


def names(page: Any) -> list[str]:
    return [run.name for run in page]


def search(store: Store, flt: str | None = None, **kw: Any) -> list[str]:
    return names(store.metadata.search_runs(flt, **kw))


def test_default_order_is_newest_first(backend_store: Store, runs: dict[str, Run]) -> None:
    page = backend_store.metadata.search_runs()
    assert names(page) == ["delta", "gamma", "beta", "alpha"]
    assert page.next_page_token is None
    assert page.runs[0].project == "other" and page[3].metrics["auc"] == 0.95


@pytest.mark.parametrize(("flt", "expected"), [
    ("metrics.auc > 0.9", ["gamma", "alpha"]),
    ("metrics.auc >= 0.85 and metrics.auc < 0.93", ["gamma", "beta"]),
    ("metrics.auc != 0.85", ["gamma", "alpha"]),
    ("metrics.`my-key` = 3", ["alpha"]),
    ("metrics.auc IN (0.85, 0.95)", ["beta", "alpha"]),
    # a param compares as the text shown: the string "0.5" and the number 0.5 both match
    ("params.C = '0.5'", ["beta", "alpha"]),
    ("params.C = 0.5", ["beta", "alpha"]),
    ("params.C != '0.5'", ["delta", "gamma"]),
    ("params.model LIKE 'xgb%'", ["alpha"]),
    ("params.model ILIKE 'xgb%'", ["gamma", "alpha"]),
    ("params.model NOT LIKE 'xgb%'", ["gamma", "beta"]),
    ("params.model IN ('linear', 'xgboost')", ["beta", "alpha"]),
    ("tags.team = 'ml'", ["beta", "alpha"]),
    ("tags.owner ILIKE '%alice%'", ["alpha"]),
    ("tags.owner = 'alice'", []),  # case-sensitive on every backend, MariaDB included
    ("tags.owner IN ('alice', 'Alice')", ["alpha"]),
    ("params.model = 'XGBoost'", []),
    ("tags.owner LIKE 'alice'", []),
    ("tags.team NOT IN ('ml')", ["gamma"]),
    ("attributes.status = 'finished'", ["delta", "beta", "alpha"]),
    ("attributes.status = 'FAILED'", ["gamma"]),
    ("status != 'finished'", ["gamma"]),
    ("attributes.kind = 'evaluate'", ["gamma"]),
    ("attributes.run_name = 'beta'", ["beta"]),
    ("attributes.name LIKE '%ta'", ["delta", "beta"]),
    ("attributes.experiment = 'exp-1'", ["beta", "alpha"]),
    ("attributes.experiment != 'exp-1'", ["delta", "gamma"]),
    ("attributes.project = 'other'", ["delta"]),
    ("attributes.start_time > '2026-11-01T12:02:00+00:00'", ["delta", "gamma"]),
    ("attributes.created >= 1793534520000", ["delta", "gamma", "beta"]),  # epoch ms, 12:02
    ("attributes.end_time < '2026-11-01T12:02:00+00:00'", ["alpha"]),
    ("attributes.start_time > '2026-10-31'", ["delta", "gamma", "beta", "alpha"]),
    ("attributes.start_time > '2026-11-02'", []),
    ("metrics.auc > 0.9 or params.C = '2'", ["delta", "gamma", "alpha"]),
    ("(tags.team = 'ml' or tags.team = 'data') and metrics.auc < 0.9", ["beta"]),
])
def test_filters(backend_store: Store, runs: dict[str, Run], flt: str, expected: list[str]) -> None:
    assert search(backend_store, flt) == expected


def test_a_quoted_value_is_not_the_string_inside_it(backend_store: Store,
                                                    runs: dict[str, Run]) -> None:
    # The bare stored form of the text '"x"' is the JSON string x: found by the (key, value)
    # index, it must still be told apart by its text.
    make_run(backend_store.metadata, "quoted", 5, params={"q": "x"}, tags={"q": '"x"'})
    assert search(backend_store, "params.q = 'x'") == ["quoted"]
    assert search(backend_store, "params.q = '\"x\"'") == []
    assert search(backend_store, "params.q IN ('\"x\"', 'y')") == []
    assert search(backend_store, "tags.q = '\"x\"'") == ["quoted"]


def test_run_id_attribute(backend_store: Store, runs: dict[str, Run]) -> None:
    assert search(backend_store, f"attributes.run_id = '{runs['b'].id}'") == ["beta"]
    ids = ", ".join(f"'{runs[k].id.lower()}'" for k in "ac")
    assert search(backend_store, f"attributes.run_id IN ({ids})") == ["gamma", "alpha"]


@pytest.mark.parametrize(("order", "expected"), [
    (["metrics.auc DESC"], ["alpha", "gamma", "beta", "delta"]),
    (["metrics.auc ASC"], ["beta", "gamma", "alpha", "delta"]),  # missing metric last both ways
    (["params.C ASC", "attributes.name DESC"], ["beta", "alpha", "gamma", "delta"]),
    (["attributes.start_time"], ["alpha", "beta", "gamma", "delta"]),
    (["tags.team DESC", "attributes.created ASC"], ["alpha", "beta", "gamma", "delta"]),
])
def test_order_by(backend_store: Store, runs: dict[str, Run], order: list[str],
                  expected: list[str]) -> None:
    assert search(backend_store, order_by=order) == expected


@pytest.mark.parametrize("order", [None, ["metrics.auc DESC"], ["params.model"],
                                   ["attributes.end_time ASC"]])
def test_pages_cover_everything_once_and_survive_inserts(
    backend_store: Store, runs: dict[str, Run], order: list[str] | None
) -> None:
    meta = backend_store.metadata
    expected = search(backend_store, order_by=order, limit=100)
    first = meta.search_runs(None, order, limit=2)
    assert len(first) == 2 and first.next_page_token
    # A run started later (first in the default order) must not shift the next page.
    make_run(meta, "late", 60, metrics={"auc": 0.99}, params={"model": "aaa"})
    seen = names(first)
    token = first.next_page_token
    while token:
        page = meta.search_runs(None, order, limit=2, page_token=token)
        seen += names(page)
        token = page.next_page_token
    assert [n for n in seen if n != "late"] == expected


def test_page_token_of_another_search_is_refused(backend_store: Store, runs: dict[str, Run]) -> None:
    token = backend_store.metadata.search_runs("metrics.auc > 0", limit=1).next_page_token
    assert token
    with pytest.raises(InvalidArgument, match="another filter or sort"):
        backend_store.metadata.search_runs("metrics.auc > 0.5", limit=1, page_token=token)
    with pytest.raises(InvalidArgument, match="bad page token"):
        backend_store.metadata.search_runs(None, page_token="not-a-token")


def test_lineage_terms(backend_store: Store, runs: dict[str, Run]) -> None:
    meta = backend_store.metadata
    v1 = artifact(meta, "features", "f1")
    v2 = artifact(meta, "features", "f2")
    model = artifact(meta, "churn", "m1", kind="model", producer_run_id=runs["b"].id)
    meta.add_edge(runs["a"].id, v1.id, EdgeDirection.INPUT, "train_data", ACTOR)
    meta.add_edge(runs["b"].id, v2.id, EdgeDirection.INPUT, "train_data", ACTOR)
    meta.set_alias("default", "features", "gold", 1, ACTOR)
    assert model.version == 1
    assert search(backend_store, "inputs.dataset = 'features@v2'") == ["beta"]
    assert search(backend_store, "inputs.dataset = 'features'") == ["beta", "alpha"]
    assert search(backend_store, "inputs.artifact = 'default/features@gold'") == ["alpha"]
    assert search(backend_store, "inputs.dataset = 'features@latest'") == ["beta"]
    assert search(backend_store, f"inputs.artifact = 'features@{v1.digest[:14]}'") == ["alpha"]
    assert search(backend_store, "inputs.model = 'features@v1'") == []
    assert search(backend_store, "inputs.dataset != 'features@v1'") == ["delta", "gamma", "beta"]
    assert search(backend_store, "outputs.model = 'churn@v1'") == ["beta"]
    assert search(backend_store, "outputs.artifact LIKE 'ch%'") == ["beta"]
    assert search(backend_store, "inputs.dataset IN ('features@v1', 'features@v2') "
                                 "and metrics.auc > 0.9") == ["alpha"]


def test_registered_model_outputs(backend_store: Store, runs: dict[str, Run]) -> None:
    from lineal import registry

    model = artifact(backend_store.metadata, "churn-model", "m2", kind="model",
                     producer_run_id=runs["c"].id)
    registry.register_model("churn-reg", model.ref, store=backend_store)
    assert search(backend_store, "outputs.model = 'churn-reg@v1'") == ["gamma"]


def test_env_terms_use_version_semantics(backend_store: Store, runs: dict[str, Run]) -> None:
    meta = backend_store.metadata
    for key, packages in (("a", {"torch": "2.3.1", "numpy": "1.26.4"}),
                          ("b", {"torch": "2.10.0"}), ("c", {"Torch": "1.13.0"})):
        env = artifact(meta, "environment", f"env-{key}", kind="environment",
                       metadata={"packages": packages})
        meta.add_edge(runs[key].id, env.id, EdgeDirection.INPUT, "environment", ACTOR)
    assert search(backend_store, "env.torch >= '2.3'") == ["beta", "alpha"]  # 2.10 > 2.3
    assert search(backend_store, "env.torch < '2'") == ["gamma"]
    assert search(backend_store, "env.torch = '2.3.*'") == ["alpha"]
    assert search(backend_store, "env.torch = '2.3.1' and env.numpy = '1.26.4'") == ["alpha"]
    assert search(backend_store, "env.torch IN ('1.13.0', '2.10.0')") == ["gamma", "beta"]
    assert search(backend_store, "env.jax >= '0'") == []


def test_columns_named_by_filter_and_order(backend_store: Store, runs: dict[str, Run]) -> None:
    page = backend_store.metadata.search_runs("metrics.auc > 0 and params.C != 'x'",
                                               order_by=["tags.team DESC", "metrics.auc"])
    assert page.columns == ("metrics.auc", "params.C", "tags.team")


def test_to_pandas_is_shaped_like_mlflow(backend_store: Store, runs: dict[str, Run]) -> None:
    pytest.importorskip("pandas")
    frame = backend_store.metadata.search_runs(order_by=["attributes.start_time"]).to_pandas()
    assert list(frame.columns[:5]) == ["run_id", "name", "status", "start_time", "end_time"]
    assert list(frame["name"]) == ["alpha", "beta", "gamma", "delta"]
    assert frame.loc[0, "metrics.auc"] == 0.95 and frame.loc[0, "params.C"] == "0.5"
    assert frame.loc[1, "tags.team"] == "ml" and frame.isna().loc[3, "tags.team"]


@pytest.mark.parametrize(("flt", "message"), [
    ("metrics.auc > and params.C = '1'", "column 15: expected a value after '>', found 'and'"),
    ("metrics.auc = 'high'", "column 13: metrics.auc compares with a number"),
    ("attributes.colour = 'red'", "column 12: unknown attribute 'colour'"),
    ("inputs.thing = 'x'", "column 8: unknown inputs key"),
    ("params.C = '1' params.D = '2'", "column 16: expected 'and', 'or'"),
    ("attributes.start_time LIKE '2026%'", "column 23: attributes.start_time does not take LIKE"),
])
def test_malformed_filters_name_the_column(backend_store: Store, flt: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match="bad filter at " + message.replace("(", r"\(")):
        backend_store.metadata.search_runs(flt)


def test_bad_time_and_limit(backend_store: Store) -> None:
    with pytest.raises(InvalidArgument, match="not a time"):
        backend_store.metadata.search_runs("attributes.start_time > 'soon'")
    with pytest.raises(InvalidArgument, match="limit"):
        backend_store.metadata.search_runs(limit=0)


def _walk(call: Any) -> Any:
    from lineal.store.sql.search_plan import forced_plan

    with forced_plan("walk"):
        return call()


def _plans(store: Store, call: Any) -> list[str]:
    """The SQLite query plans of the SELECT statements that read pages of runs (sorted) that
    ``call`` runs; the search's planning counts (``count(*)``, ``max(rowid)``) are left out."""
    import sqlalchemy as sa

    engine = store.metadata.db.read_engine  # type: ignore[attr-defined]
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if (statement.lstrip().upper().startswith("SELECT") and "FROM runs" in statement
                and "ORDER BY" in statement):
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert seen
    plans = []
    with engine.connect() as conn:
        for statement, parameters in seen:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            plans.append("\n".join(str(row[-1]) for row in rows))
    return plans


@pytest.mark.sql
@pytest.mark.parametrize("backend_store", ["sqlite"], indirect=True)
def test_listings_and_searches_by_start_time_need_no_sort(
    backend_store: Store, runs: dict[str, Run]
) -> None:
    from lineal.store.base import RunFilter

    meta = backend_store.metadata
    token = meta.search_runs(limit=1).next_page_token
    asc = meta.search_runs(order_by="attributes.start_time", limit=1).next_page_token
    calls = [
        lambda: meta.list_runs(RunFilter()),
        lambda: meta.list_runs(RunFilter(project="default")),
        lambda: meta.search_runs(),
        lambda: meta.search_runs(page_token=token),
        lambda: meta.search_runs(order_by="attributes.start_time", page_token=asc),
        lambda: meta.search_runs("attributes.project = 'default'"),
        # With a filter, the plan depends on the counts (tests/store/test_search_plans.py);
        # walking the start-time index is one of the two, and needs no sort.
        lambda: _walk(lambda: meta.search_runs("metrics.auc > 0.9 and tags.team = 'ml'",
                                               order_by=["attributes.created DESC"])),
    ]
    for call in calls:
        for plan in _plans(backend_store, call):
            assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
            assert "SCAN runs USING INDEX" in plan or "SEARCH runs USING INDEX" in plan, plan
