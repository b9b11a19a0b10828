"""Scale-out: several ``lineal server`` processes over one PostgreSQL database and one S3 bucket.

Two stateless servers (auth on) run on loopback against a fresh PostgreSQL database and a moto
S3 server. Client processes (spawned, each with a writer token of its own; half through the SDK
with ``LINEAL_URI``, half through ``open_http_store``; alternately on each server) log runs with
metrics and artifact bytes, register model versions and race to move one alias with
compare-and-set, round after round.
Afterwards nothing is lost or doubled, every CAS round has exactly one winner and one event,
the ledger verifies, and every blob is in the bucket. A write whose answer is lost with the
connection and is retried against the *other* server is applied once.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lineal.errors import Conflict
from lineal.server.testing import ServerProcess
from lineal.store import Store, open_store
from lineal.store.base import ArtifactFilter, RunFilter

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PG_ADMIN = os.environ.get("LINEAL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CLIENTS = 4
ROUNDS = 3
"""Runs per client; each run's model artifact is registered, then raced for the alias."""
POINTS = 50
"""Metric points per run."""
PAYLOAD = 96 * 1024
"""Bytes of each run's artifact."""
PROJECT, MODEL, ALIAS = "scale", "churn", "champion"
BARRIER_TIMEOUT = 60.0


