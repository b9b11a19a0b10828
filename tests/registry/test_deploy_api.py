"""Deployments on every metadata backend: records chained by what they replace, what is live now
and at any time, the deployment timeline of a model, recover, rollback, lineage and bad input."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

import pytest

import lineal
from lineal import deployments, registry
from lineal.entities import EdgeDirection, RunStatus
from lineal.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from lineal.identity import _acting_as
from lineal.registry import DeploymentStatus
from lineal.store import Store


@pytest.fixture
def churn(backend_store: Store, train: Callable) -> Store:
    """churn@v1..v3 registered, v2 in production with alias prod."""
    for i in range(3):
        registry.register_model("churn", train(backend_store, f"m{i}", params={"C": i}).ref)
    registry.transition_stage("churn@v2", "production")
    registry.set_alias("churn@v2", "prod")
    return backend_store


@pytest.mark.principals
def test_gated_environments_take_only_approved_versions(
    churn: Store, ledger_size: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _acting_as("bob"):
        registry.set_policy("churn", gate=["prod"])
    assert registry.get_model("churn").policy.approval_environments == ("prod",)
    before = ledger_size(churn)
    # Being in production is not enough: the gate asks for an approval.
    with pytest.raises(PermissionDenied, match=r"churn@v2 needs an approval before it can be "
                       r"deployed to prod \(policy of default/churn\)"):
        deployments.record_deployment("churn@prod", name="api", environment="prod", capture=False)
    with _acting_as("carol"):
        registry.reject("churn@v2", comment="drift")
    after_review = ledger_size(churn)
    with pytest.raises(PermissionDenied, match="cannot be deployed to prod: its latest review "
                       "by carol rejected it"):
        deployments.record_deployment("churn@v2", name="api", environment="prod", capture=False)
    # A refused deployment leaves no record and no deploy run.
    assert ledger_size(churn) == after_review > before
    assert deployments.current("prod") == [] and lineal.list_runs(kind="deploy") == []
    # Environments the policy does not gate take any version.
    staging = deployments.record_deployment("churn@v3", name="api", environment="staging",
                                            capture=False)
    assert staging.status is DeploymentStatus.LIVE
    with _acting_as("carol"):
        registry.approve("churn@v2", comment="recalibrated")
    live = deployments.record_deployment("churn@v2", name="api", environment="prod", capture=False)
    assert [d.id for d in deployments.current("prod")] == [live.id]
    # Ungating is loosening: admins only.
    monkeypatch.setenv("LINEAL_ADMINS", "alice")
    with _acting_as("bob"):
        with pytest.raises(PermissionDenied, match="deploying to prod without approval"):
            registry.set_policy("churn", ungate=["prod"])
        with pytest.raises(InvalidArgument, match="invalid environment"):
            registry.set_policy("churn", gate=["pr od"])
    with _acting_as("alice"):
        assert registry.set_policy("churn", ungate=["prod"]).policy.approval_environments == ()


def test_record_replace_current_at_timeline_and_end(churn: Store, ledger_size: Callable) -> None:
    before = ledger_size(churn)
    with pytest.raises(InvalidArgument, match="not a registered model version"):
        deployments.record_deployment("churn-model@v1", name="api", environment="prod",
                                      capture=False)
    with pytest.raises(NotFound, match="no registered model or model artifact named 'nope'"):
        deployments.record_deployment("nope@v1", name="api", environment="prod", capture=False)
    with pytest.raises(InvalidArgument, match="invalid environment"):
        deployments.record_deployment("churn@v1", name="api", environment="pr od", capture=False)
    with pytest.raises(InvalidArgument, match="config must be JSON-serialisable"):
        deployments.record_deployment("churn@v1", name="api", environment="prod",
                                      config={"x": object()}, capture=False)
    with pytest.raises(InvalidArgument, match="cannot start in the future"):
        deployments.record_deployment("churn@v1", name="api", environment="prod",
                                      started_at="2999-01-01", capture=False)
    with pytest.raises(NotFound, match="no deployment with id"):
        deployments.get("01ZZZZZZZZ")
    with pytest.raises(InvalidArgument, match="too short"):
        deployments.get("01")
    with pytest.raises(NotFound, match="no registered model 'ghost'"):
        deployments.timeline("ghost")
    assert lineal.list_runs(kind="deploy") == []
    assert ledger_size(churn) == before

    d1 = deployments.record_deployment("churn@v1", name="churn-api", environment="prod",
                                       target="https://ml/churn", config={"replicas": 2},
                                       capture=False)
    staging = deployments.record_deployment("churn@v3", name="churn-api", environment="staging",
                                            capture=False)
    d2 = deployments.record_deployment("churn@prod", name="churn-api", environment="prod",
                                       target="https://ml/churn", config={"replicas": 3},
                                       capture=False)
    assert d2.replaces_id == d1.id and d2.model_version == 2 and d2.status is DeploymentStatus.LIVE
    old = deployments.get(d1.id[:10])
    assert old.status is DeploymentStatus.REPLACED and old.ended_at == d2.started_at

    assert [d.id for d in deployments.current("prod")] == [d2.id]
    assert {d.id for d in deployments.current()} == {d2.id, staging.id}
    assert [d.id for d in deployments.at(d1.started_at, "prod")] == [d1.id]
    assert [d.id for d in deployments.at(d2.started_at, "prod")] == [d2.id]  # [start, end)
    assert deployments.at(d1.started_at - timedelta(seconds=1), "prod") == []
    # A whole day: everything live at any moment of it.
    assert {d.id for d in deployments.at("today", "prod")} == {d1.id, d2.id}
    assert [d.model_version for d in deployments.timeline("churn")] == [1, 3, 2]
    assert [d.id for d in deployments.timeline("churn", "prod")] == [d1.id, d2.id]
    assert [d.id for d in deployments.timeline("churn@v3")] == [staging.id]

    # The deployment is a lineage node: a finished deploy run consuming the model artifact.
    run = lineal.get_run(d2.run_id)
    assert run.kind == "deploy" and run.status is RunStatus.FINISHED
    assert run.tags["lineal.deployment.id"] == d2.id
    assert run.params["config"] == {"replicas": 3}
    edges = churn.metadata.list_edges(run_id=d2.run_id)
    assert [(e.direction, e.role, e.artifact_id) for e in edges] == [
        (EdgeDirection.INPUT, "model", registry.get_version("churn@v2").artifact_version_id)
    ]
    # Starts and ends are events of the model's history.
    actions = [e.action for e in registry.history("churn", actions=["deployment.start",
                                                                   "deployment.end"])]
    assert actions == ["deployment.start", "deployment.start", "deployment.end", "deployment.start"]
    assert lineal.audit.verify().ok

    # Ending, backdating, and compare-and-set, in another environment.
    q1 = deployments.record_deployment("churn@v1", name="api", environment="qa", capture=False)
    with pytest.raises(Conflict, match="someone else deployed meanwhile"):
        deployments.record_deployment("churn@v2", name="api", environment="qa",
                                      expected_live=None, capture=False)
    # The failed attempt left a failed deploy run, and q1 still live.
    failed = lineal.list_runs(kind="deploy", status="failed")
    assert len(failed) == 1 and "Conflict" in failed[0].error.type  # type: ignore[union-attr]
    assert [d.id for d in deployments.current("qa")] == [q1.id]
    q2 = deployments.record_deployment("churn@v2", name="api", environment="qa",
                                       expected_live=q1.id, capture=False)
    ended = deployments.end("api", "qa", status="failed", comment="OOM")
    assert ended.id == q2.id and ended.status is DeploymentStatus.FAILED and ended.ended_at
    with pytest.raises(Conflict, match="already ended"):
        deployments.end(q2.id)
    with pytest.raises(NotFound, match="no deployment named 'api' is live now"):
        deployments.end("api", "qa")
    assert deployments.current("qa") == []

    # Recording after the fact, but never overlapping the records before it.
    with pytest.raises(InvalidArgument, match="already has a record covering"):
        deployments.record_deployment("churn@v3", name="api", environment="qa",
                                      started_at=q2.started_at, capture=False)
    late = deployments.record_deployment("churn@v3", name="api", environment="qa",
                                         started_at=ended.ended_at, capture=False)
    assert late.started_at == ended.ended_at and late.replaces_id is None
    with pytest.raises(InvalidArgument, match="'stopped' or 'failed'"):
        deployments.end(late, status="replaced")


@pytest.mark.principals
@pytest.mark.usefixtures("patient_capture")
def test_a_deployment_moves_an_alias_in_the_same_transaction(
    churn: Store, ledger_size: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    # churn@prod is v2 (the fixture). Deploying v3 with --alias prod moves it; rolling back
    # with it moves it back: the registry keeps saying what is live.
    deployments.record_deployment("churn@prod", name="api", environment="prod", capture=False)
    d3 = deployments.record_deployment("churn@v3", name="api", environment="prod",
                                       alias="prod", capture=False)
    assert registry.get_version("churn@prod").version == 3 and d3.model_version == 3
    back = deployments.rollback("api", "prod", alias="prod", capture=False)
    assert back.model_version == 2 and registry.get_version("churn@prod").version == 2
    moves = [(e.before, e.after) for e in registry.history("churn", actions=["alias.move"])]
    assert moves[-2:] == [({"version": 2}, {"version": 3}), ({"version": 3}, {"version": 2})]
    # A protected alias needs an admin: refused before anything is written, the live record
    # and the alias unchanged, no deploy run.
    monkeypatch.setenv("LINEAL_ADMINS", "alice")
    with _acting_as("bob"):
        registry.set_policy("churn", protect=["prod"])
    before, runs = ledger_size(churn), len(lineal.list_runs(kind="deploy"))
    with _acting_as("bob"), pytest.raises(PermissionDenied,
                                          match="protected alias 'prod'.*'bob' is not one"):
        deployments.record_deployment("churn@v3", name="api", environment="prod",
                                      alias="prod", capture=False)
    assert ledger_size(churn) == before and len(lineal.list_runs(kind="deploy")) == runs
    assert [d.id for d in deployments.current("prod")] == [back.id]
    assert registry.get_version("churn@prod").version == 2
    with pytest.raises(InvalidArgument, match="alias"):
        deployments.record_deployment("churn@v3", name="api", environment="prod", alias="v3",
                                      capture=False)
    with _acting_as("alice"):
        ok = deployments.record_deployment("churn@v3", name="api", environment="prod",
                                           alias="prod", capture=False)
    assert ok.replaces_id == back.id and registry.get_version("churn@prod").version == 3


def test_rollback_and_recover(churn: Store, train: Callable) -> None:
    d1 = deployments.record_deployment("churn@v1", name="api", environment="prod",
                                       config={"threshold": 0.4}, target="svc-a", capture=False)
    d2 = deployments.record_deployment("churn@v2", name="api", environment="prod",
                                       config={"threshold": 0.5}, target="svc-b", capture=False)
    d3 = deployments.record_deployment("churn@v3", name="api", environment="prod", capture=False)
    r1 = deployments.rollback("api", "prod", capture=False)
    assert (r1.model_version, r1.replaces_id, r1.restores_id) == (2, d3.id, d2.id)
    assert (r1.config, r1.target) == ({"threshold": 0.5}, "svc-b")
    assert deployments.get(d3.id).status is DeploymentStatus.ROLLED_BACK
    r2 = deployments.rollback("api", "prod", capture=False)  # keeps stepping back
    assert (r2.model_version, r2.replaces_id, r2.restores_id) == (1, r1.id, d1.id)
    with pytest.raises(InvalidArgument, match="no deployment before"):
        deployments.rollback("api", "prod", capture=False)
    r3 = deployments.rollback("api", "prod", to="churn@v3", capture=False)
    assert (r3.model_version, r3.restores_id) == (3, d3.id)
    registry.register_model("churn", train(churn, "m4").ref)
    with pytest.raises(InvalidArgument, match="churn@v4 was never deployed as api in prod"):
        deployments.rollback("api", "prod", to="churn@v4", capture=False)
    with pytest.raises(NotFound, match="no deployment named 'api' is live now in 'staging'"):
        deployments.rollback("api", "staging", capture=False)

    # Recover: everything needed to redeploy exactly what is live.
    registry.set_alias("churn@v2", "champion")
    d = deployments.record_deployment("churn@prod", name="svc", environment="prod",
                                      target="https://ml/churn", config={"replicas": 3})
    # Later registry changes do not change what the deployment was at the time.
    registry.set_alias("churn@v3", "prod")
    rec = deployments.recover("svc", "prod")
    artifact = churn.metadata.get_artifact_version(d.artifact_version_id)
    assert rec.deployment.id == d.id and rec.model_version.ref == "default/churn@v2"
    assert (rec.artifact.digest, rec.artifact.uri) == (artifact.digest, artifact.uri)
    assert rec.content_available is True
    assert rec.registry_at_deploy["stage"] == "production"
    assert rec.registry_at_deploy["aliases"] == ["champion", "prod"]
    assert rec.training_environment["packages"]["scikit-learn"] == "1.5.0"  # type: ignore[index]
    assert rec.training_code["git"]["commit"] == "a" * 40  # type: ignore[index]
    # The deploy run captured the deploying process's real environment.
    assert rec.serving_environment and rec.serving_environment["packages"]
    assert "lineal deploy record default/churn@v2 --name svc --env prod" in rec.redeploy_command
    assert "--config '{\"replicas\": 3}'" in rec.redeploy_command
    data = rec.to_dict()
    assert data["artifact"]["digest"] == artifact.digest and data["config"] == {"replicas": 3}

    # The endpoint is deleted by mistake: recover what was live before that.
    gone = deployments.end("svc", "prod", comment="deleted by mistake")
    with pytest.raises(NotFound):
        deployments.recover("svc", "prod")
    assert deployments.recover("svc", "prod", when=d.started_at).deployment.id == d.id
    assert deployments.recover(gone.id).deployment.id == d.id


def test_data_to_model_to_deployment_is_one_traversal(churn: Store) -> None:
    """A deployment hangs off the lineage graph: walking down from the training data reaches the
    training run, the model artifact, its registered version, the deploy run and the record."""
    from lineal.entities import Direction, NodeType
    from lineal.store.lineage_base import ClosureQuery

    d = deployments.record_deployment("churn@prod", name="churn-api", environment="prod",
                                      capture=False)
    version = registry.get_version("churn@v2")
    model = churn.metadata.get_artifact_version(version.artifact_version_id)
    train_run = churn.metadata.get_run(model.producer_run_id)  # type: ignore[arg-type]
    data_edge = next(e for e in churn.metadata.list_edges(run_id=train_run.id)
                     if e.role == "train_data")
    start = churn.metadata.lineage_node(data_edge.artifact_id, NodeType.ARTIFACT)
    closure = churn.metadata.lineage_closure(start, Direction.DOWN, ClosureQuery(limit=None))
    found = {(n.type, n.id): n for n in closure.nodes}
    assert (NodeType.RUN, train_run.id) in found
    assert (NodeType.ARTIFACT, model.id) in found
    assert (NodeType.MODEL_VERSION, version.id) in found
    assert (NodeType.RUN, d.run_id) in found
    record = found[(NodeType.DEPLOYMENT, d.id)]
    assert (record.name, record.detail, record.status) == ("churn-api", "prod", "live")
    # Nearest first: data -> train run -> model -> deploy run -> deployment.
    assert record.depth > found[(NodeType.ARTIFACT, model.id)].depth


def test_last_deployment_per_environment(churn: Store) -> None:
    """The one "last deployed": lineal.lineage.last_deployed (deployments.last is gone)."""
    from lineal.lineage import last_deployed

    assert not hasattr(deployments, "last")
    with pytest.raises(NotFound, match="never deployed"):
        last_deployed("churn")
    d1 = deployments.record_deployment("churn@v1", name="api", environment="prod", capture=False)
    s1 = deployments.record_deployment("churn@v3", name="api", environment="staging",
                                       capture=False)
    d2 = deployments.record_deployment("churn@v2", name="api", environment="prod", capture=False)
    deployments.end(d2, comment="retired")
    assert last_deployed("churn").deployment.id == d2.id
    assert last_deployed("churn", "staging").deployment.id == s1.id
    last_prod = last_deployed("churn", "prod")
    assert last_prod.deployment.id == d2.id and not last_prod.live
    assert last_deployed("churn@v1", "prod").deployment.id == d1.id
    with pytest.raises(NotFound, match="never deployed to qa"):
        last_deployed("churn", "qa")
    with pytest.raises(NotFound, match="ghost"):
        last_deployed("ghost")
    # The timeline keeps the most recent records when it is cut.
    assert [d.id for d in deployments.timeline("churn", limit=2)] == [s1.id, d2.id]


def test_deployment_ids_with_prefix(churn: Store) -> None:
    """What the CLI uses to keep a shortened deployment id unique in the whole store."""
    meta = churn.metadata
    a = deployments.record_deployment("churn@v1", name="a", environment="prod", capture=False)
    b = deployments.record_deployment("churn@v2", name="b", environment="staging", capture=False)
    assert meta.deployment_ids_with_prefix(a.id) == [a.id]
    common = os.path.commonprefix([a.id, b.id])
    assert meta.deployment_ids_with_prefix(common) == sorted([a.id, b.id])
    assert meta.deployment_ids_with_prefix(common, limit=1) == [min(a.id, b.id)]
    # LIKE wildcards are literal characters, which no id has.
    assert meta.deployment_ids_with_prefix("%") == [] and meta.deployment_ids_with_prefix("_") == []
    with pytest.raises(NotFound, match="no deployment"):
        deployments.get("%%%%%%%%")
