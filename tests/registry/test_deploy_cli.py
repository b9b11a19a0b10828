"""``lineal deploy`` end to end on SQLite and PostgreSQL: record, what is live now and at any
time, the timeline, the last deployment, recover (and redeploy from what it prints), rollback,
end, and bad input (one clear line on stderr, a non-zero exit code, nothing written)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import messages

import lineal
from lineal import deployments, registry
from lineal.store import Store

Lineal = Callable[..., Any]  # the lineal_cli fixture (tests/registry/conftest.py)

# The CLI is a thin layer over the library, whose own tests cover MariaDB too: SQLite and
# PostgreSQL are enough here and keep the files fast.
sqlite_and_postgres = pytest.mark.parametrize("backend_store", ["sqlite", "postgres"],
                                              indirect=True)


@pytest.fixture
def churn(backend_store: Store, train: Callable) -> Store:
    """churn@v1..v3 (model bytes m0, m1, m2), v2 in production with alias prod."""
    for i in range(3):
        registry.register_model("churn", train(backend_store, f"m{i}", params={"C": i}).ref)
    registry.transition_stage("churn@v2", "production")
    registry.set_alias("churn@v2", "prod")
    return backend_store


def _table(out: str) -> list[list[str]]:
    """The body rows of a table (header, a rule of ``─``, one line per row), as lists of
    stripped cells cut at the header's column positions."""
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
    header = lines[rule - 1]
    starts = [m.start() for m in re.finditer(r"(?:(?<=^)|(?<=  ))\S", header)]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    return [[line[a:b].strip() for a, b in bounds] for line in lines[rule + 1:] if line.strip()]