@dataclass
class Cluster:
    database: str
    artifacts: str
    bucket: str
    s3_endpoint: str
    servers: list[ServerProcess]
    env: dict[str, str]
    admin: str
    """The secret of an admin token."""
    writers: list[tuple[str, str]]
    """``(principal, secret)`` of each client's writer token in PROJECT."""


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this module (as tests/conftest.py ``pg_url`` makes)."""
    import sqlalchemy as sa

    name = f"lineal_t_{uuid.uuid4().hex[:12]}"
    try:
        engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server
        message = f"PostgreSQL at 127.0.0.1:5432 is not reachable: {error}"
        if IN_CI:
            pytest.fail(message + " (CI=true: a required backend must be up)")
        pytest.skip(message)
    url = sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


@pytest.fixture(scope="module")
def cluster(pg_database: str, s3_endpoint: str) -> Iterator[Cluster]:
    """Two ``lineal server`` processes (one of them with two uvicorn workers), auth on, over
    one PostgreSQL database and one S3 bucket; an admin token, and a writer token per client."""
    import boto3

    import lineal

    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "LINEAL_S3_ENDPOINT_URL": s3_endpoint}
    bucket = f"lineal-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing",
                 ).create_bucket(Bucket=bucket)
    artifacts = f"s3://{bucket}/artifacts"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        store = open_store(pg_database, artifacts=artifacts)  # schema made once, up front
        admin = lineal.create_token("admin", name="scale-admin", store=store)[1]
        writers = []
        for index in range(CLIENTS):
            token, secret = lineal.create_token("writer", project=PROJECT,
                                                name=f"client-{index}", store=store)
            writers.append((f"token:{token.id}", secret))
        store.close()
        with ThreadPoolExecutor(2) as pool:  # both start at once: half the waiting
            starting = [pool.submit(ServerProcess, backend=pg_database, artifacts=artifacts,
                                    env=env, workers=workers, extra_args=["--auth"])
                        for workers in (2, 1)]
        servers = [future.result() for future in starting if future.exception() is None]
        try:
            assert len(servers) == 2, [future.exception() for future in starting]
            yield Cluster(pg_database, artifacts, bucket, s3_endpoint, servers, env, admin,
                          writers)
        finally:
            for server in servers:
                server.stop()


@pytest.fixture
def direct(cluster: Cluster) -> Iterator[Store]:
    """The store the servers share, opened directly (for checking, not through a server)."""
    store = open_store(cluster.database, artifacts=cluster.artifacts)
    yield store
    store.close()


# -- the clients --------------------------------------------------------------------------------
def payload(client: int, round_: int) -> bytes:
    """The artifact bytes of one run: distinct for every client and round."""
    seed = hashlib.sha256(f"{client}/{round_}".encode()).digest()
    return (seed * (PAYLOAD // len(seed) + 1))[:PAYLOAD]


def _client(index: int, url: str, token: str, scratch: str, barrier: Any, results: Any) -> None:
    """One client process: ROUNDS runs, each with metrics and a model artifact, a registered
    version per run, and a compare-and-set race for the alias per round."""
    try:
        results.put(("ok", index, _client_work(index, url, token, Path(scratch), barrier)))
    except BaseException:  # noqa: BLE001 - reported to the test, which fails on it
        barrier.abort()  # nobody waits for a client that will not come
        results.put(("error", index, traceback.format_exc()))


def _client_work(index: int, url: str, token: str, scratch: Path, barrier: Any
                 ) -> dict[str, Any]:
    import lineal
    from lineal import registry

    store: Store | None = None
    if index % 2:
        from lineal.store.http import open_http_store

        store = open_http_store(url, token=token)
    else:  # the SDK's default store is the server
        os.environ["LINEAL_URI"], os.environ["LINEAL_TOKEN"] = url, token
    runs, wins, losses, versions = [], [], [], []
    for round_ in range(ROUNDS):
        with lineal.run(f"client {index} round {round_}", kind="train", project=PROJECT,
                        params={"client": index, "round": round_}, capture=False,
                        store=store) as run:
            for step in range(POINTS):
                run.log_metric("loss", 1.0 / (index + round_ + step + 1), step=step)
            path = scratch / f"weights-{index}-{round_}.bin"
            path.write_bytes(payload(index, round_))
            artifact = run.log_artifact(path, "weights", kind="model")
            runs.append(run.id)
        mine = registry.register_model(MODEL, artifact, project=PROJECT, store=store)
        versions.append(mine.version)
        barrier.wait(BARRIER_TIMEOUT)  # every version of this round is registered
        current = registry.get_model(MODEL, project=PROJECT, store=store).aliases.get(ALIAS)
        barrier.wait(BARRIER_TIMEOUT)  # every client read the alias before anyone moves it
        try:
            registry.set_alias(mine, ALIAS, expected=current, project=PROJECT, store=store)
        except Conflict:
            losses.append(round_)
        else:
            wins.append((round_, mine.version, current))
    if store is not None:
        store.close()
    return {"runs": runs, "wins": wins, "losses": losses, "versions": versions}


def _run_clients(cluster: Cluster, scratch: Path) -> dict[int, dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(CLIENTS)
    results = context.Queue()
    processes = [
        context.Process(target=_client, args=(i, cluster.servers[i % len(cluster.servers)].url,
                                              cluster.writers[i][1], str(scratch), barrier,
                                              results))
        for i in range(CLIENTS)
    ]
    for process in processes:
        process.start()
    answers = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(30)
    errors = [f"client {i}:\n{text}" for kind, i, text in answers if kind == "error"]
    assert not errors, "\n".join(errors)
    assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]
    return {i: result for _, i, result in answers}


# -- the tests ----------------------------------------------------------------------------------
def test_concurrent_clients_on_two_servers_lose_and_double_nothing(
        cluster: Cluster, direct: Store, tmp_path: Path) -> None:
    results = _run_clients(cluster, tmp_path)
    meta = direct.metadata

    # Runs: every one a client started, each once, finished, with every metric point once.
    logged = {run_id for r in results.values() for run_id in r["runs"]}
    assert len(logged) == CLIENTS * ROUNDS
    stored = meta.list_runs(RunFilter(project=PROJECT, limit=1000))
    assert sorted(r.id for r in stored) == sorted(logged)
    assert {str(r.status.value) for r in stored} == {"finished"}
    for run in stored:
        history = meta.metric_history(run.id, "loss")
        assert [p.step for p in history] == list(range(POINTS)), run.id

    # Artifact versions: one per run, numbered 1..N without gaps or repeats, distinct bytes.
    weights = meta.list_artifact_versions(ArtifactFilter(project=PROJECT, name="weights",
                                                         limit=1000))
    assert sorted(v.version for v in weights) == list(range(1, CLIENTS * ROUNDS + 1))
    expected_digests = {"sha256:" + hashlib.sha256(payload(c, r)).hexdigest()
                        for c in range(CLIENTS) for r in range(ROUNDS)}
    assert {v.digest for v in weights} == expected_digests
    assert {v.producer_run_id for v in weights} == logged

    # The bytes went through the servers into the bucket: every blob there, whole.
    import boto3

    s3 = boto3.client("s3", endpoint_url=cluster.s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    listed = s3.list_objects_v2(Bucket=cluster.bucket, Prefix="artifacts/sha256/")
    in_bucket = {"sha256:" + obj["Key"].split("/")[-2] + obj["Key"].split("/")[-1]: obj["Size"]
                 for obj in listed.get("Contents", [])}
    for digest in expected_digests:
        assert in_bucket.get(digest) == PAYLOAD, digest

    # Model versions: one per run, numbered 1..N, as the clients were told.
    versions = meta.list_model_versions(PROJECT, MODEL)
    assert sorted(v.version for v in versions) == list(range(1, CLIENTS * ROUNDS + 1))
    told = sorted(v for r in results.values() for v in r["versions"])
    assert told == list(range(1, CLIENTS * ROUNDS + 1))

    # The alias: exactly one compare-and-set winner per round; everyone else got Conflict.
    wins = sorted(w for r in results.values() for w in r["wins"])
    assert [w[0] for w in wins] == list(range(ROUNDS)), wins
    for round_ in range(ROUNDS):
        losers = [i for i, r in results.items() if round_ in r["losses"]]
        assert len(losers) == CLIENTS - 1, (round_, results)
    assert wins[0][2] is None  # the first round raced to create it
    for previous, win in zip(wins, wins[1:], strict=False):
        assert win[2] == previous[1]  # each round moved it from the last winner's version
    model = meta.find_registered_model(PROJECT, MODEL)
    assert model is not None and model.aliases == {ALIAS: wins[-1][1]}
    events = meta.registry_events(PROJECT, MODEL, alias=ALIAS)
    assert [(e.action, e.after) for e in events] == [
        ("alias.set" if n == 0 else "alias.move", {"version": w[1]}) for n, w in enumerate(wins)]
    # Each move is recorded as the principal whose token won that round.
    winners = {w: i for i, r in results.items() for w in r["wins"]}
    assert [e.actor for e in events] == [cluster.writers[winners[w]][0] for w in wins]
    created = meta.registry_events(PROJECT, MODEL, actions=["version.create"])
    assert sorted(e.version for e in created) == list(range(1, CLIENTS * ROUNDS + 1))

    # The ledger's hash chain holds, and `lineal verify` (through a server) finds no problem.
    assert meta.verify_ledger().ok
    checked = subprocess.run(
        [sys.executable, "-m", "lineal.cli", "verify"], capture_output=True, text=True,
        env={**os.environ, "LINEAL_URI": cluster.servers[1].url, "LINEAL_TOKEN": cluster.admin},
        timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


class DroppedAnswers(httpx.BaseTransport):
    """Sends each JSON write to server A, then drops the connection before the client reads
    the answer (A applied it; the client cannot know); the client's retry, with the same
    idempotency key, goes to server B. Everything else goes to A."""

    def __init__(self, a: str, b: str) -> None:
        self.a, self.b = httpx.URL(a), httpx.URL(b)
        self.inner = httpx.HTTPTransport()
        self.seen: dict[str, int] = {}
        self.dropped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        json_write = key is not None and request.headers.get("content-type") == "application/json"
        attempt = self.seen.get(key, 0) if key else 0
        if key:
            self.seen[key] = attempt + 1
        target = self.b if json_write and attempt > 0 else self.a
        request.url = request.url.copy_with(scheme=target.scheme, host=target.host,
                                            port=target.port)
        response = self.inner.handle_request(request)
        if json_write and attempt == 0:
            response.read()
            response.close()
            assert response.status_code < 500, response.text
            self.dropped += 1
            raise httpx.RemoteProtocolError("server disconnected without sending a response")
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_write_retried_on_the_other_server_is_applied_once(
        cluster: Cluster, direct: Store, tmp_path: Path) -> None:
    import lineal
    from lineal import registry
    from lineal.store.http import open_http_store

    a, b = cluster.servers[0].url, cluster.servers[1].url
    transport = DroppedAnswers(a, b)
    remote = open_http_store(a, token=cluster.admin,
                             client=httpx.Client(transport=transport, base_url=a))
    remote.metadata.transport.backoff = 0.01
    project = "failover"
    with lineal.run("failover", project=project, capture=False, store=remote) as run:
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
            run.flush()
        artifacts = []
        for n in range(2):
            path = tmp_path / f"weights-{n}.bin"
            path.write_bytes(f"failover {n}".encode() * 1000)
            artifacts.append(run.log_artifact(path, "weights", kind="model"))
    first = registry.register_model("failover", artifacts[0], project=project, store=remote)
    registry.set_alias(first, "prod", expected=None, project=project, store=remote)
    second = registry.register_model("failover", artifacts[1], project=project, store=remote)
    registry.set_alias(second, "prod", expected=first.version, project=project, store=remote)
    assert transport.dropped >= 10  # every write above lost its first answer

    meta = direct.metadata
    assert [p.step for p in meta.metric_history(run.id, "loss")] == list(range(5))
    assert len(meta.list_runs(RunFilter(project=project))) == 1
    assert meta.get_run(run.id).status.value == "finished"
    assert [v.version for v in meta.list_artifact_versions(
        ArtifactFilter(project=project, name="weights"))] == [2, 1]
    assert sorted(v.version for v in meta.list_model_versions(project, "failover")) == [1, 2]
    events = meta.registry_events(project, "failover", alias="prod")
    assert [(e.action, e.after) for e in events] == [("alias.set", {"version": 1}),
                                                    ("alias.move", {"version": 2})]
    finished = [e for e in meta.ledger_entries(limit=1000, entity_id=run.id)
                if e.action == "run.finished"]
    assert len(finished) == 1
    # The compare-and-set still guards: a new request expecting the old version is refused.
    with pytest.raises(Conflict):
        registry.set_alias(first, "prod", expected=first.version, project=project, store=remote)
    remote.close()
    assert meta.verify_ledger().ok


def test_the_same_idempotency_key_at_two_servers_is_applied_once(cluster: Cluster,
                                                                   direct: Store) -> None:
    bearer = {"authorization": f"Bearer {cluster.admin}"}
    a, b = (httpx.Client(base_url=s.url, headers=bearer) for s in cluster.servers[:2])
    run_id = "01KZZZZZZZZZZZZZZZZZZZZZZX"
    body = {"run": {"id": run_id, "project": "replay", "name": "r", "kind": "train",
                    "status": "running", "started_at": "2026-12-03T10:00:00+00:00"}}
    for client in (a, b, a):
        answer = client.post("/api/v1/runs", json=body, headers={"idempotency-key": "run-1"})
        assert answer.status_code == 200, answer.text
    batch = {"metrics": [["loss", 0.5, 0, 1], ["loss", 0.25, 1, 2]]}
    answers = [client.post(f"/api/v1/runs/{run_id}/batch", json=batch,
                           headers={"idempotency-key": "batch-1"}) for client in (a, b, b, a)]
    assert [r.status_code for r in answers] == [200] * 4
    assert len({r.content for r in answers}) == 1  # the first answer, replayed
    assert [p.value for p in direct.metadata.metric_history(run_id, "loss")] == [0.5, 0.25]
    # The same body under a new key is a new request: applied again.
    assert b.post(f"/api/v1/runs/{run_id}/batch", json=batch,
                  headers={"idempotency-key": "batch-2"}).status_code == 200
    assert len(direct.metadata.metric_history(run_id, "loss")) == 4
    a.close()
    b.close()
