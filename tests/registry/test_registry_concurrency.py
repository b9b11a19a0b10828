"""Real processes racing on one alias and one deployment slot, on every metadata backend: one
wins, the others get Conflict, and the history holds exactly the changes that happened."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import registry_workers
from tests.cli.conftest import messages

import lineal
from lineal import deployments, registry
from lineal.store import Store

PROCESSES = 4


def _race(store: Store, target: Callable[..., None], args_for: Callable[[int], tuple[Any, ...]],
          n: int = PROCESSES) -> list[tuple[str, Any]]:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    uri = store.metadata.url  # type: ignore[attr-defined]
    if uri.startswith("http://lineal.test"):  # in this process only
        pytest.skip("the in-process server is not reachable from other processes")
    artifacts = store.blobs.root_uri.removeprefix("file://")
    procs = [
        ctx.Process(target=target, args=(uri, artifacts, *args_for(i), barrier, results))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return [results.get(timeout=5) for _ in procs]


@pytest.fixture
def churn(backend_store: Store, train: Callable) -> Store:
    for i in range(PROCESSES + 1):
        registry.register_model("churn", train(backend_store, f"m{i}").ref)
    registry.set_alias("churn@v1", "prod")
    return backend_store


def test_concurrent_compare_and_set_one_wins(churn: Store) -> None:
    outcomes = _race(churn, registry_workers.move_alias_once, lambda i: (i + 2,))
    winners = [v for what, v in outcomes if what == "won"]
    assert len(winners) == 1, outcomes
    assert sorted(what for what, _ in outcomes) == ["conflict"] * (PROCESSES - 1) + ["won"]
    assert registry.get_model("churn").aliases == {"prod": winners[0]}
    moves = registry.history("churn", alias="prod")
    assert [(e.action, e.before, e.after, e.actor) for e in moves] == [
        ("alias.set", None, {"version": 1}, moves[0].actor),
        ("alias.move", {"version": 1}, {"version": winners[0]}, f"proc{winners[0]}"),
    ]
    _assert_ledger_matches_history(churn, moves=1)
    assert lineal.audit.verify().ok


def _assert_ledger_matches_history(store: Store, *, moves: int) -> None:
    """Each registry event is vouched for by exactly one ledger entry, and the alias table was
    rewritten exactly once per recorded move: no change without its event, nor the reverse."""
    meta = store.metadata
    events = registry.history("churn")
    ledgered = [e.entity_id for e in meta.ledger_entries(action="registry.event", limit=100_000)]
    assert sorted(ledgered) == sorted(e.id for e in events)
    assert len(set(ledgered)) == len(ledgered)
    alias_moves = meta.ledger_entries(action="registry.alias.move", limit=100_000)
    assert len(alias_moves) == moves == sum(e.action == "alias.move" for e in events)


def test_concurrent_unconditional_moves_lose_no_event(churn: Store) -> None:
    times = 6
    outcomes = _race(churn, registry_workers.move_alias_many, lambda i: (i + 2, times))
    assert sorted(what for what, _ in outcomes) == ["done"] * PROCESSES
    events = registry.history("churn", alias="prod")
    assert len({e.id for e in events}) == len(events)
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    # Every move starts where the previous one ended: nothing lost, nothing recorded twice.
    for previous, event in zip(events, events[1:], strict=False):
        assert event.before == previous.after, (previous, event)
        assert event.after != event.before
    assert registry.get_model("churn").aliases["prod"] == events[-1].after["version"]
    # Each process changes the alias at least on its first move, and never more than it tried.
    assert PROCESSES + 1 <= len(events) <= PROCESSES * times + 1
    _assert_ledger_matches_history(churn, moves=len(events) - 1)
    assert lineal.audit.verify().ok


@pytest.mark.parametrize("backend_store", ["sqlite", "postgres"], indirect=True)
def test_cli_processes_racing_on_an_alias(churn: Store) -> None:
    """`lineal registry alias` from several shells at once: with --expect exactly one wins and
    the others exit 5 (Conflict); without it, each command compares against what it read, so a
    process that read a stale value loses instead of silently overwriting."""
    uri = churn.metadata.url  # type: ignore[attr-defined]
    artifacts = churn.blobs.root_uri.removeprefix("file://")  # type: ignore[attr-defined]

    def race(*extra: str) -> list[subprocess.CompletedProcess[str]]:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "lineal.cli", "--uri", uri, "--artifacts", artifacts,
                 "registry", "alias", f"churn@v{v}", "prod", *extra],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for v in range(2, PROCESSES + 2)
        ]
        return [subprocess.CompletedProcess(p.args, p.wait(timeout=120), *p.communicate())
                for p in procs]

    done = race("--expect", "v1")
    assert sorted(p.returncode for p in done) == [0] + [5] * (PROCESSES - 1), done
    for p in done:
        if p.returncode == 5:
            assert p.stdout == "" and len(messages(p.stderr)) == 1
            assert "expected it to point at v1: someone else changed it" in p.stderr
    winner = next(p for p in done if p.returncode == 0)
    assert winner.stdout.strip().endswith("(was v1)")
    moves = registry.history("churn", alias="prod", actions=["alias.move"])
    assert len(moves) == 1 and moves[0].before == {"version": 1}

    done = race()
    assert {p.returncode for p in done} <= {0, 5}, done
    won = sum(p.returncode == 0 for p in done)
    assert won >= 1
    moves = registry.history("churn", alias="prod", actions=["alias.move"])
    # A winner whose target was already the alias's value makes no change and no event.
    assert 1 + won - 1 <= len(moves) <= 1 + won
    for previous, event in zip(moves, moves[1:], strict=False):
        assert event.before == previous.after
    _assert_ledger_matches_history(churn, moves=len(moves))
    assert lineal.audit.verify().ok


def test_concurrent_deployments_one_wins(churn: Store) -> None:
    first = deployments.record_deployment("churn@v1", name="api", environment="prod",
                                          capture=False)
    outcomes = _race(churn, registry_workers.deploy_once, lambda i: (i + 2,))
    winners = [d for what, d in outcomes if what == "won"]
    assert len(winners) == 1, outcomes
    live = deployments.current("prod")
    assert [d.id for d in live] == winners and live[0].replaces_id == first.id
    assert len(deployments.timeline("churn", "prod")) == 2
    # The losers' deploy runs are recorded as failed, with the conflict as the reason.
    failed = lineal.list_runs(kind="deploy", status="failed")
    assert len(failed) == PROCESSES - 1
    assert all("Conflict" in r.error.type for r in failed)  # type: ignore[union-attr]
