"""The active run is per thread (and per asyncio task): concurrent runs in one process neither
nest into each other nor mix their metrics."""

from __future__ import annotations

import asyncio
import threading

import lineal
from lineal.store import Store


def test_each_thread_has_its_own_active_run_and_metrics(store: Store) -> None:
    barrier = threading.Barrier(4)
    seen: dict[int, tuple[str, str | None]] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            with lineal.run(f"worker-{worker}", store=store, capture=False) as run:
                barrier.wait(timeout=30)  # all four runs are open at once
                for step in range(500):
                    run.log_metric("value", worker * 1000 + step, step=step)
                current = lineal.active_run()
                seen[worker] = (current.id if current else "", run.record.parent_id)
        except BaseException as error:  # reported below, a thread cannot fail the test itself
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert lineal.active_run() is None
    runs = {r.name: r for r in lineal.list_runs(store=store)}
    assert set(runs) == {f"worker-{w}" for w in range(4)}
    for worker in range(4):
        run = runs[f"worker-{worker}"]
        assert seen[worker] == (run.id, None), "no run nested into another thread's run"
        values = [p.value for p in lineal.metric_history(run.id, "value", store=store)]
        assert values == [worker * 1000 + s for s in range(500)]


def test_asyncio_tasks_nest_under_their_own_parent(store: Store) -> None:
    async def step(name: str) -> str | None:
        with lineal.run(name, store=store, capture=False) as child:
            await asyncio.sleep(0.01)
            return child.record.parent_id

    async def pipeline(name: str) -> tuple[str, list[str | None]]:
        with lineal.run(name, store=store, capture=False) as parent:
            parents = await asyncio.gather(step(f"{name}-a"), step(f"{name}-b"))
            return parent.id, list(parents)

    async def both() -> list[tuple[str, list[str | None]]]:
        return list(await asyncio.gather(pipeline("p1"), pipeline("p2")))

    for parent_id, child_parents in asyncio.run(both()):
        assert child_parents == [parent_id, parent_id]
