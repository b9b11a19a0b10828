"""Server benchmark: `lineal server` against `mlflow server`, both on loopback, in one run.

    python bench/bench_server.py --json bench/results/server.json [--quick] [--repeat N]
        [--size BYTES] [--workers N] [--cases metrics,alias,transfer]

    python bench/bench_server.py --json bench/results/transfer.json --cases transfer \
        --lineal-only --repeat 3        # only the transfer case, lineal and the plain copies

Cases (issue "lineal server", section 8):
  metrics   metric points per second from 8 concurrent client processes, each logging N points
            into its own run the way each SDK is normally used: lineal ``run.log_metric`` in a
            loop (the background writer sends batches to ``POST /api/v1/runs/{id}/batch``);
            MLflow ``mlflow.log_metric`` in a loop (one request per point, what most training
            scripts do) and ``MlflowClient.log_batch`` with 1,000 points per call (its limit).
  alias     alias-resolution requests per second and p99 latency at 50 concurrent keep-alive
            connections for a fixed duration after a warm-up: lineal
            ``GET /api/v1/model-versions/resolve?ref=...``, MLflow
            ``GET /api/2.0/mlflow/registered-models/alias?name=...&alias=...``.
  transfer  upload and download of one artifact (1 GiB of random bytes by default): lineal
            ``HttpBlobStore.put_file`` / ``get_file`` (the client the SDK uses), MLflow
            ``mlflow.log_artifact`` / ``mlflow.artifacts.download_artifacts`` through
            ``mlflow server --serve-artifacts``; against plain copies on the same disk.

Both servers run from the bench virtualenv with the same number of worker processes, over the
same kind of backing store: a SQLite file on the local disk (lineal's embedded store folder;
MLflow ``sqlite:///.../mlflow.db``) and a local artifact folder. Each client and the load
generator run in fresh processes of the bench virtualenv (this file, ``worker ...``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402  (the bench folder is not a package)
    Report,
    Table,
    Target,
    arguments,
    fmt_bytes,
    fmt_rate,
    fmt_seconds,
    median,
    progress,
    run_worker,
    scratch_dir,
    sync_disks,
)

SCRIPT = Path(__file__).resolve()
CLIENTS = 8  # concurrent client processes logging metrics
CONNECTIONS = 50  # concurrent connections of the alias-resolution load
METRIC_BATCH = 1_000  # MLflow's limit of metrics per log_batch call
FULL = {
    "points": 50_000,  # per client process: lineal
    "mlflow_batch_points": 20_000,  # per client process: MLflow log_batch
    "mlflow_loop_points": 250,  # per client process: MLflow one request per point
    "duration": 10.0,  # seconds of alias-resolution load, after the warm-up
    "warmup": 3.0,
    "size": 1 << 30,  # transfer: bytes of the artifact
    "repeat": 3,
}
QUICK = {**FULL, "points": 10_000, "mlflow_batch_points": 2_000, "mlflow_loop_points": 200,
         "duration": 3.0, "warmup": 1.0, "size": 64 << 20, "repeat": 1}
TINY = {**FULL, "points": 500, "mlflow_batch_points": 100, "mlflow_loop_points": 20,
        "duration": 2.0, "warmup": 0.5, "size": 1 << 20, "repeat": 1}
WORKER_ENV = {  # no telemetry or update checks: the machine has no network
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "GIT_PYTHON_REFRESH": "quiet",
}
MB = 1_000_000


# ============================================================================================
# Workers: run in a fresh process of the bench virtualenv.
# ============================================================================================
def worker_setup_metrics(tool: str, url: str) -> dict[str, Any]:
    """Create what the metric clients share (MLflow: the experiment), outside any timing."""
    if tool.split("@")[0] == "lineal":
        return {}
    import mlflow

    mlflow.set_tracking_uri(url)
    return {"experiment": mlflow.create_experiment(f"bench-{time.time_ns()}")}


def worker_log(tool: str, url: str, n: int, experiment: str) -> dict[str, Any]:
    """One client process: say ``ready`` once imported and connected, wait for ``go`` on stdin,
    then log ``n`` points into a new run and end it (every point stored when the clock stops);
    afterwards check that the server holds all ``n``. ``mlflow-batch@lineal`` (or
    ``mlflow-loop@lineal``) is the MLflow client logging to a lineal server."""
    tool = tool.split("@")[0]  # which client; the server is whatever ``url`` is
    if tool == "lineal":
        os.environ["LINEAL_URI"] = url
        import lineal
        from lineal.api import metric_history
        from lineal.store import default_store

        default_store(write=True).metadata.info()  # connected before the clock starts
        _ready()
        start = time.time()
        with lineal.run(f"client-{os.getpid()}", capture=False) as run:
            for i in range(n):
                run.log_metric("loss", 1.0 / (i + 1), step=i)
        end = time.time()
        stored = len(metric_history(run.id, "loss"))
    else:
        import mlflow
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        mlflow.set_tracking_uri(url)
        client = MlflowClient()
        client.get_experiment(experiment)
        _ready()
        start = time.time()
        with mlflow.start_run(experiment_id=experiment) as active:
            if tool == "mlflow-loop":
                for i in range(n):
                    mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
            else:
                ts = int(time.time() * 1000)
                for first in range(0, n, METRIC_BATCH):
                    batch = [Metric("loss", 1.0 / (i + 1), ts, i)
                             for i in range(first, min(n, first + METRIC_BATCH))]
                    client.log_batch(active.info.run_id, metrics=batch)
        end = time.time()
        stored = len(client.get_metric_history(active.info.run_id, "loss"))
    if stored != n:
        raise SystemExit(f"{tool}: {stored} points stored, {n} logged")
    return {"start": start, "end": end, "n": n}


def _ready() -> None:
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("no go")


def worker_setup_alias(tool: str, url: str, folder: Path) -> dict[str, Any]:
    """Register model ``churn`` with version 1 under alias ``prod``; return the path (and
    query) of the request that resolves ``churn@prod``, and check its answer once."""
    import httpx

    model = folder / "model.bin"
    model.write_bytes(os.urandom(4096))
    if tool == "lineal":
        os.environ["LINEAL_URI"] = url
        import lineal
        from lineal import registry
        from lineal.refs import parse_ref
        from lineal.store.http.routes import encode_args, query_string, route_for

        with lineal.run("train", capture=False) as run:
            artifact = run.log_artifact(model, name="churn-model", kind="model")
        version = registry.register_model("churn", artifact.ref, aliases=["prod"])
        ref = parse_ref("churn@prod", version.project)
        _, rest = encode_args("resolve_model_version", {"ref": ref})
        request = httpx.Request("GET", url + route_for("resolve_model_version").url,
                                params=query_string(rest))
        answer = httpx.get(str(request.url)).json()
        if answer.get("version") != 1 or answer.get("model") != "churn":
            raise SystemExit(f"lineal resolved churn@prod to {answer}")
    else:
        import mlflow
        from mlflow.tracking import MlflowClient

        mlflow.set_tracking_uri(url)
        experiment = mlflow.create_experiment(f"alias-{time.time_ns()}")
        with mlflow.start_run(experiment_id=experiment) as active:
            mlflow.log_artifact(str(model), artifact_path="model")
        client = MlflowClient()
        client.create_registered_model("churn")
        version = client.create_model_version("churn", f"{active.info.artifact_uri}/model",
                                              run_id=active.info.run_id)
        client.set_registered_model_alias("churn", "prod", version.version)
        request = httpx.Request("GET", url + "/api/2.0/mlflow/registered-models/alias",
                                params={"name": "churn", "alias": "prod"})
        answer = httpx.get(str(request.url)).json()
        if str(answer.get("model_version", {}).get("version")) != "1":
            raise SystemExit(f"MLflow resolved churn@prod to {answer}")
    return {"target": request.url.raw_path.decode("ascii")}


def worker_load(port: int, target: str, connections: int, warmup: float,
                duration: float) -> dict[str, Any]:
    """Keep ``connections`` keep-alive HTTP/1.1 connections busy with ``GET target`` for
    ``warmup + duration`` seconds; count and time the requests that started after the
    warm-up and finished within the duration. A minimal client on asyncio streams (uvloop if
    installed), so that the load generator spends little of the two cores the server needs."""
    import asyncio

    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    request = (f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "Accept: application/json\r\n\r\n").encode("ascii")
    latencies: list[float] = []
    failures: dict[str, int] = {}

    async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        return status, headers.get("connection", "").lower() == "close"

    async def connection(measure_from: float, stop: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while True:
            began = time.perf_counter()
            if began >= stop:
                break
            writer.write(request)
            status, close = await read_answer(reader)
            ended = time.perf_counter()
            if began >= measure_from and ended <= stop:
                if status == 200:
                    latencies.append(ended - began)
                else:
                    failures[str(status)] = failures.get(str(status), 0) + 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()

    async def main() -> None:
        now = time.perf_counter()
        measure_from, stop = now + warmup, now + warmup + duration
        await asyncio.gather(*(connection(measure_from, stop) for _ in range(connections)))

    asyncio.run(main())
    latencies.sort()
    count = len(latencies)
    if count == 0:
        raise SystemExit(f"no successful request in {duration} s; failures {failures}")

    def pct(p: float) -> float:
        return latencies[min(count - 1, int(p * count))]

    return {"requests": count, "rps": count / duration, "p50": pct(0.50), "p99": pct(0.99),
            "max": latencies[-1], "failures": failures, "loop": loop_name}


def worker_upload(tool: str, url: str, source: Path, folder: Path) -> dict[str, Any]:
    """Upload ``source``, then download it into ``folder``; the two timings, each ending when
    the call returns (lineal's download is fsynced and checked against the digest). The
    download's bytes are compared with the source's, outside the clock."""
    dest = folder / "downloaded"
    if tool == "lineal":
        from lineal.store import open_store

        blobs = open_store(url).blobs
        digest = "sha256:" + _sha256(source)
        if blobs.exists(digest):  # a previous repeat's upload: send the bytes again
            blobs.delete(digest)
        began = time.perf_counter()
        info = blobs.put_file(source)
        up = time.perf_counter() - began
        if not info.created:
            raise SystemExit("lineal: the server already held the bytes; nothing was sent")
        began = time.perf_counter()
        blobs.get_file(info.digest, dest)
        down = time.perf_counter() - began
    else:
        import mlflow

        mlflow.set_tracking_uri(url)
        experiment = mlflow.create_experiment(f"transfer-{time.time_ns()}")
        with mlflow.start_run(experiment_id=experiment) as active:
            began = time.perf_counter()
            mlflow.log_artifact(str(source))
            up = time.perf_counter() - began
        began = time.perf_counter()
        got = mlflow.artifacts.download_artifacts(run_id=active.info.run_id,
                                                  artifact_path=source.name, dst_path=str(folder))
        down = time.perf_counter() - began
        dest = Path(got)
    if dest.stat().st_size != source.stat().st_size or _sha256(dest) != _sha256(source):
        raise SystemExit(f"{tool}: the downloaded bytes differ from the uploaded ones")
    dest.unlink()
    return {"upload": up, "download": down, "bytes": source.stat().st_size}


def _sha256(path: Path) -> str:
    import hashlib

    sha = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(4 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def worker_socket_copy(source: Path, folder: Path) -> dict[str, Any]:
    """The plain loopback copy: a sender thread ``sendfile``s ``source`` over a TCP connection
    on 127.0.0.1, this thread receives it into a file on the same disk and fsyncs it."""
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def send() -> None:
        with socket.create_connection(("127.0.0.1", port)) as conn, open(source, "rb") as src:
            conn.sendfile(src)

    dest = folder / "received"
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    began = time.perf_counter()
    sender = threading.Thread(target=send)
    sender.start()
    conn, _ = listener.accept()
    with conn, open(dest, "wb") as out:
        while count := conn.recv_into(buffer):
            out.write(view[:count])
        out.flush()
        os.fsync(out.fileno())
    seconds = time.perf_counter() - began
    sender.join()
    listener.close()
    size = dest.stat().st_size
    dest.unlink()
    if size != source.stat().st_size:
        raise SystemExit(f"socket copy received {size} bytes")
    return {"seconds": seconds}


def worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_server.py worker")
    parser.add_argument("case", choices=["setup-metrics", "log", "setup-alias", "load",
                                         "upload", "socket-copy"])
    parser.add_argument("--tool", default="lineal")
    parser.add_argument("--url", default="")
    parser.add_argument("--n", type=int, default=0)
    parser.add_argument("--experiment", default="")
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--target", default="")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.case == "setup-metrics":
        result = worker_setup_metrics(args.tool, args.url)
    elif args.case == "log":
        result = worker_log(args.tool, args.url, args.n, args.experiment)
    elif args.case == "setup-alias":
        result = worker_setup_alias(args.tool, args.url, args.dir)
    elif args.case == "load":
        result = worker_load(args.port, args.target, args.connections, args.warmup,
                             args.duration)
    elif args.case == "upload":
        result = worker_upload(args.tool, args.url, args.file, args.dir)
    else:
        result = worker_socket_copy(args.file, args.dir)
    print(json.dumps(result), flush=True)


# ============================================================================================
# Orchestration: runs in any interpreter; starts the servers, spawns the workers, reports.
# ============================================================================================
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """One server process on loopback, on a fresh store in ``folder``."""

    def __init__(self, tool: str, python: str, folder: Path, workers: int) -> None:
        self.tool = tool
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"{tool}-server.log"
        if tool == "lineal":
            command = [python, "-m", "lineal.cli", "server", "--host", "127.0.0.1",
                       "--port", str(self.port), "--workers", str(workers),
                       "--backend", str(folder / "lineal"), "--no-webhooks",
                       "--log-level", "warning"]
            self.health = "/healthz"
        else:
            command = [python, "-m", "mlflow", "server", "--host", "127.0.0.1",
                       "--port", str(self.port), "--workers", str(workers),
                       "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
                       "--artifacts-destination", str(folder / "mlartifacts"),
                       "--serve-artifacts"]
            self.health = "/health"
        self.command = command
        env = {**os.environ, **WORKER_ENV}
        env.pop("LINEAL_URI", None)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, cwd=folder, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.tool} server exited ({self.process.returncode}):\n"
                                   + self.tail())
            try:
                with urllib.request.urlopen(self.url + self.health, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.tool} server not ready in {timeout:.0f} s:\n{self.tail()}")

    def tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-25:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@contextmanager
def servers(tools: list[str], python: str, folder: Path, workers: int) -> Iterator[dict[str, Server]]:
    started: dict[str, Server] = {}
    try:
        for tool in tools:
            progress(f"starting {tool} server")
            started[tool] = Server(tool, python, folder, workers)
        yield started
    finally:
        for server in started.values():
            server.stop()


class Bench:
    def __init__(self, args: argparse.Namespace, sizes: dict[str, Any], repeat: int) -> None:
        self.python = args.python
        self.sizes = sizes
        self.repeat = repeat
        self.peers = not args.lineal_only
        self.workers = args.workers
        self.raw: dict[str, Any] = {}
        self.loads: list[float] = []

    @property
    def server_tools(self) -> list[str]:
        return ["lineal", "mlflow"] if self.peers else ["lineal"]

    def worker(self, args: list[str], timeout: float = 3600) -> dict[str, Any]:
        return run_worker(self.python, SCRIPT, ["worker", *args], env=WORKER_ENV,
                          timeout=timeout)

    def order(self, tools: list[str], index: int) -> list[str]:
        """Each repeat measures every tool once; the first one rotates (shared machine drift)."""
        shift = index % len(tools)
        return [*tools[shift:], *tools[:shift]]

    # -- metrics -------------------------------------------------------------------------------
    def metrics(self, running: dict[str, Server]) -> tuple[Table, dict[str, float]]:
        counts = {"lineal": self.sizes["points"]}
        if self.peers:
            counts["mlflow-loop"] = self.sizes["mlflow_loop_points"]
            counts["mlflow-batch"] = self.sizes["mlflow_batch_points"]
        samples: dict[str, list[dict[str, Any]]] = {tool: [] for tool in counts}
        for index in range(self.repeat):
            for tool in self.order(list(counts), index):
                server = running["lineal" if tool == "lineal" else "mlflow"]
                sync_disks()
                self.loads.append(os.getloadavg()[0])
                sample = self._clients(tool, server.url, counts[tool])
                progress(f"metrics {tool}: {sample['rate']:,.0f} points/s "
                         f"({sample['points']} points in {sample['seconds']:.2f} s)")
                samples[tool].append(sample)
        self.raw["metrics"] = samples
        rates = {tool: median([s["rate"] for s in samples[tool]]) for tool in counts}
        label = {
            "lineal": "lineal `run.log_metric` loop (background writer, batches to "
                      "`POST /runs/{id}/batch`)",
            "mlflow-loop": "MLflow `mlflow.log_metric` loop (one request per point)",
            "mlflow-batch": f"MLflow `MlflowClient.log_batch`, {METRIC_BATCH:,} points per call",
        }
        table = Table(f"Metric points per second, {CLIENTS} concurrent client processes",
                      ["client", "points per process", "wall time", "points/s",
                       "lineal is x faster"])
        for tool in counts:
            times = [s["seconds"] for s in samples[tool]]
            speed = "" if tool == "lineal" else f"{rates['lineal'] / rates[tool]:,.0f}x"
            table.rows.append([label[tool], f"{counts[tool]:,}",
                               f"{fmt_seconds(median(times))} ({fmt_seconds(min(times))}–"
                               f"{fmt_seconds(max(times))})",
                               fmt_rate(rates[tool], "points"), speed])
        table.notes.append(
            f"Each of the {CLIENTS} processes imports its SDK and connects first, then all start "
            "together; the clock runs from the first process starting its run to the last one "
            "ending its run (every point written), and rate = all points / that wall time. Each "
            "process then checks that the server holds all its points. MLflow per call is timed "
            "on fewer points per process (the rate, not the count, is compared)."
        )
        return table, rates

    def _clients(self, tool: str, url: str, n: int) -> dict[str, Any]:
        experiment = ""
        if tool != "lineal":
            experiment = self.worker(["setup-metrics", "--tool", tool, "--url", url])["experiment"]
        command = [self.python, str(SCRIPT), "worker", "log", "--tool", tool, "--url", url,
                   "--n", str(n), "--experiment", experiment]
        env = {**os.environ, **WORKER_ENV}
        env.pop("LINEAL_URI", None)
        procs = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)
                 for _ in range(CLIENTS)]
        try:
            for proc in procs:
                assert proc.stdout is not None
                if proc.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"{tool} client failed before starting:\n"
                                       + (proc.stderr.read() if proc.stderr else "")[-3000:])
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            results = []
            for proc in procs:
                out, err = proc.communicate(timeout=3600)
                lines = out.strip().splitlines()
                if proc.returncode != 0 or not lines:
                    raise RuntimeError(f"{tool} client failed ({proc.returncode}):\n{err[-3000:]}")
                results.append(json.loads(lines[-1]))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
        points = sum(r["n"] for r in results)
        return {"seconds": seconds, "points": points, "rate": points / seconds}

    # -- alias ---------------------------------------------------------------------------------
    def alias(self, running: dict[str, Server], folder: Path) -> tuple[Table, dict[str, Any]]:
        targets = {}
        for tool in self.server_tools:
            server = running[tool]
            targets[tool] = self.worker(["setup-alias", "--tool", tool, "--url", server.url,
                                         "--dir", str(folder)])["target"]
        samples: dict[str, list[dict[str, Any]]] = {tool: [] for tool in self.server_tools}
        for index in range(self.repeat):
            for tool in self.order(self.server_tools, index):
                self.loads.append(os.getloadavg()[0])
                sample = self.worker([
                    "load", "--port", str(running[tool].port), "--target", targets[tool],
                    "--connections", str(CONNECTIONS), "--warmup", str(self.sizes["warmup"]),
                    "--duration", str(self.sizes["duration"])])
                progress(f"alias {tool}: {sample['rps']:,.0f} requests/s, "
                         f"p99 {sample['p99'] * 1e3:.1f} ms, failures {sample['failures']}")
                samples[tool].append(sample)
        self.raw["alias"] = {"targets": targets, "samples": samples}
        result = {tool: {"rps": median([s["rps"] for s in samples[tool]]),
                         "p50": median([s["p50"] for s in samples[tool]]),
                         "p99": median([s["p99"] for s in samples[tool]]),
                         "failures": sum(sum(s["failures"].values()) for s in samples[tool])}
                  for tool in self.server_tools}
        table = Table(f"Alias resolution, {CONNECTIONS} concurrent connections",
                      ["server", "request", "requests/s", "p50", "p99", "non-200 answers"])
        request = {"lineal": "`GET /api/v1/model-versions/resolve?ref=...`",
                   "mlflow": "`GET /api/2.0/mlflow/registered-models/alias?name=...&alias=...`"}
        for tool in self.server_tools:
            r = result[tool]
            table.rows.append([tool, request[tool], fmt_rate(r["rps"], "req"),
                               fmt_seconds(r["p50"]), fmt_seconds(r["p99"]), str(r["failures"])])
        loop = samples["lineal"][0]["loop"]
        table.notes.append(
            f"Load generator: one process of the bench virtualenv, {CONNECTIONS} keep-alive "
            f"HTTP/1.1 connections on a minimal client over {loop} streams, each sending the "
            f"next request as soon as the answer is read, for {self.sizes['warmup']:g} s of "
            f"warm-up then {self.sizes['duration']:g} s measured; it shares the two cores with "
            "the server, so both servers' rates are capped by it to some degree."
        )
        return table, result

    # -- transfer ------------------------------------------------------------------------------
    def transfer(self, running: dict[str, Server], folder: Path) -> tuple[Table, dict[str, Any]]:
        size = self.sizes["size"]
        source = folder / "artifact.bin"
        progress(f"writing {fmt_bytes(size)} of random bytes")
        with open(source, "wb") as out:
            left = size
            while left > 0:
                out.write(os.urandom(min(left, 16 << 20)))
                left -= min(left, 16 << 20)
        sync_disks()
        work = folder / "transfer"
        work.mkdir()
        tools = ["cp", "socket", *self.server_tools]
        samples: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
        try:
            for index in range(self.repeat):
                for tool in self.order(tools, index):
                    sync_disks()
                    self.loads.append(os.getloadavg()[0])
                    sample = self._transfer_one(tool, running, source, work)
                    progress(f"transfer {tool}: " + ", ".join(
                        f"{k} {size / v / MB:,.0f} MB/s" for k, v in sample.items()
                        if k in ("upload", "download", "seconds")))
                    samples[tool].append(sample)
                    sync_disks()
        finally:
            source.unlink(missing_ok=True)
        self.raw["transfer"] = {"bytes": size, "samples": samples}
        speed = {tool: {k: size / median([s[k] for s in samples[tool]]) / MB
                        for k in samples[tool][0] if k in ("upload", "download", "seconds")}
                 for tool in tools}
        base = speed["socket"]["seconds"]
        table = Table(f"Artifact transfer, {fmt_bytes(size)} of random bytes",
                      ["path", "MB/s", "% of loopback socket copy", "% of cp"])
        cp = speed["cp"]["seconds"]
        table.rows.append(["`cp` on the same disk (no fsync)", f"{cp:,.0f}", f"{100 * cp / base:.0f}%",
                           "100%"])
        table.rows.append(["loopback socket copy (`sendfile` → socket → file, fsync)",
                           f"{base:,.0f}", "100%", f"{100 * base / cp:.0f}%"])
        names = {"lineal": ("lineal upload (`HttpBlobStore.put_file`)",
                            "lineal download (`HttpBlobStore.get_file`)"),
                 "mlflow": ("MLflow upload (`mlflow.log_artifact`, `--serve-artifacts`)",
                            "MLflow download (`mlflow.artifacts.download_artifacts`)")}
        for tool in self.server_tools:
            for key, name in zip(("upload", "download"), names[tool], strict=True):
                value = speed[tool][key]
                table.rows.append([name, f"{value:,.0f}", f"{100 * value / base:.0f}%",
                                   f"{100 * value / cp:.0f}%"])
        table.notes.append(
            "MB = 10^6 bytes. The file is written once (random bytes, so nothing compresses) and "
            "stays in the page cache; `sync` runs before and after each measurement. lineal's "
            "upload of a large file hashes it on the client while sending it (`sendfile`), the "
            "server hashes it again while receiving it (one thread hashing, another writing "
            "into its blob folder's `tmp/`), fsyncs "
            "it and publishes it under that digest, and the client checks the two digests "
            "agree; its download is checked against the digest and fsynced before it returns. "
            "MLflow neither hashes nor fsyncs. Every download is "
            "compared with the source outside the clock; lineal's blob is deleted between "
            "repeats so that each upload sends the bytes."
        )
        return table, {"speed": speed, "base": base, "cp": cp}

    def _transfer_one(self, tool: str, running: dict[str, Server], source: Path,
                      work: Path) -> dict[str, Any]:
        if tool == "cp":
            dest = work / "copy"
            began = time.perf_counter()
            subprocess.run(["cp", str(source), str(dest)], check=True)
            seconds = time.perf_counter() - began
            dest.unlink()
            return {"seconds": seconds}
        if tool == "socket":
            return self.worker(["socket-copy", "--file", str(source), "--dir", str(work)])
        return self.worker(["upload", "--tool", tool, "--url", running[tool].url,
                            "--file", str(source), "--dir", str(work)])


METHOD = """\
Both servers run on 127.0.0.1 from the bench virtualenv, each with `--workers {workers}` (the
machine's core count; the same for both), on a fresh store in a scratch folder under
`bench/results/` (same disk as the repository), started once for the whole run:

- `lineal server --backend <folder> --no-webhooks`: lineal's embedded store folder, i.e. a
  SQLite database in WAL mode with `synchronous=FULL` (lineal's default: every commit is
  fsynced) and a content-addressed blob folder (each blob fsynced); authentication off.
- `mlflow server --backend-store-uri sqlite:///<folder>/mlflow.db --artifacts-destination
  <folder>/mlartifacts --serve-artifacts`: MLflow's SQLite store as SQLAlchemy opens it
  (rollback journal, SQLite's default `synchronous=FULL`) and its proxied local artifact
  folder (artifact files are not fsynced).

Clients and the load generator are fresh processes of the same virtualenv. Within each repeat
every tool is measured once and the tool that goes first rotates; the tables give medians
(min–max where shown).
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        worker_main(argv[1:])
        return 0

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--cases", default="metrics,alias,transfer",
                            help="comma-separated subset of metrics, alias, transfer")
        parser.add_argument("--size", type=int, default=None,
                            help="bytes of the transfer artifact (default 1 GiB; quick 64 MiB)")
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                            help="worker processes of each server (default: the core count)")

    args = arguments(__doc__.splitlines()[0], argv, configure)
    sizes = dict(TINY if args.tiny else QUICK if args.quick else FULL)
    if args.size is not None:
        if args.size < 1:
            raise SystemExit("--size must be at least 1 byte")
        sizes["size"] = args.size
    repeat = args.repeat or sizes["repeat"]
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - {"metrics", "alias", "transfer"}
    if unknown:
        raise SystemExit(f"unknown case(s) {', '.join(sorted(unknown))}")
    bench = Bench(args, sizes, repeat)
    report = Report(name="server", title="Server: `lineal server` vs `mlflow server` on loopback",
                    method=METHOD.format(workers=args.workers), quick=args.quick or args.tiny,
                    repeat=repeat)
    targets: list[Target] = []
    with scratch_dir("server-") as folder, \
            servers(bench.server_tools, args.python, folder, args.workers) as running:
        if "metrics" in cases:
            table, rates = bench.metrics(running)
            report.tables.append(table)
            for peer, how in (("mlflow-loop", "`mlflow.log_metric`"),
                              ("mlflow-batch", "`MlflowClient.log_batch`")):
                if peer in rates:
                    factor = rates["lineal"] / rates[peer]
                    targets.append(Target(f"metric logging ≥ 50x MLflow ({how})",
                                          f"{factor:,.0f}x", factor >= 50))
            if not bench.peers:
                targets.append(Target("metric logging ≥ 50x MLflow",
                                      fmt_rate(rates["lineal"], "points"), None))
        if "alias" in cases:
            table, result = bench.alias(running, folder)
            report.tables.append(table)
            if bench.peers:
                factor = result["lineal"]["rps"] / result["mlflow"]["rps"]
                targets.append(Target(
                    "alias resolution ≥ 3x MLflow (requests/s)",
                    f"{factor:.1f}x (p99 {fmt_seconds(result['lineal']['p99'])} vs "
                    f"{fmt_seconds(result['mlflow']['p99'])})", factor >= 3))
        if "transfer" in cases:
            table, moved = bench.transfer(running, folder)
            report.tables.append(table)
            for key in ("upload", "download"):
                share = moved["speed"]["lineal"][key] / moved["base"]
                targets.append(Target(
                    f"lineal {key} ≥ 70% of a plain loopback copy",
                    f"{100 * share:.0f}% of the socket copy "
                    f"({100 * moved['speed']['lineal'][key] / moved['cp']:.0f}% of `cp`)",
                    share >= 0.70))
    if bench.loads:
        report.notes.append(
            f"The machine is shared ({os.cpu_count()} cores; other helpers' builds and tests may "
            f"run alongside): the 1-minute load average before each measurement was "
            f"{median(bench.loads):.1f} (median), {max(bench.loads):.1f} (max). Hence medians "
            "and ranges; treat single numbers as ±20%."
        )
    report.targets = targets
    report.raw = bench.raw
    report.versions = _versions(args.python, bench.peers)
    report.write(args.json)
    progress(f"wrote {args.json}")
    return 0


def _versions(python: str, peers: bool) -> dict[str, str]:
    names = ("lineal", "mlflow", "uvicorn", "fastapi", "SQLAlchemy") if peers else \
        ("lineal", "uvicorn", "fastapi", "SQLAlchemy")
    script = (
        "import importlib.metadata as m, json, sqlite3\n"
        "out = {'SQLite': sqlite3.sqlite_version}\n"
        f"for n in {names!r}:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([python, "-c", script], capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


if __name__ == "__main__":
    sys.exit(main())
