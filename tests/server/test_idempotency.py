"""A retried write is applied once: the idempotency key commits with the write."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from lineal.entities import RunStatus
from lineal.server import ServerSettings, create_app
from lineal.store import open_store


def _run_body(run_id: str) -> dict:
    return {"run": {"id": run_id, "project": "default", "name": "r", "kind": "train",
                    "status": "running", "started_at": "2026-12-03T10:00:00+00:00"}}


def test_a_replayed_batch_is_applied_once(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s")
    app = create_app(ServerSettings(webhooks=False), store=store)
    with TestClient(app) as client:
        run_id = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
        assert client.post("/api/v1/runs", json=_run_body(run_id),
                           headers={"idempotency-key": "k1"}).status_code == 200
        replay = client.post("/api/v1/runs", json=_run_body(run_id),
                             headers={"idempotency-key": "k1"})
        assert replay.status_code == 200, replay.text  # not AlreadyExists: the same request
        batch = {"metrics": [["loss", 0.5, 0, 1], ["loss", 0.25, 1, 2]]}
        for _ in range(3):  # the first attempt, then two retries of it
            answer = client.post(f"/api/v1/runs/{run_id}/batch", json=batch,
                                 headers={"idempotency-key": "k2"})
            assert answer.status_code == 200, answer.text
        assert [p.value for p in store.metadata.metric_history(run_id, "loss")] == [0.5, 0.25]
        # Another key is another request: applied again.
        client.post(f"/api/v1/runs/{run_id}/batch", json=batch, headers={"idempotency-key": "k3"})
        assert len(store.metadata.metric_history(run_id, "loss")) == 4
    store.close()


def test_a_replay_gets_the_first_answer(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s")
    app = create_app(ServerSettings(webhooks=False), store=store)
    with TestClient(app) as client:
        run_id = "01JZZZZZZZZZZZZZZZZZZZZZZY"
        client.post("/api/v1/runs", json=_run_body(run_id))
        body = {"status": "finished", "ended_at_us": 1_800_000_000_000_000, "error": None}
        first = client.post(f"/api/v1/runs/{run_id}/finish", json=body,
                            headers={"idempotency-key": "end"})
        again = client.post(f"/api/v1/runs/{run_id}/finish", json=body,
                            headers={"idempotency-key": "end"})
        assert first.status_code == again.status_code == 200
        assert first.content == again.content
        assert store.metadata.get_run(run_id).status is RunStatus.FINISHED
        entries = store.metadata.ledger_entries(limit=1000, entity_id=run_id)
        assert [e.action for e in entries].count("run.finished") == 1, entries
    store.close()


def test_the_client_sends_one_key_for_all_its_retries(tmp_path: Path) -> None:
    import httpx

    from lineal.store.http.transport import Transport

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["idempotency-key"])
        if len(seen) < 3:
            return httpx.Response(503, json={"error": {"code": "StoreError",
                                                       "message": "busy", "details": {}}})
        return httpx.Response(200, json=None)

    transport = Transport("http://x", backoff=0.001,
                          client=httpx.Client(transport=httpx.MockTransport(handler),
                                              base_url="http://x"))
    transport.request("POST", "/api/v1/runs/x/batch", json={})
    assert len(seen) == 3 and len(set(seen)) == 1


