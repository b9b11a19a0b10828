"""``lineal registry`` end to end on SQLite and PostgreSQL: each command, its table and its
--json output, and bad input (one clear line on stderr, a non-zero exit code, nothing written)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import click
import pytest
from tests.cli.conftest import messages

from lineal import registry
from lineal.cli.registry import registry as registry_group
from lineal.identity import _acting_as, current_principal
from lineal.store import Store

Lineal = Callable[..., Any]  # the lineal_cli fixture (tests/registry/conftest.py)

# The CLI is a thin layer over the library, whose own tests cover MariaDB too: SQLite and
# PostgreSQL are enough here and keep the files fast.
sqlite_and_postgres = pytest.mark.parametrize("backend_store", ["sqlite", "postgres"],
                                              indirect=True)


@pytest.fixture
def churn(backend_store: Store, train: Callable) -> Store:
    """churn-model@v1..v2 trained with different params, data and packages; fraud@v1..v3."""
    train(backend_store, "m1", params={"C": 0.5, "penalty": "l2"}, metrics={"auc": 0.81},
          packages={"scikit-learn": "1.4.2", "numpy": "2.0.0"}, commit="a" * 40)
    train(backend_store, "m2", params={"C": 1.0, "penalty": "l2"}, metrics={"auc": 0.84},
          packages={"scikit-learn": "1.5.0", "numpy": "2.0.0", "scipy": "1.14.0"},
          commit="b" * 40, data="x,y\n1,0\n2,1\n")
    for i in range(3):
        registry.register_model("fraud", train(backend_store, f"f{i}", name="fraud-model").ref)
    return backend_store


@sqlite_and_postgres
def test_register_show_versions_update_and_resolve(churn: Store, lineal_cli: Lineal) -> None:
    r = lineal_cli("registry", "create", "churn", "--description", "Churn classifier",
                   "--require-approval", "--protect", "prod", "--tag", "team=ml")
    assert r.code == 0 and r.out.strip() == "registered model default/churn", r
    r = lineal_cli("registry", "register", "churn", "--from", "churn-model@v1",
                   "--description", "baseline")
    assert r.code == 0 and r.out.startswith("registered default/churn@v1 -> default/churn-model@v1 (sha256:"), r
    run_id = churn.metadata.get_artifact_version(
        registry.resolve_model_ref("churn-model@v2")[1].id).producer_run_id
    r = lineal_cli("registry", "register", "churn", "--from-run", run_id, "--alias", "candidate",
                   "--tag", "ticket=ML-7", "--json")
    assert r.code == 0, r
    v2 = r.json()
    assert (v2["ref"], v2["version"], v2["aliases"], v2["tags"]) == (
        "default/churn@v2", 2, ["candidate"], {"ticket": "ML-7"})
    assert v2["artifact_ref"] == "default/churn-model@v2" and v2["run_id"] == run_id

    r = lineal_cli("registry", "models")
    assert r.code == 0 and "default/churn" in r.out and "default/fraud" in r.out, r
    assert "approval for production; protected: prod" in r.out and "candidate->v2" in r.out
    models = lineal_cli("registry", "models", "--json").json()
    assert [m["ref"] for m in models] == ["default/churn", "default/fraud"]
    assert models[0]["policy"] == {"require_approval_for_production": True,
                                   "protected_aliases": ["prod"],
                                   "approval_environments": [],
                                   "separation_of_duties": True}

    r = lineal_cli("registry", "show", "churn")
    assert r.code == 0 and "policy: approval for production; protected: prod" in r.out, r
    assert "Churn classifier" in r.out and "default/churn-model@v1" in r.out
    shown = lineal_cli("registry", "show", "churn", "--json").json()
    assert shown["tags"] == {"team": "ml"} and [v["version"] for v in shown["versions"]] == [2, 1]
    r = lineal_cli("registry", "show", "churn@candidate")
    assert r.code == 0 and "default/churn@v2" in r.out and "unreviewed" in r.out, r
    assert lineal_cli("registry", "show", "churn@v1", "--json").json()["description"] == "baseline"

    r = lineal_cli("registry", "versions", "churn")
    assert r.code == 0 and r.out.index("v2") < r.out.index("v1"), r
    assert lineal_cli("registry", "versions", "churn", "--stage", "none", "--json").json()[0][
        "version"] == 2
    assert lineal_cli("registry", "versions", "churn", "--stage", "staging", "--json").json() == []

    r = lineal_cli("registry", "update", "churn@v1", "--description", "the first one",
                   "--tag", "ok=yes")
    assert r.code == 0 and r.out.strip() == "updated default/churn@v1", r
    updated = lineal_cli("registry", "update", "churn", "--owner", "team-ml", "--json").json()
    assert updated["owner"] == "team-ml"
    assert registry.get_version("churn@v1").tags == {"ok": "yes"}

    r = lineal_cli("registry", "resolve", "churn@candidate")
    assert r.code == 0 and r.out.startswith("default/churn@v2 -> default/churn-model@v2 sha256:"), r
    resolved = lineal_cli("registry", "resolve", "churn-model@v1", "--json").json()
    assert resolved["model_version"] is None and resolved["artifact"]["kind"] == "model"


@sqlite_and_postgres
def test_promotion_with_approval_aliases_policy_and_history(
    churn: Store, lineal_cli: Lineal, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.create_model("churn", require_approval_for_production=True, protected_aliases=["prod"])
    # Registered by another principal: separation of duties lets the CLI user approve them.
    with _acting_as("trainer"):
        for ref in ("churn-model@v1", "churn-model@v2"):
            registry.register_model("churn", ref)

    assert lineal_cli("registry", "stage", "churn@v2", "staging", "--comment", "smoke").out == (
        "default/churn@v2 is in staging\n")
    r = lineal_cli("registry", "reject", "churn@v2", "--comment", "miscalibrated")
    assert r.code == 0 and r.out.startswith("churn@v2: rejected for production by "), r
    approval = lineal_cli("registry", "approve", "churn@v2", "--comment", "recalibrated",
                          "--json").json()
    assert (approval["decision"], approval["stage"], approval["comment"]) == (
        "approved", "production", "recalibrated")
    staged = lineal_cli("registry", "stage", "churn@v2", "production", "--archive-others",
                        "--json").json()
    assert staged["stage"] == "production" and staged["status"] == "approved"
    r = lineal_cli("registry", "show", "churn@v2")
    assert "rejected for production" in r.out and "approved for production" in r.out, r

    # The protected alias needs an admin; the admin list is stored in the registry.
    monkeypatch.setenv("LINEAL_ADMINS", "nobody-else")
    r = lineal_cli("registry", "alias", "churn@v2", "prod")
    assert r.code == 6 and "needs an admin" in r.err, r
    monkeypatch.setenv("LINEAL_ADMINS", current_principal())
    assert lineal_cli("registry", "admins", "--json").json()["admins"] == [current_principal()]
    r = lineal_cli("registry", "alias", "churn@v2", "prod")
    assert r.code == 0 and r.out.strip() == "default/churn@prod -> v2 (new)", r
    moved = lineal_cli("registry", "alias", "churn@v1", "prod", "--expect", "v2", "--json").json()
    assert moved == {"model": "default/churn", "alias": "prod", "version": 1, "previous": 2}
    r = lineal_cli("registry", "unalias", "churn", "candidate")
    assert r.code == 3 and r.err.startswith("error: churn has no alias 'candidate'"), r
    lineal_cli("registry", "alias", "churn@v1", "candidate")
    r = lineal_cli("registry", "unalias", "churn", "candidate", "--expect", "v1")
    assert r.code == 0 and r.out.strip() == "removed churn@candidate (was v1)", r

    r = lineal_cli("registry", "policy", "churn")
    assert r.out.strip() == ("default/churn: approval for production; protected: prod; "
                             "separation of duties"), r
    policy = lineal_cli("registry", "policy", "churn", "--protect", "champion", "--json").json()
    assert policy["protected_aliases"] == ["champion", "prod"]
    r = lineal_cli("registry", "policy", "churn", "--gate", "production")
    assert r.out.strip() == ("default/churn: approval for production; protected: champion, prod; "
                             "approval to deploy to: production; separation of duties"), r
    r = lineal_cli("deploy", "record", "churn@v1", "--name", "api", "--env", "production")
    assert r.code == 6 and r.err.startswith("error: default/churn@v1 needs an approval before "
                                            "it can be deployed to production"), r

    # History, filtered, as a table and as JSON.
    r = lineal_cli("registry", "history", "churn")
    assert r.code == 0 and "History of churn" in r.out, r
    for text in ("model.create", "version.create", "stage.transition", "approval",
                 "alias.set", "alias.move", "alias.remove", "policy.update", "staging -> production",
                 "unreviewed -> rejected", "miscalibrated"):
        assert text in r.out, text
    events = lineal_cli("registry", "history", "churn", "--alias", "prod", "--json").json()
    assert [(e["action"], e["before"], e["after"]) for e in events] == [
        ("alias.set", None, {"version": 2}), ("alias.move", {"version": 2}, {"version": 1})]
    by_version = lineal_cli("registry", "history", "churn", "--version", "v2", "--action",
                            "stage.transition", "--json").json()
    assert [e["after"]["stage"] for e in by_version] == ["staging", "production"]
    assert lineal_cli("registry", "history", "churn", "--since", "1 hour ago", "--json").json()
    assert lineal_cli("registry", "history", "churn", "--until", "2 hours ago", "--json").json() == []


@sqlite_and_postgres
def test_as_of_and_in_stage(churn: Store, lineal_cli: Lineal) -> None:
    for ref in ("churn-model@v1", "churn-model@v2"):
        registry.register_model("churn", ref)
    registry.transition_stage("churn@v1", "production")
    registry.set_alias("churn@v1", "prod")
    registry.transition_stage("churn@v2", "production", archive_others=True)
    registry.set_alias("churn@v2", "prod")
    events = registry.history("churn")
    t_v1 = next(e for e in events if e.action == "alias.set").timestamp.isoformat()

    state = lineal_cli("registry", "as-of", "churn", t_v1, "--json").json()
    assert state["aliases"] == {"prod": 1} and state["stages"] == {"v1": "production", "v2": "none"}
    assert lineal_cli("registry", "as-of", "churn", t_v1, "--alias", "prod", "--json").json()[
        "version"] == 1
    r = lineal_cli("registry", "as-of", "churn", "now", "--alias", "prod")
    assert r.code == 0 and "alias prod -> v2" in r.out, r
    r = lineal_cli("registry", "as-of", "churn", "now")
    assert "v1: archived" in r.out and "v2: production" in r.out, r
    assert lineal_cli("registry", "as-of", "churn", "2 hours ago").out.endswith(
        "(not registered yet)\n")
    # A whole day: the state at its start, then every change during it.
    day = lineal_cli("registry", "as-of", "churn", "today", "--alias", "prod", "--json").json()
    assert day["version"] is None
    assert [(c["action"], c["after"]) for c in day["changes"]] == [
        ("alias.set", {"version": 1}), ("alias.move", {"version": 2})]
    r = lineal_cli("registry", "as-of", "churn", "today", "--alias", "prod")
    assert "alias prod -> (not set)" in r.out and "alias.move prod: v1 -> v2" in r.out, r

    spans = lineal_cli("registry", "in-stage", "churn", "production", "--from", "1 hour ago",
                       "--json").json()
    assert [(s["version"], s["end"] is None) for s in spans] == [(1, False), (2, True)]
    r = lineal_cli("registry", "in-stage", "churn", "production", "--from", "today")
    assert r.code == 0 and "v1" in r.out and "now" in r.out, r
    assert lineal_cli("registry", "in-stage", "churn", "production", "--from", "3 days ago",
                      "--to", "2 days ago", "--json").json() == []


@sqlite_and_postgres
def test_compare_side_by_side(churn: Store, lineal_cli: Lineal) -> None:
    registry.register_model("churn", "churn-model@v1")
    registry.register_model("churn", "churn-model@v2")
    r = lineal_cli("registry", "compare", "churn@v1", "churn@v2")
    assert r.code == 0, r
    # Rows: a label, then the two sides; cells are at least two spaces apart.
    cells = [re.split(r"\s{2,}", line.strip()) for line in r.out.splitlines()]
    lines = {row[0]: row[1:] for row in cells if len(row) == 3}
    assert lines["param C *"] == ["0.5", "1"] and lines["param penalty"] == ["l2", "l2"]
    assert lines["metric auc *"] == ["0.81", "0.84"]
    assert lines["code commit"] == ["a" * 12, "b" * 12]
    assert lines["package scikit-learn"] == ["1.4.2", "1.5.0"]
    assert lines["package scipy"] == ["-", "1.14.0"]
    assert lines["packages unchanged"] == ["1", "1"]
    data_a, data_b = lines["input default/churn-train"]
    assert data_a.startswith("v1 sha256:") and data_b.startswith("v2 sha256:")

    diff = lineal_cli("registry", "compare", "churn@v1", "churn@v2", "--json").json()
    assert diff["params"]["changed"] == {"C": [0.5, 1.0]}
    assert diff["packages"]["changed"] == {"scikit-learn": ["1.4.2", "1.5.0"]}
    assert diff["packages"]["only_b"] == {"scipy": "1.14.0"} and diff["same_code"] is False
    a_data, b_data = diff["a"]["inputs"][0], diff["b"]["inputs"][0]
    assert a_data["name"] == b_data["name"] == "default/churn-train"
    assert a_data["digest"] != b_data["digest"] and a_data["digest"].startswith("sha256:")
    assert diff["inputs"]["changed"]["default/churn-train"][1].startswith("v2 sha256:")
    # A plain model artifact compares too, and a model against itself has no differences.
    same = lineal_cli("registry", "compare", "churn@v1", "churn-model@v1", "--json").json()
    assert same["params"]["changed"] == {} and same["same_code"] is True


BAD_INPUT = [
    # (arguments, exit code, the start of the message)
    (["show", "ghost"], 3, "no registered model 'ghost' in project 'default'"),
    (["show", "churn@v9"], 3, "default/churn has no version 9 (versions are v1..v2)"),
    (["register", "churn", "--from", "ghost-model@v1"], 3, "no registered model or model artifact"),
    (["register", "churn", "--from", "churn-train@v1"], 2, "default/churn-train@v1 is a 'dataset'"),
    (["register", "churn"], 2, "give exactly one source"),
    (["register", "churn", "--from", "churn-model@v1"], 4,
     "default/churn-model@v1 is already registered as default/churn@v1"),
    # fraud has a v3, churn does not: a version of another model.
    (["alias", "churn@v3", "candidate"], 3, "default/churn has no version 3"),
    (["alias", "churn@v1", "v3"], 2, "alias 'v3' looks like a version number"),
    (["alias", "churn@v1", "3"], 2, "alias '3' looks like a version number"),
    (["alias", "churn@v1", "latest"], 2, "'latest' always means the highest version"),
    (["alias", "churn@v1", "bad alias"], 2, "invalid alias"),
    (["alias", "churn@v1", "prod"], 6, "changing the protected alias 'prod'"),
    (["alias", "churn@v1", "candidate", "--expect", "v1"], 5,
     "alias 'candidate' of default/churn points at v2; expected it to point at v1"),
    (["alias", "churn@v1", "candidate", "--expect", "two"], 2, "expected version 'two'"),
    (["unalias", "churn", "champion"], 3, "churn has no alias 'champion'"),
    (["stage", "churn@v1", "prod"], 2, "unknown stage 'prod'"),
    (["stage", "churn@v1", "production"], 6, "default/churn@v1 needs an approval"),
    (["stage", "churn", "staging"], 2, "'churn' does not name a version"),
    (["approve", "churn@v1", "--stage", "live"], 2, "unknown stage 'live'"),
    (["approve", "ghost@v1"], 3, "no registered model 'ghost'"),
    (["versions", "churn", "--stage", "prod"], 2, "unknown stage 'prod'"),
    (["history", "churn", "--version", "x"], 2, "--version 'x' is not a version number"),
    (["history", "churn", "--since", "someday"], 2, "not a time: 'someday'"),
    (["as-of", "churn", "3 months ago"], 2, "not a time: '3 months ago'"),
    (["as-of", "churn@v1", "now"], 2, "expected a model name"),
    (["in-stage", "churn", "prod", "--from", "yesterday"], 2, "unknown stage 'prod'"),
    (["in-stage", "churn", "production", "--from", "now", "--to", "yesterday"], 2,
     "the end of the interval is before its start"),
    (["policy", "churn", "--unprotect", "prod"], 6, "unprotecting prod on default/churn"),
    (["policy", "churn", "--protect", "v2"], 2, "alias 'v2' looks like a version number"),
    (["update", "churn@v1", "--owner", "x"], 2, "--owner applies to a model"),
    (["update", "churn", "--tag", "novalue"], 2, "bad tag 'novalue'"),
    (["compare", "churn@v1", "ghost@v1"], 3, "no registered model or model artifact"),
    (["resolve", "churn@nope"], 3, "default/churn has no alias 'nope'"),
    (["create", "churn"], 4, "model default/churn is already registered"),
]


@sqlite_and_postgres
def test_bad_input_is_one_line_and_writes_nothing(
    churn: Store, lineal_cli: Lineal, ledger_size: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEAL_ADMINS", "someone-else")
    registry.create_model("churn", require_approval_for_production=True, protected_aliases=["prod"])
    registry.register_model("churn", "churn-model@v1")
    registry.register_model("churn", "churn-model@v2", aliases=["candidate"])
    before = ledger_size(churn)
    for args, code, message in BAD_INPUT:
        r = lineal_cli("registry", *args)
        assert r.code == code, (args, r)
        assert r.out == "", (args, r)
        assert r.err.startswith(f"error: {message}"), (args, r)
        assert len(messages(r.err)) == 1 and "Traceback" not in r.err, (args, r)
    assert ledger_size(churn) == before


def test_every_command_and_option_has_help() -> None:
    from lineal.cli.deploy import deploy

    for group in (registry_group, deploy):
        assert group.help
        for name, command in group.commands.items():
            assert command.help and command.help.strip(), name
            for param in command.params:
                if isinstance(param, click.Option):
                    assert param.help, f"{group.name} {name} {param.name}"
            flags = {opt for p in command.params for opt in getattr(p, "opts", [])}
            assert "--json" in flags, f"{group.name} {name} has no --json"
