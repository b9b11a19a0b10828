"""Process entry points for the concurrency tests (spawned: importable, top-level functions)."""

from __future__ import annotations

from typing import Any

from lineal import deployments, registry
from lineal.errors import Conflict
from lineal.identity import _acting_as
from lineal.store import open_store


def move_alias_once(uri: str, artifacts: str, version: int, barrier: Any, results: Any) -> None:
    """Read the alias like `lineal registry alias` does, wait for every process, then write with
    the value read as the expected one: all read the same value, so exactly one may win."""
    store = open_store(uri, artifacts)
    try:
        current = registry.get_model("churn", store=store).aliases.get("prod")
        barrier.wait(timeout=60)
        try:
            with _acting_as(f"proc{version}"):
                registry.set_alias(f"churn@v{version}", "prod", expected=current, store=store)
            results.put(("won", version))
        except Conflict:
            results.put(("conflict", version))
    finally:
        store.close()


def move_alias_many(uri: str, artifacts: str, version: int, times: int, barrier: Any,
                    results: Any) -> None:
    """Move the alias unconditionally, ``times`` times, alternating between two versions."""
    store = open_store(uri, artifacts)
    try:
        barrier.wait(timeout=60)
        for i in range(times):
            target = version if i % 2 == 0 else 1
            with _acting_as(f"proc{version}"):
                registry.set_alias(f"churn@v{target}", "prod", store=store)
        results.put(("done", version))
    finally:
        store.close()


def deploy_once(uri: str, artifacts: str, version: int, barrier: Any, results: Any) -> None:
    """Read what is live, wait for every process, then deploy with compare-and-set."""
    store = open_store(uri, artifacts)
    try:
        live = deployments.current("prod", name="api", store=store)
        expected = live[0].id if live else None
        barrier.wait(timeout=60)
        try:
            d = deployments.record_deployment(f"churn@v{version}", name="api", environment="prod",
                                              expected_live=expected, capture=False, store=store)
            results.put(("won", d.id))
        except Conflict:
            results.put(("conflict", version))
    finally:
        store.close()
