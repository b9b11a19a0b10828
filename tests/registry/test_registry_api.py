"""The registry's Python API on every metadata backend: versions, references, aliases with
compare-and-set, stages, approvals, policy, history and as-of queries, and bad input."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import lineal
from lineal import registry
from lineal.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PermissionDenied
from lineal.identity import _acting_as, current_principal
from lineal.registry import Stage
from lineal.store import Store


def test_versions_references_and_bad_input(backend_store: Store, train: Callable,
                                           ledger_size: Callable) -> None:
    m1 = train(backend_store, "model-1", params={"C": 0.5})
    m2 = train(backend_store, "model-2", params={"C": 1.0})
    v1 = registry.register_model("churn", m1.ref, description="baseline", tags={"team": "ml"})
    v2 = registry.register_model("churn", run=m2.producer_run_id)
    assert (v1.ref, v2.ref) == ("default/churn@v1", "default/churn@v2")
    assert v2.artifact_ref == m2.ref and v2.artifact_digest == m2.digest
    assert v2.run_id == m2.producer_run_id and v1.stage is Stage.NONE and v1.status == "unreviewed"
    assert v1.tags == {"team": "ml"} and v1.description == "baseline"

    registry.set_alias("churn@v1", "prod")
    version, artifact = registry.resolve_model_ref("churn@prod")
    assert version is not None and version.version == 1 and artifact.id == m1.id
    assert registry.resolve_model_ref("churn@v2")[1].id == m2.id
    assert registry.resolve_model_ref("churn")[0].version == 2  # type: ignore[union-attr]
    assert registry.resolve_model_ref(f"churn@sha256:{m1.digest[7:19]}")[1].id == m1.id
    # A name that is not registered falls back to model artifacts.
    assert registry.resolve_model_ref("churn-model@v2") == (None, m2)
    model = registry.get_model("churn")
    assert model.latest_version == 2 and model.aliases == {"prod": 1}
    assert [v.version for v in registry.list_versions("churn")] == [2, 1]
    registry.remove_alias("churn", "prod")

    # Bad input: clear errors, and nothing written.
    other = train(backend_store, "other", name="fraud-model")
    registry.register_model("fraud", other.ref)
    registry.register_model("fraud", train(backend_store, "other-2", name="fraud-model").ref)
    before = ledger_size(backend_store)

    with pytest.raises(NotFound, match="no registered model or model artifact named 'nope'"):
        registry.resolve_model_ref("nope@v1")
    with pytest.raises(NotFound, match=r"default/fraud has no version 3 \(versions are v1..v2\)"):
        registry.get_version("fraud@v3")  # v3 exists, but of another model
    with pytest.raises(NotFound, match="has no alias 'prod'"):
        registry.resolve_model_ref("churn@prod")
    with pytest.raises(InvalidArgument, match="'dataset' artifact, not a model"):
        registry.register_model("churn", "churn-train@v1")
    with pytest.raises(AlreadyExists, match="already registered as default/churn@v1"):
        registry.register_model("churn", m1.ref)
    with pytest.raises(InvalidArgument, match="exactly one source"):
        registry.register_model("churn")
    with pytest.raises(InvalidArgument, match="looks like a version number"):
        registry.set_alias("churn@v1", "3")
    with pytest.raises(InvalidArgument, match="looks like a version number"):
        registry.set_alias("churn@v1", "v3")
    with pytest.raises(InvalidArgument, match="'latest' always means"):
        registry.set_alias("churn@v1", "latest")
    with pytest.raises(InvalidArgument, match="unknown stage 'prod'"):
        registry.transition_stage("churn@v1", "prod")
    with pytest.raises(InvalidArgument, match="does not name a version"):
        registry.transition_stage("churn", "staging")
    with pytest.raises(InvalidArgument, match="expected a model name"):
        registry.history("churn@v1")
    with pytest.raises(NotFound, match="no registered model 'ghost'"):
        registry.set_alias("ghost@v1", "prod")
    with pytest.raises(NotFound, match="no run with id"):
        registry.register_model("brand-new", run="01NOPE")
    # Nothing was written, and a failed first registration left no empty model behind.
    assert ledger_size(backend_store) == before
    assert [m.name for m in registry.list_models()] == ["churn", "fraud"]


@pytest.mark.principals
def test_stages_approvals_policy_and_updates(backend_store: Store, train: Callable,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    registry.create_model("churn", require_approval_for_production=True,
                          protected_aliases=["prod"], owner="team-ml")
    v1 = registry.register_model("churn", train(backend_store, "m1").ref)
    registry.register_model("churn", train(backend_store, "m2").ref)
    registry.transition_stage(v1, "staging", comment="smoke tests")
    with pytest.raises(PermissionDenied, match="needs an approval before it can enter production"):
        registry.transition_stage("churn@v1", "production")
    with _acting_as("bob"):
        registry.reject("churn@v1", comment="calibration is off")
    with pytest.raises(PermissionDenied, match="rejected it"):
        registry.transition_stage("churn@v1", "production")
    with _acting_as("carol"):
        approval = registry.approve("churn@v1", comment="recalibrated")
    assert (approval.decision, approval.actor, approval.stage) == ("approved", "carol", "production")
    assert registry.transition_stage("churn@v1", "production").stage is Stage.PRODUCTION
    # Approving v2 and promoting it with archive_others archives v1 in the same transaction.
    with _acting_as("carol"):
        registry.approve("churn@v2")
    v2 = registry.transition_stage("churn@v2", "production", archive_others=True)
    assert v2.stage is Stage.PRODUCTION and v2.status == "approved"
    assert registry.get_version("churn@v1").stage is Stage.ARCHIVED
    assert [a.decision for a in registry.get_version("churn@v1").approvals] == ["rejected", "approved"]

    # A protected alias moves only for an admin; LINEAL_ADMINS names them when the store does not.
    monkeypatch.setenv("LINEAL_ADMINS", "alice, root2")
    with _acting_as("bob"):
        with pytest.raises(PermissionDenied, match="protected alias 'prod'.*'bob' is not one"):
            registry.set_alias("churn@v2", "prod")
        registry.set_alias("churn@v2", "candidate")  # not protected
        # Loosening the policy needs an admin; tightening does not.
        with pytest.raises(PermissionDenied, match="unprotecting prod"):
            registry.set_policy("churn", unprotect=["prod"])
        with pytest.raises(PermissionDenied, match="dropping the approval requirement"):
            registry.set_policy("churn", require_approval_for_production=False)
        with pytest.raises(PermissionDenied, match="turning separation of duties off"):
            registry.set_policy("churn", separation_of_duties=False)
        tightened = registry.set_policy("churn", protect=["champion"])
    assert tightened.policy.protected_aliases == ("champion", "prod")
    with _acting_as("alice"):
        registry.set_alias("churn@v2", "prod")
        loosened = registry.set_policy("churn", unprotect=["prod"])
    assert loosened.policy.protected_aliases == ("champion",)

    # The store setting, once made, overrides the environment; only admins change it.
    with _acting_as("alice"):
        registry.set_admins(["dana"])
        assert registry.admins() == ["dana"]
        with pytest.raises(PermissionDenied):
            registry.set_alias("churn@v1", "champion")
        with pytest.raises(PermissionDenied, match="changing the registry admins"):
            registry.set_admins(["alice"])
    with _acting_as("dana"):
        registry.set_alias("churn@v1", "champion")
        registry.set_admins([])
    assert registry.admins() == ["alice", "root2"]

    # Descriptions and tags of versions and models.
    updated = registry.update_version("churn@v2", description="retrained", tags={"ticket": "ML-7"})
    assert updated.description == "retrained" and updated.tags == {"ticket": "ML-7"}
    model = registry.update_model("churn", description="predicts churn", owner="team-ml",
                                  tags={"tier": "1"})
    assert (model.description, model.owner, model.tags) == ("predicts churn", "team-ml", {"tier": "1"})
    event = registry.history("churn", actions=["version.update"])[0]
    assert event.before == {"description": "", "tags": {"ticket": None}}
    assert event.after == {"description": "retrained", "tags": {"ticket": "ML-7"}}
    with pytest.raises(AlreadyExists):
        registry.create_model("churn")

    actions = [(e.action, e.actor) for e in registry.history("churn")]
    assert ("approval", "bob") in actions and ("policy.update", "alice") in actions
    assert ("stage.transition", current_principal()) in actions
    assert lineal.audit.verify().ok


def test_aliases_history_and_as_of_queries(backend_store: Store, train: Callable) -> None:
    for i in range(3):
        registry.register_model("churn", train(backend_store, f"m{i}").ref)
    registry.set_alias("churn@v1", "prod")
    registry.transition_stage("churn@v1", "production")
    registry.set_alias("churn@v2", "prod")
    registry.transition_stage("churn@v2", "production", archive_others=True)
    registry.remove_alias("churn", "prod")
    registry.set_alias("churn@v3", "prod")

    events = registry.history("churn")
    assert [e.seq for e in events] == sorted({e.seq for e in events})  # ordered, no duplicates
    times = [e.timestamp for e in events]
    assert times == sorted(times)
    by_action = {(e.action, e.version, e.alias): e for e in events}
    t_set1 = by_action[("alias.set", 1, "prod")].timestamp
    t_move2 = by_action[("alias.move", 2, "prod")].timestamp
    t_removed = by_action[("alias.remove", 2, "prod")].timestamp
    t_set3 = by_action[("alias.set", 3, "prod")].timestamp

    assert registry.alias_at("churn", "prod", events[0].timestamp) is None
    assert registry.alias_at("churn", "prod", t_set1).version == 1  # type: ignore[union-attr]
    assert registry.alias_at("churn", "prod", t_move2).version == 2  # type: ignore[union-attr]
    assert registry.alias_at("churn", "prod", t_removed) is None
    assert registry.alias_at("churn", "prod", t_set3).version == 3  # type: ignore[union-attr]

    t_prod1 = next(e.timestamp for e in events if e.action == "stage.transition")
    state = registry.state_at("churn", t_prod1)
    assert state.aliases == {"prod": 1} and state.versions_in("production") == [1]
    assert registry.stage_at("churn@v1", t_prod1) is Stage.PRODUCTION
    assert registry.stage_at("churn@v1", "now") is Stage.ARCHIVED

    spans = registry.versions_in_stage_between("churn", "production", events[0].timestamp, "now")
    assert [(s.version, s.end is None) for s in spans] == [(1, False), (2, True)]
    before_v2 = registry.versions_in_stage_between("churn", "production", t_prod1, t_move2)
    assert [s.version for s in before_v2] == [1]
    assert registry.history("churn", version=2, actions=["stage.transition"])[0].after == {
        "stage": "production"
    }
    assert len(registry.history("churn", alias="prod")) == 4
    assert registry.history("churn", since=t_set3) == [events[-1]]
    # A day as the end of an interval includes the whole day.
    assert registry.history("churn", until="today") == events
    assert [s.version for s in registry.versions_in_stage_between(
        "churn", "production", "today", "today")] == [1, 2]
    assert registry.versions_in_stage_between("churn", "production", "yesterday",
                                              "yesterday") == []

    # Compare-and-set, on a model of its own.
    for i in range(3):
        registry.register_model("ranker", train(backend_store, f"r{i}").ref)
    registry.set_alias("ranker@v1", "prod", expected=None)
    with pytest.raises(Conflict, match="points at v1; expected it to not exist"):
        registry.set_alias("ranker@v2", "prod", expected=None)
    with pytest.raises(Conflict, match="points at v1; expected it to point at v3"):
        registry.set_alias("ranker@v2", "prod", expected="v3")
    moved = registry.set_alias("ranker@v2", "prod", expected=1)
    assert moved.aliases == ("prod",) and registry.get_version("ranker@v1").aliases == ()
    with pytest.raises(Conflict):
        registry.remove_alias("ranker", "prod", expected=1)
    registry.remove_alias("ranker", "prod", expected=2)
    with pytest.raises(NotFound, match="has no alias 'prod'"):
        registry.remove_alias("ranker", "prod")
    # Setting an alias to where it already points is not a change: no event.
    registry.set_alias("ranker@v3", "champion")
    registry.set_alias("ranker@v3", "champion")
    events = registry.history("ranker", actions=["alias.set", "alias.move", "alias.remove"])
    assert [(e.action, e.alias, e.before, e.after) for e in events] == [
        ("alias.set", "prod", None, {"version": 1}),
        ("alias.move", "prod", {"version": 1}, {"version": 2}),
        ("alias.remove", "prod", {"version": 2}, None),
        ("alias.set", "champion", None, {"version": 3}),
    ]


@pytest.mark.parametrize("backend_store", ["sqlite", "postgres"], indirect=True)
def test_registry_references_load_models(backend_store: Store) -> None:
    """`lineal.load_model("churn@prod")` loads what the alias points at now, and a run that
    loads it records the model artifact as its input."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    refs = []
    for c, y in ((1.0, [0, 0, 1, 1]), (1.0, [1, 1, 0, 0])):
        with lineal.run("train", capture=False) as run:
            model = LogisticRegression(C=c).fit(x, y)
            refs.append(run.log_model(model, "churn-model", input_example=x[:1]).ref)
    for ref in refs:
        registry.register_model("churn", ref)
    registry.set_alias("churn@v1", "prod")
    assert list(lineal.load_model("churn@prod").predict(x)) == [0, 0, 1, 1]
    registry.set_alias("churn@v2", "prod")
    with lineal.run("score", capture=False) as scoring:
        assert list(lineal.load_model("churn@prod").predict(x)) == [1, 1, 0, 0]
    used = backend_store.metadata.list_edges(run_id=scoring.id)
    assert [(e.role, e.artifact_id) for e in used] == [
        ("model", registry.get_version("churn@v2").artifact_version_id)]
    assert list(lineal.load_model("churn@v1").predict(x)) == [0, 0, 1, 1]
    with pytest.raises(NotFound, match="default/churn has no alias 'staging'"):
        lineal.load_model("churn@staging")
