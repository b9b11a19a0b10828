"""Separation of duties on every metadata backend: under a policy requiring approval, the
principal who registered a version cannot approve it; turning that off needs an admin. Tests act
as a second principal through the internal override, as a server would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.cli.conftest import messages

from lineal import deployments, registry
from lineal.errors import PermissionDenied
from lineal.identity import _acting_as, current_principal
from lineal.registry import Stage
from lineal.store import Store

Lineal = Callable[..., Any]  # the lineal_cli fixture (tests/registry/conftest.py)


@pytest.mark.principals
def test_the_registrant_cannot_approve_its_version(
    backend_store: Store, train: Callable, ledger_size: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.create_model("churn", require_approval_for_production=True)
    assert registry.get_model("churn").policy.separation_of_duties is True  # on by default
    with _acting_as("alice"):
        registry.register_model("churn", train(backend_store, "m1").ref)
        before = ledger_size(backend_store)
        with pytest.raises(PermissionDenied) as refused:
            registry.approve("churn@v1", comment="looks good to me")
        # Rejecting one's own version is always allowed.
        registry.reject("churn@v1", comment="found a leak")
    assert refused.value.message == ("'alice' registered default/churn@v1 and cannot also approve "
                                  "it (separation of duties)")
    assert ledger_size(backend_store) == before + 3  # the rejection: approval, status, event
    assert [a.decision for a in registry.get_version("churn@v1").approvals] == ["rejected"]
    with _acting_as("bob"):
        approval = registry.approve("churn@v1", comment="reviewed")
    assert approval.actor == "bob"
    assert registry.transition_stage("churn@v1", "production").stage is Stage.PRODUCTION

    # Turning it off is loosening the policy: an admin only. Then the registrant may approve.
    monkeypatch.setenv("LINEAL_ADMINS", "root-of-trust")
    with _acting_as("alice"):
        registry.register_model("churn", train(backend_store, "m2").ref)
        with pytest.raises(PermissionDenied, match="turning separation of duties off on default/churn needs an admin"):
            registry.set_policy("churn", separation_of_duties=False)
    with _acting_as("root-of-trust"):
        policy = registry.set_policy("churn", separation_of_duties=False).policy
    assert policy.separation_of_duties is False and policy.require_approval_for_production
    with _acting_as("alice"):
        registry.approve("churn@v2")
        assert registry.transition_stage("churn@v2", "production").stage is Stage.PRODUCTION
        # Tightening again needs nobody special.
        assert registry.set_policy("churn", separation_of_duties=True).policy.separation_of_duties
    events = registry.history("churn", actions=["policy.update"])
    assert [(e.actor, e.after["separation_of_duties"]) for e in events] == [
        ("root-of-trust", False), ("alice", True)]


@pytest.mark.principals
def test_self_approvals_recorded_before_the_policy_do_not_count(
    backend_store: Store, train: Callable
) -> None:
    registry.register_model("churn", train(backend_store, "m1").ref)  # no policy yet
    registry.approve("churn@v1")  # allowed: nothing requires approval
    registry.set_policy("churn", require_approval_for_production=True, gate=["prod"])
    me = current_principal()
    with pytest.raises(PermissionDenied, match=f"needs an approval by someone other than its "
                       f"registrant '{me}' before it can enter production"):
        registry.transition_stage("churn@v1", "production")
    with pytest.raises(PermissionDenied, match="before it can be deployed to prod"):
        deployments.record_deployment("churn@v1", name="api", environment="prod", capture=False)
    with pytest.raises(PermissionDenied, match="separation of duties"):
        registry.approve("churn@v1")
    with _acting_as("bob"):
        registry.approve("churn@v1")
    assert registry.transition_stage("churn@v1", "production").stage is Stage.PRODUCTION
    live = deployments.record_deployment("churn@v1", name="api", environment="prod", capture=False)
    assert live.model_version == 1


def test_a_gated_environment_alone_also_separates_duties(backend_store: Store, train: Callable) -> None:
    registry.create_model("churn", approval_environments=["prod"])
    registry.register_model("churn", train(backend_store, "m1").ref)
    with pytest.raises(PermissionDenied, match="cannot also approve it"):
        registry.approve("churn@v1")
    # Without any approval requirement the switch has nothing to guard: approving is a note.
    registry.create_model("fraud")
    registry.register_model("fraud", train(backend_store, "f1", name="fraud-model").ref)
    assert registry.approve("fraud@v1").actor == current_principal()


def test_cli_policy_switch_and_refusal_are_one_line(
    backend_store: Store, train: Callable, lineal_cli: Lineal, ledger_size: Callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINEAL_ADMINS", "someone-else")
    r = lineal_cli("registry", "create", "churn", "--require-approval")
    assert r.code == 0, r
    lineal_cli("registry", "register", "churn", "--from", train(backend_store, "m1").ref)
    r = lineal_cli("registry", "policy", "churn")
    assert r.out.strip() == "default/churn: approval for production; separation of duties", r
    before = ledger_size(backend_store)
    r = lineal_cli("registry", "approve", "churn@v1")
    assert r.code == 6 and r.out == "", r
    assert r.err.startswith(f"error: '{current_principal()}' registered default/churn@v1 and "
                            "cannot also approve it (separation of duties)"), r
    assert len(messages(r.err)) == 1, r
    r = lineal_cli("registry", "policy", "churn", "--no-separation-of-duties")
    assert r.code == 6 and "turning separation of duties off" in " ".join(messages(r.err)) and len(messages(r.err)) == 1, r
    assert ledger_size(backend_store) == before
    monkeypatch.setenv("LINEAL_ADMINS", current_principal())
    r = lineal_cli("registry", "policy", "churn", "--no-separation-of-duties", "--json")
    assert r.code == 0 and r.json()["separation_of_duties"] is False, r
    r = lineal_cli("registry", "policy", "churn")
    assert r.out.strip() == ("default/churn: approval for production; registrants may approve "
                             "their own versions"), r
    assert lineal_cli("registry", "approve", "churn@v1").code == 0
    r = lineal_cli("registry", "create", "fraud", "--gate", "prod", "--no-separation-of-duties",
                   "--json")
    assert r.code == 0 and r.json()["policy"]["separation_of_duties"] is False, r