@sqlite_and_postgres
def test_record_current_timeline_last_rollback(churn: Store, lineal_cli: Lineal,
                                               tmp_path: Path) -> None:
    r = lineal_cli("deploy", "record", "churn@prod", "--name", "churn-api", "--env", "prod",
                   "--target", "https://ml.example.com/churn", "--set", "replicas=3",
                   "--set", "tier=gold", "--no-capture")
    assert r.code == 0, r
    d1 = deployments.current("prod")[0]
    assert r.out == f"deployment {d1.id}: default/churn@v2 live as churn-api in prod\n"
    assert d1.config == {"replicas": 3, "tier": "gold"} and d1.target == "https://ml.example.com/churn"
    config = tmp_path / "staging.json"
    config.write_text(json.dumps({"replicas": 1, "autoscale": {"max": 4}}))
    staging = lineal_cli("deploy", "record", "churn@v3", "--name", "churn-api", "--env", "staging",
                         "--config", f"@{config}", "--set", "replicas=2", "--no-capture",
                         "--json").json()
    assert staging["config"] == {"replicas": 2, "autoscale": {"max": 4}}
    assert (staging["model_ref"], staging["status"]) == ("default/churn@v3", "live")

    r = lineal_cli("deploy", "current", "--env", "prod", "--wide")
    assert _table(r.out) == [[d1.id, "prod", "churn-api", "default/churn@v2", "live",
                              _local(d1.started_at), "-"]], r
    # By default: a prefix of 8 or more characters that names it, the time to the minute.
    short = _table(lineal_cli("deploy", "current", "--env", "prod").out)
    assert len(short[0][0]) >= 8 and d1.id.startswith(short[0][0]), short
    assert short[0][1:] == ["prod", "churn-api", "default/churn@v2", "live",
                            _local(d1.started_at)[5:16], "-"], short
    assert lineal_cli("deploy", "show", short[0][0], "--json").json()["id"] == d1.id
    assert {d["environment"] for d in lineal_cli("deploy", "current", "--json").json()} == {
        "prod", "staging"}
    assert lineal_cli("deploy", "current", "--env", "qa").out == "Live now in qa: none\n"

    # Deploy a newer version (compare-and-set on what is live), then roll back.
    r = lineal_cli("deploy", "record", "churn@v3", "--name", "churn-api", "--env", "prod",
                   "--target", "https://ml.example.com/churn", "--expect-live", d1.id,
                   "--comment", "retrained", "--alias", "live", "--no-capture")
    assert r.code == 0 and r.out.endswith(f", replacing {d1.id}; alias live -> v3\n"), r
    d2 = deployments.current("prod")[0]
    r = lineal_cli("deploy", "rollback", "churn-api", "--env", "prod", "--comment",
                   "latency regression", "--alias", "live", "--no-capture")
    assert r.code == 0, r
    d3 = deployments.current("prod")[0]
    assert r.out == (f"rolled back churn-api in prod to default/churn@v2: deployment {d3.id} "
                     f"replaces {d2.id}, restores {d1.id}; alias live -> v2\n")
    assert registry.get_version("churn@live").version == 2
    assert d3.config == d1.config and d3.comment == "latency regression"

    rows = _table(lineal_cli("deploy", "timeline", "churn", "--env", "prod", "--wide").out)
    assert [(row[0], row[3], row[4], row[7]) for row in rows] == [
        (d1.id, "default/churn@v2", "replaced", "first"),
        (d2.id, "default/churn@v3", "rolled_back", "replaces v2"),
        (d3.id, "default/churn@v2", "live", "rollback to v2 (replaces v3)"),
    ]
    timeline = lineal_cli("deploy", "timeline", "churn", "--json").json()
    assert [d["id"] for d in timeline] == [d1.id, staging["id"], d2.id, d3.id]
    assert [d["id"] for d in lineal_cli("deploy", "timeline", "churn", "--limit", "2",
                                        "--json").json()] == [d2.id, d3.id]
    assert [d["id"] for d in lineal_cli("deploy", "timeline", "churn@v3", "--json").json()] == [
        staging["id"], d2.id]

    # The last deployment of a model, per environment, live or not: `deploy last` is an alias
    # of `last-deployed`, with identical output and JSON.
    r = lineal_cli("deploy", "last", "churn", "--env", "prod")
    assert r.out == lineal_cli("last-deployed", "churn", "--env", "prod").out
    assert "default/churn@v2" in r.out and d3.id in r.out and "live" in r.out, r
    last = lineal_cli("deploy", "last", "churn@v3", "--json").json()
    assert last == lineal_cli("last-deployed", "churn@v3", "--json").json()
    assert last["deployment"]["id"] == d2.id and last["model_version"] == "default/churn@v3"
    r = lineal_cli("deploy", "last", "churn@v3", "--env", "prod", "--json")
    assert r.json()["deployment"]["status"] == "rolled_back", r
    r = lineal_cli("deploy", "last", "churn", "--env", "qa")
    assert r.code == 3 and "churn was never deployed to qa" in r.err

    # What was live at an instant, over a whole day, and long ago.
    at_d2 = lineal_cli("deploy", "at", d2.started_at.isoformat(), "--env", "prod", "--json").json()
    assert [d["id"] for d in at_d2] == [d2.id]
    before = (d1.started_at - timedelta(microseconds=1)).isoformat()
    assert lineal_cli("deploy", "at", before, "--env", "prod", "--json").json() == []
    today = lineal_cli("deploy", "at", "today", "--env", "prod", "--json").json()
    assert [d["id"] for d in today] == [d1.id, d2.id, d3.id]
    assert lineal_cli("deploy", "at", "1 day ago", "--env", "prod").out == (
        "Live at 1 day ago in prod: none\n")
    assert [d["id"] for d in lineal_cli("deploy", "at", "now", "--json").json()] == [
        staging["id"], d3.id]

    # Lists and one record.
    listed = lineal_cli("deploy", "list", "--name", "churn-api", "--env", "prod", "--limit", "2",
                        "--json").json()
    assert [d["id"] for d in listed] == [d3.id, d2.id]  # newest first
    assert len(lineal_cli("deploy", "list", "--live", "--json").json()) == 2
    assert len(_table(lineal_cli("deploy", "list", "--model", "churn").out)) == 4
    r = lineal_cli("deploy", "show", d3.id[:12])
    assert r.code == 0 and f"replaces  {d2.id}" in r.out and f"restores  {d1.id}" in r.out, r
    assert '"replicas": 3' in r.out and "latency regression" in r.out
    assert lineal_cli("deploy", "show", d2.id, "--json").json()["status"] == "rolled_back"

    # Ending one: it stops being live, and the record says how and why.
    ended = lineal_cli("deploy", "end", "churn-api", "--env", "staging", "--failed", "--comment",
                       "OOM", "--json").json()
    assert (ended["id"], ended["status"]) == (staging["id"], "failed") and ended["ended_at"]
    assert [d["id"] for d in lineal_cli("deploy", "current", "--json").json()] == [d3.id]
    ends = registry.history("churn", actions=["deployment.end"])
    assert [e.comment for e in ends] == [f"replaced by deployment {d2.id}",
                                        f"rolled back by deployment {d3.id}", "OOM"]


@sqlite_and_postgres
def test_a_short_id_names_one_deployment_in_the_whole_store(
    churn: Store, lineal_cli: Lineal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deployments made in the same millisecond share their first 10 characters; a listing that
    shows one of them still prints a prefix that ``deploy show`` resolves to it alone."""
    from lineal.store.sql import deployments as sql_deployments

    ids = iter(["01JF0000000000000000000AAA", "01JF0000000000000000000BBB"])
    monkeypatch.setattr(sql_deployments, "new_id", lambda: next(ids))
    for ref, env in (("churn@v2", "prod"), ("churn@v3", "staging")):
        assert lineal_cli("deploy", "record", ref, "--name", "api", "--env", env,
                          "--no-capture").code == 0
    short = _table(lineal_cli("deploy", "current", "--env", "prod").out)[0][0]
    assert short == "01JF0000000000000000000A"
    assert lineal_cli("deploy", "show", short, "--json").json()["environment"] == "prod"


@sqlite_and_postgres
def test_backdated_records_answer_at_queries(churn: Store, lineal_cli: Lineal) -> None:
    r = lineal_cli("deploy", "record", "churn@v1", "--name", "batch", "--env", "canary",
                   "--started-at", "3 days ago", "--no-capture", "--json")
    assert r.code == 0, r
    first = r.json()
    second = lineal_cli("deploy", "record", "churn@v2", "--name", "batch", "--env", "canary",
                        "--started-at", "36 hours ago", "--no-capture", "--json").json()
    assert second["replaces_id"] == first["id"]
    assert [d["model_ref"] for d in lineal_cli("deploy", "at", "2 days ago", "--env", "canary",
                                               "--json").json()] == ["default/churn@v1"]
    assert [d["model_ref"] for d in lineal_cli("deploy", "at", "1 day ago", "--env", "canary",
                                               "--json").json()] == ["default/churn@v2"]
    assert lineal_cli("deploy", "at", "4 days ago", "--env", "canary", "--json").json() == []
    # The first record ended exactly when the second started.
    assert deployments.get(first["id"]).ended_at == deployments.get(second["id"]).started_at


@sqlite_and_postgres
@pytest.mark.usefixtures("patient_capture")
def test_recover_prints_everything_needed_to_redeploy(churn: Store, lineal_cli: Lineal,
                                                      tmp_path: Path) -> None:
    registry.set_alias("churn@v2", "champion")
    lineal_cli("deploy", "record", "churn@prod", "--name", "churn-api", "--env", "prod",
               "--target", "https://ml.example.com/churn", "--config",
               '{"replicas": 3, "threshold": 0.4}')  # with capture: the deploying environment
    live = deployments.current("prod")[0]
    registry.set_alias("churn@v3", "prod")  # the registry moves on; the record does not

    out = tmp_path / "restored" / "model.bin"
    rec = lineal_cli("deploy", "recover", "churn-api", "--env", "prod", "--download", str(out),
                     "--json").json()
    artifact = churn.metadata.get_artifact_version(live.artifact_version_id)
    assert rec["model_version"] == "default/churn@v2"
    assert (rec["artifact"]["digest"], rec["artifact"]["uri"]) == (artifact.digest, artifact.uri)
    assert rec["content_available"] is True and out.read_text() == "m1"
    assert rec["config"] == {"replicas": 3, "threshold": 0.4}
    assert rec["target"] == "https://ml.example.com/churn"
    assert rec["registry_at_deploy"]["aliases"] == ["champion", "prod"]
    assert rec["registry_at_deploy"]["stage"] == "production"
    assert rec["serving_environment"]["packages"]  # captured by the deploy run
    assert rec["training_environment"]["packages"] == {"scikit-learn": "1.5.0", "numpy": "2.0.0"}
    assert rec["training_code"]["git"]["commit"] == "a" * 40

    table = lineal_cli("deploy", "recover", live.id[:10]).out
    for text in (artifact.digest, artifact.uri, "stage production, aliases champion, prod",
                 '{"replicas": 3, "threshold": 0.4}', "python 3.11.7, 2 packages", "a" * 40):
        assert text in table, text

    # The endpoint is deleted by mistake; recover what was live before, and redeploy it with the
    # command recover printed.
    lineal_cli("deploy", "end", "churn-api", "--env", "prod", "--comment", "deleted by mistake")
    assert lineal_cli("deploy", "recover", "churn-api", "--env", "prod").code == 3
    rec = lineal_cli("deploy", "recover", "churn-api", "--env", "prod", "--at",
                     live.started_at.isoformat(), "--json").json()
    assert rec["deployment"]["id"] == live.id
    command = shlex.split(rec["redeploy_command"])
    assert command[:4] == ["lineal", "deploy", "record", "default/churn@v2"]
    r = lineal_cli(*command[1:], "--no-capture")
    assert r.code == 0, r
    again = deployments.current("prod")[0]
    assert (again.model_version_id, again.artifact_version_id, again.config, again.target) == (
        live.model_version_id, live.artifact_version_id, live.config, live.target)


BAD_INPUT = [
    # (arguments, exit code, the start of the message)
    (["record", "ghost@v1", "--name", "api", "--env", "prod"], 3,
     "no registered model or model artifact named 'ghost'"),
    (["record", "churn@v9", "--name", "api", "--env", "prod"], 3, "default/churn has no version 9"),
    (["record", "churn@nope", "--name", "api", "--env", "prod"], 3, "default/churn has no alias"),
    (["record", "churn-model@v1", "--name", "api", "--env", "prod"], 2,
     "default/churn-model@v1 is not a registered model version"),
    (["record", "churn@v1", "--name", "api", "--env", "pr od"], 2, "invalid environment"),
    (["record", "churn@v1", "--name", "a/b", "--env", "prod"], 2, "invalid deployment name"),
    (["record", "churn@v1", "--name", "api", "--env", "prod", "--config", "{bad"], 2,
     "--config is not JSON"),
    (["record", "churn@v1", "--name", "api", "--env", "prod", "--config", "[1]"], 2,
     "--config must be a JSON object"),
    (["record", "churn@v1", "--name", "api", "--env", "prod", "--set", "novalue"], 2,
     "bad --set 'novalue'"),
    (["record", "churn@v1", "--name", "api", "--env", "prod", "--started-at", "2999-01-01"], 2,
     "a deployment cannot start in the future"),
    (["record", "churn@v1", "--name", "api", "--env", "prod", "--started-at", "someday"], 2,
     "not a time: 'someday'"),
    (["end", "01ZZZZZZZZ"], 3, "no deployment with id '01ZZZZZZZZ'"),
    (["end", "api", "--env", "qa"], 3, "no deployment named 'api' is live now in 'qa'"),
    (["end", "churn-api", "--env", "prod", "--at", "2999-01-01"], 2,
     "a deployment ends after it started and not in the future"),
    (["show", "01"], 2, "deployment id '01' is too short"),
    (["current", "--model", "ghost"], 3, "no registered model 'ghost'"),
    (["at", "someday"], 2, "not a time: 'someday'"),
    (["at", "now", "--model", "ghost"], 3, "no registered model 'ghost'"),
    (["list", "--model", "ghost"], 3, "no registered model 'ghost'"),
    (["timeline", "ghost"], 3, "no registered model 'ghost'"),
    (["timeline", "churn-model@v1"], 2, "churn-model@v1 is not a registered model version"),
    (["timeline", "churn", "--limit", "0"], 2, "--limit must be a whole number from 1"),
    (["last", "ghost"], 3, "no registered model or model artifact named 'ghost'"),
    (["last", "churn", "--env", "pr od"], 2, "invalid environment"),
    (["recover", "api", "--env", "qa"], 3, "no deployment named 'api' is live now in 'qa'"),
    (["recover", "churn-api", "--env", "prod", "--at", "4 days ago"], 3,
     "no deployment named 'churn-api' is live at 4 days ago in 'prod'"),
    (["rollback", "api", "--env", "qa"], 3, "no deployment named 'api' is live now in 'qa'"),
    (["rollback", "churn-api", "--env", "prod"], 2,
     "churn-api in prod has no deployment before"),
    (["rollback", "churn-api", "--env", "prod", "--to", "churn@v1"], 2,
     "churn@v1 was never deployed as churn-api in prod"),
]


@sqlite_and_postgres
def test_bad_input_is_one_line_and_writes_nothing(churn: Store, lineal_cli: Lineal,
                                                  ledger_size: Callable) -> None:
    deployments.record_deployment("churn@v2", name="churn-api", environment="prod", capture=False)
    before = ledger_size(churn)
    for args, code, message in BAD_INPUT:
        r = lineal_cli("deploy", *args)
        assert r.code == code, (args, r)
        assert r.out == "", (args, r)
        assert r.err.startswith(f"error: {message}"), (args, r)
        assert len(messages(r.err)) == 1 and "Traceback" not in r.err, (args, r)
    assert ledger_size(churn) == before

    # A lost compare-and-set is not bad input: it exits with Conflict's code and the attempt
    # stays on record as a failed deploy run, while the live record is untouched.
    r = lineal_cli("deploy", "record", "churn@v3", "--name", "churn-api", "--env", "prod",
                   "--expect-live", "none", "--no-capture")
    assert r.code == 5 and "someone else deployed meanwhile" in r.err, r
    assert [run.status.value for run in lineal.list_runs(kind="deploy")].count("failed") == 1
    assert [d.model_version for d in deployments.current("prod")] == [2]


def _local(value: Any) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
