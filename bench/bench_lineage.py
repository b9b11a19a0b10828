"""Lineage benchmark: lineal against Google's ML Metadata (MLMD 1.17.1), both on SQLite.

    python bench/bench_lineage.py --json bench/results/lineage.json [--quick] [--repeat N]

Issue 5, section 8. Generated stores of 10 thousand, 100 thousand and 1 million nodes (runs plus
artifact versions), each holding:

- a deep chain: a dataset, then 1,000 steps, each a run that consumes the previous artifact
  and produces the next one; the last is a model (2,001 nodes);
- wide fan-outs: a hub dataset consumed by K runs, each producing one artifact, for K = 50, 500,
  5,000 and 10,000 (2K downstream nodes: 100 ... 20,000), as many as fit in the store;
- filler: small pipelines (raw -> clean -> features -> train -> evaluate, nine nodes) that also
  read shared lookup and test datasets, up to the store's size.

Measured, for each store size and each tool, in fresh worker processes of the bench virtualenv:

- the bulk load rate (nodes + edges per second): lineal's ``store.metadata.import_lineage``
  with batches of about 20,000 nodes; MLMD's ``put_artifacts`` / ``put_executions`` /
  ``put_events`` with the same batches;
- p50 and p99 latency of the upstream closure of the chain's model at depth 10, 100 and in full
  (2,000 hops), and of the downstream impact of each hub dataset. MLMD answers with
  ``get_lineage_subgraph`` (``max_num_hops`` <= 100, its limit, so the full chain is out of its
  reach).

Generated stores are cached under ``.bench-cache/lineage/`` keyed by the generator's parameters
and the store's schema (the 1M stores take minutes to build); ``--rebuild`` ignores the cache.
The load rates shown are those measured when each store was built, with the date.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402  (the bench folder is not a package)
    REPO,
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
    sync_disks,
)

SCRIPT = Path(__file__).resolve()
CACHE = REPO / ".bench-cache" / "lineage"
GENERATOR = 1  # bump when the generated graph changes: cached stores are then rebuilt
BATCH_NODES = 20_000
POOL = 10  # shared lookup and test datasets per batch


@dataclass(frozen=True)
class Shape:
    """What one generated store holds."""

    nodes: int
    chain_steps: int
    hubs: tuple[int, ...]
    unique_names: bool = False
    """Every artifact version gets a name of its own (v1 of a new name), instead of new
    versions of a few thousand names: isolates the cost of advancing existing names."""

    @property
    def label(self) -> str:
        n = self.nodes
        return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
            f"{n // 1000}k" if n % 1000 == 0 else str(n))

    def key(self) -> str:
        unique = "-u" if self.unique_names else ""
        return f"g{GENERATOR}-n{self.nodes}-c{self.chain_steps}-h{'.'.join(map(str, self.hubs))}{unique}"


def _fit(nodes: int, chain: int, hubs: tuple[int, ...]) -> Shape:
    """The hubs that fit in ``nodes`` with the chain, leaving room for filler."""
    room = int(nodes * 0.8) - (2 * chain + 1)
    kept = []
    for k in hubs:
        if 2 * k + 1 <= room:
            kept.append(k)
            room -= 2 * k + 1
    return Shape(nodes, chain, tuple(kept))


HUBS = (50, 500, 5_000, 10_000)
TIERS = {
    "full": [_fit(n, 1_000, HUBS) for n in (10_000, 100_000, 1_000_000)],
    "quick": [_fit(n, 200, HUBS[:3]) for n in (5_000, 30_000)],
    "tiny": [_fit(1_000, 50, (20,))],
}
DEPTHS = {"full": (10, 100), "quick": (10, 100), "tiny": (10,)}
MLMD_MAX_HOPS = 100


# ============================================================================================
# The generated graph, tool-neutral: batches of artifacts, runs and edges, keyed by strings.
# Every edge of a batch references keys of that same batch, so each batch loads on its own.
# ============================================================================================
@dataclass
class Batch:
    artifacts: list[tuple[str, str, str]] = field(default_factory=list)  # key, name, kind
    runs: list[tuple[str, str, str]] = field(default_factory=list)  # key, name, kind
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)  # run, art, dir, role

    @property
    def nodes(self) -> int:
        return len(self.artifacts) + len(self.runs)


def generate(shape: Shape) -> Iterator[tuple[Batch, dict[str, str]]]:
    """The batches of a store, and for each the keys of the nodes the queries start from."""
    batch, marks = Batch(), {}
    total = 0

    def art(key: str, name: str, kind: str = "dataset") -> str:
        batch.artifacts.append((key, key if shape.unique_names else name, kind))
        return key

    def run(key: str, name: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> None:
        batch.runs.append((key, name, name))
        batch.edges.extend((key, a, "input", role) for a, role in inputs)
        batch.edges.extend((key, a, "output", role) for a, role in outputs)

    # The deep chain: data -> step-1 -> stage v1 -> ... -> step-N -> model.
    previous = art("chain-0", "chain-data")
    for step in range(1, shape.chain_steps + 1):
        last = step == shape.chain_steps
        current = art(f"chain-{step}", "chain-model" if last else "chain-stage",
                      "model" if last else "dataset")
        run(f"chain-run-{step}", "chain-step", [(previous, "data")], [(current, "model" if last else "data")])
        previous = current
    marks["chain_model"] = previous
    # Wide fan-outs: one dataset used by K runs, each producing one artifact. A hub stays in one
    # batch (batches may grow to twice the usual size), so that every edge is batch-local.
    for k in shape.hubs:
        hub = art(f"hub-{k}", f"hub-{k}")
        marks[f"hub_{k}"] = hub
        for j in range(k):
            out = art(f"hub-{k}-out-{j}", f"hub-{k}-scores", "evaluation")
            run(f"hub-{k}-run-{j}", "score", [(hub, "data")], [(out, "scores")])
        if batch.nodes >= BATCH_NODES:
            total += batch.nodes
            yield batch, marks
            batch, marks = Batch(), {}
    # Filler pipelines over a pool of shared datasets per batch.
    pipeline = 0
    pool_of: dict[int, list[str]] = {}
    batch_no = 0
    while total + batch.nodes < shape.nodes:
        if batch_no not in pool_of:
            pool_of[batch_no] = [
                art(f"b{batch_no}-lookup-{i}", f"lookup-{i % POOL}") for i in range(POOL)
            ] + [art(f"b{batch_no}-test-{i}", f"testset-{i % POOL}") for i in range(POOL)]
        pool = pool_of[batch_no]
        p, name = pipeline, f"p{pipeline % 500}"
        raw = art(f"p{p}-raw", f"{name}-raw")
        clean = art(f"p{p}-clean", f"{name}-clean")
        feats = art(f"p{p}-features", f"{name}-features")
        model = art(f"p{p}-model", f"{name}-model", "model")
        report = art(f"p{p}-report", f"{name}-report", "evaluation")
        run(f"p{p}-r1", "clean", [(raw, "data")], [(clean, "data")])
        run(f"p{p}-r2", "features", [(clean, "data"), (pool[p % POOL], "lookup")], [(feats, "data")])
        run(f"p{p}-r3", "train", [(feats, "train")], [(model, "model")])
        run(f"p{p}-r4", "evaluate", [(model, "model"), (pool[POOL + p % POOL], "test")],
            [(report, "report")])
        pipeline += 1
        if batch.nodes >= BATCH_NODES:
            total += batch.nodes
            yield batch, marks
            batch, marks = Batch(), {}
            batch_no += 1
    if batch.nodes:
        yield batch, marks


# ============================================================================================
# Workers: run in a fresh process of the bench virtualenv; print one JSON line.
# ============================================================================================
def _digest(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def build_lineal(shape: Shape, folder: Path) -> dict[str, Any]:
    """Generate the store with ``import_lineage``; the clock covers the import calls only."""
    from lineal.store import open_store
    from lineal.store.lineage_base import ImportArtifact, ImportBatch, ImportEdge, ImportRun

    store = open_store(folder / "lineal")
    ids: dict[str, str] = {}
    seconds, items, nodes, edges = 0.0, 0, 0, 0
    ts = 1_700_000_000_000_000
    for batch, marks in generate(shape):
        arts = [
            ImportArtifact(key=k, project="bench", name=name, kind=kind, digest=_digest(k),
                           uri=f"s3://bench/{k}", size=1024, created_at_us=ts + i)
            for i, (k, name, kind) in enumerate(batch.artifacts)
        ]
        runs = [
            ImportRun(key=k, project="bench", name=name, kind=kind, status="finished",
                      started_at_us=ts + i, ended_at_us=ts + i + 1)
            for i, (k, name, kind) in enumerate(batch.runs)
        ]
        links = [ImportEdge(run=r, artifact=a, direction=d, role=role) for r, a, d, role in batch.edges]
        bulk = ImportBatch(runs=runs, artifacts=arts, edges=links)
        start = time.perf_counter()
        got = store.metadata.import_lineage(bulk, "bench")
        seconds += time.perf_counter() - start
        ids.update({name: got[key] for name, key in marks.items()})
        items += bulk.size
        nodes += batch.nodes
        edges += len(batch.edges)
        ts += 1_000_000
        progress(f"lineal {shape.label}: {nodes:,} nodes, {items / seconds:,.0f} items/s")
    return {"seconds": seconds, "items": items, "nodes": nodes, "edges": edges, "ids": ids}


def _mlmd_store(path: Path) -> Any:
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def build_mlmd(shape: Shape, folder: Path) -> dict[str, Any]:
    """Generate the store with MLMD's batched puts; the clock covers the put calls only."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    store = _mlmd_store(folder / "mlmd.sqlite")
    art_types: dict[str, int] = {}
    run_types: dict[str, int] = {}
    ids: dict[str, int] = {}
    seconds, items, nodes, edges = 0.0, 0, 0, 0
    for batch, marks in generate(shape):
        for kind in {kind for _k, _n, kind in batch.artifacts} - set(art_types):
            art_types[kind] = store.put_artifact_type(pb.ArtifactType(name=kind))
        for kind in {kind for _k, _n, kind in batch.runs} - set(run_types):
            run_types[kind] = store.put_execution_type(pb.ExecutionType(name=kind))
        arts = [pb.Artifact(type_id=art_types[kind], name=k, uri=f"s3://bench/{k}",
                            state=pb.Artifact.LIVE) for k, _name, kind in batch.artifacts]
        runs = [pb.Execution(type_id=run_types[kind], name=k,
                             last_known_state=pb.Execution.COMPLETE) for k, _name, kind in batch.runs]
        start = time.perf_counter()
        art_ids = store.put_artifacts(arts)
        run_ids = store.put_executions(runs)
        local = dict(zip((k for k, _n, _t in batch.artifacts), art_ids, strict=True))
        local.update(zip((k for k, _n, _t in batch.runs), run_ids, strict=True))
        events = [
            pb.Event(artifact_id=local[a], execution_id=local[r],
                     type=pb.Event.INPUT if d == "input" else pb.Event.OUTPUT)
            for r, a, d, _role in batch.edges
        ]
        store.put_events(events)
        seconds += time.perf_counter() - start
        ids.update({name: local[key] for name, key in marks.items()})
        items += batch.nodes + len(events)
        nodes += batch.nodes
        edges += len(events)
        progress(f"mlmd {shape.label}: {nodes:,} nodes, {items / seconds:,.0f} items/s")
    return {"seconds": seconds, "items": items, "nodes": nodes, "edges": edges, "ids": ids}


def _sample(call: Callable[[], int], count: int, budget: float) -> tuple[list[float], list[float], int]:
    """Latencies of ``call`` (after two warm-up calls), up to ``count`` or ``budget`` seconds,
    and the CPU time of each call (on a shared machine, less noisy than the latency)."""
    result = call()
    call()
    times: list[float] = []
    cpu: list[float] = []
    spent = 0.0
    while len(times) < count and (spent < budget or len(times) < 5):
        start, start_cpu = time.perf_counter(), time.process_time()
        got = call()
        elapsed = time.perf_counter() - start
        cpu.append(time.process_time() - start_cpu)
        if got != result:
            raise SystemExit(f"the same query returned {got} nodes, then {result}")
        times.append(elapsed)
        spent += elapsed
    return times, cpu, result


def _lineal_calls(folder: Path) -> tuple[dict[str, Any], str]:
    """Query functions over lineal's store: the SDK when it is there, else the store contract."""
    from lineal.entities import Direction, NodeType
    from lineal.store import open_store
    from lineal.store.lineage_base import ClosureQuery

    store = open_store(folder / "lineal")
    md = store.metadata
    try:
        from lineal.lineage import api  # noqa: F401
    except ImportError:
        api = None
    if api is not None and hasattr(api, "upstream") and hasattr(api, "impact"):
        def ref(version_id: str) -> str:
            node = md.lineage_node(version_id, NodeType.ARTIFACT)
            return node.ref

        def up(version_id: str, depth: int | None) -> Callable[[], int]:
            target = ref(version_id)
            return lambda: len(api.upstream(target, depth=depth, limit=None, store=store).nodes)

        def down(version_id: str) -> Callable[[], int]:
            target = ref(version_id)
            return lambda: len(api.downstream(target, limit=None, store=store).nodes)

        def impact(version_id: str) -> Callable[[], int]:
            target = ref(version_id)
            return lambda: _impact_size(api.impact(target, store=store))

        return {"up": up, "down": down, "impact": impact}, (
            "SDK (`lineal.lineage.upstream`, `downstream`, `impact`, given a reference such as "
            "`bench/chain-model@v1`)")

    def closure(version_id: str, direction: Direction, depth: int | None) -> int:
        start = md.lineage_node(version_id, NodeType.ARTIFACT)
        return len(md.lineage_closure(start, direction, ClosureQuery(max_depth=depth, limit=None)).nodes)

    return {
        "up": lambda v, d: lambda: closure(v, Direction.UP, d),
        "down": lambda v: lambda: closure(v, Direction.DOWN, None),
    }, "store contract `store.metadata.lineage_closure` (the SDK was not there yet)"


def _impact_size(report: Any) -> int:
    """Nodes in an impact report: the items (each with its path) and the runs between them."""
    return len(report.items) + int(report.runs)


def _mlmd_calls(folder: Path) -> dict[str, Any]:
    from ml_metadata.proto import metadata_store_pb2 as pb

    store = _mlmd_store(folder / "mlmd.sqlite")
    options = pb.LineageSubgraphQueryOptions

    def walk(artifact_id: int, direction: Any, hops: int) -> int:
        query = options(
            starting_artifacts=options.StartingNodes(filter_query=f"id = {artifact_id}"),
            max_num_hops=hops, direction=direction,
        )
        graph = store.get_lineage_subgraph(query, ["artifacts", "executions", "events"])
        return len(graph.artifacts) + len(graph.executions) - 1  # without the start node

    return {
        "up": lambda v, d: lambda: walk(int(v), options.UPSTREAM, d),
        "down": lambda v: lambda: walk(int(v), options.DOWNSTREAM, MLMD_MAX_HOPS),
    }


def worker_query(tool: str, folder: Path, plan: list[dict[str, Any]], budget: float) -> dict[str, Any]:
    """Time each query of ``plan`` (``{"name", "kind": up|down|impact, "start", "depth"}``)."""
    if tool == "lineal":
        calls, how = _lineal_calls(folder)
    else:
        calls, how = _mlmd_calls(folder), "`get_lineage_subgraph`"
    out: dict[str, Any] = {"how": how, "queries": {}}
    for item in plan:
        kind = item["kind"]
        if kind not in calls:
            continue
        call = calls[kind](item["start"], item["depth"]) if kind == "up" else calls[kind](item["start"])
        times, cpu, size = _sample(call, item.get("count", 50), budget)
        out["queries"][item["name"]] = {"times": times, "cpu": cpu, "nodes": size}
    return out


def worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_lineage.py worker")
    parser.add_argument("case", choices=["build", "query"])
    parser.add_argument("--tool", choices=["lineal", "mlmd"], required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--shape", help="JSON of a Shape (build)")
    parser.add_argument("--plan", help="JSON list of queries (query)")
    parser.add_argument("--budget", type=float, default=10.0)
    args = parser.parse_args(argv)
    if args.case == "build":
        shape = Shape(**{**json.loads(args.shape), "hubs": tuple(json.loads(args.shape)["hubs"])})
        builder = build_lineal if args.tool == "lineal" else build_mlmd
        result = builder(shape, args.dir)
    else:
        result = worker_query(args.tool, args.dir, json.loads(args.plan), args.budget)
    print(json.dumps(result))


# ============================================================================================
# Orchestration: runs in any interpreter; spawns the workers and builds the report.
# ============================================================================================
def _schema_key() -> str:
    """The lineal schema the cached stores were made with: its migrations' file names."""
    versions = REPO / "src" / "lineal" / "store" / "sql" / "migrations" / "versions"
    names = sorted(p.name for p in versions.glob("*.py"))
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:10]


def _size_on_disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class Bench:
    def __init__(self, python: str, cache: Path, rebuild: bool, tools: list[str]) -> None:
        self.python, self.cache, self.rebuild, self.tools = python, cache, rebuild, tools
        self.loads: list[float] = []

    def store(self, tool: str, shape: Shape) -> tuple[Path, dict[str, Any]]:
        """The cached store of ``shape`` for ``tool``, built first if missing."""
        tag = _schema_key() if tool == "lineal" else "mlmd-1.17.1"
        folder = self.cache / f"{tool}-{shape.key()}-{tag}"
        meta_path = folder / "meta.json"
        if meta_path.exists() and not self.rebuild:
            return folder, json.loads(meta_path.read_text())
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        progress(f"building the {shape.label} store for {tool} in {folder}")
        sync_disks()  # the previous store's writes must not be flushed during this build
        self.loads.append(os.getloadavg()[0])
        shape_json = json.dumps({"nodes": shape.nodes, "chain_steps": shape.chain_steps,
                                 "hubs": list(shape.hubs), "unique_names": shape.unique_names})
        try:
            meta = run_worker(self.python, SCRIPT, ["worker", "build", "--tool", tool,
                                                    "--dir", str(folder), "--shape", shape_json],
                              cwd=REPO, timeout=4 * 3600, stream=True)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        meta["built_at"] = time.strftime("%Y-%m-%d %H:%M %Z")
        meta["bytes"] = _size_on_disk(folder)
        meta["load"] = self.loads[-1]
        meta_path.write_text(json.dumps(meta))
        return folder, meta

    def query(self, tool: str, folder: Path, plan: list[dict[str, Any]], budget: float) -> dict[str, Any]:
        self.loads.append(os.getloadavg()[0])
        return run_worker(self.python, SCRIPT, ["worker", "query", "--tool", tool, "--dir",
                                                str(folder), "--plan", json.dumps(plan),
                                                "--budget", str(budget)], cwd=REPO)


def _plan(shape: Shape, ids: dict[str, Any], depths: tuple[int, ...]) -> list[dict[str, Any]]:
    plan = [{"name": f"up-{d}", "kind": "up", "start": ids["chain_model"], "depth": d, "count": 100}
            for d in depths if d < 2 * shape.chain_steps]
    plan.append({"name": "up-full", "kind": "up", "start": ids["chain_model"], "depth": None,
                 "count": 30})
    for k in shape.hubs:
        for kind in ("down", "impact"):
            plan.append({"name": f"{kind}-{k}", "kind": kind, "start": ids[f"hub_{k}"],
                         "depth": None, "count": 100 if k <= 500 else 30})
    return plan


def _pct(times: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of the latencies."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def _cell(sample: dict[str, Any] | None) -> tuple[str, str]:
    if not sample:
        return "—", "—"
    return fmt_seconds(_pct(sample["times"], 0.5)), fmt_seconds(_pct(sample["times"], 0.99))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        worker_main(argv[1:])
        return 0

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--cache", type=Path, default=CACHE,
                            help=f"where generated stores are kept (default {CACHE.relative_to(REPO)})")
        parser.add_argument("--rebuild", action="store_true", help="rebuild cached stores")
        parser.add_argument("--sizes", help="comma-separated node counts of the stores (default: "
                            "10000,100000,1000000; --quick 5000,30000)")

    args = arguments(__doc__.splitlines()[0], argv, configure)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    shapes = TIERS[mode]
    if args.sizes:
        wanted = {int(s) for s in args.sizes.split(",")}
        known = {s.nodes: s for s in shapes}
        shapes = [known.get(n) or _fit(n, shapes[0].chain_steps, HUBS) for n in sorted(wanted)]
    repeat = args.repeat or (1 if mode != "full" else 2)
    budget = {"tiny": 0.5, "quick": 3.0, "full": 6.0}[mode]
    tools = ["lineal"] if args.lineal_only else ["lineal", "mlmd"]
    bench = Bench(args.python, args.cache, args.rebuild, tools)
    built: dict[tuple[str, int], dict[str, Any]] = {}
    samples: dict[tuple[str, int, str], dict[str, Any]] = {}
    how: dict[str, str] = {}
    for shape in shapes:
        folders = {}
        for tool in tools:
            folders[tool], built[(tool, shape.nodes)] = bench.store(tool, shape)
        for index in range(repeat):
            order = tools if index % 2 == 0 else tools[::-1]
            for tool in order:
                progress(f"{shape.label}: {tool} queries, round {index + 1} of {repeat}")
                plan = _plan(shape, built[(tool, shape.nodes)]["ids"], DEPTHS[mode])
                if tool == "mlmd":
                    plan = [p for p in plan if p["kind"] != "up" or p["depth"] is not None]
                got = bench.query(tool, folders[tool], plan, budget)
                how[tool] = got["how"]
                for name, result in got["queries"].items():
                    slot = samples.setdefault((tool, shape.nodes, name),
                                              {"times": [], "cpu": [], "nodes": result["nodes"]})
                    slot["times"] += result["times"]
                    slot["cpu"] += result.get("cpu", [])
    if len(shapes) > 1:
        # The same graph with every artifact under a new name: what the import costs when it
        # only appends, against the usual case of new versions of existing names.
        variant = replace(shapes[1], unique_names=True)
        _folder, built[("lineal-unique", variant.nodes)] = bench.store("lineal", variant)
    report = Report(name="lineage", title="Lineage: lineal vs MLMD 1.17.1 (SQLite)",
                    method=METHOD.format(lineal=how.get("lineal", "?")), quick=mode != "full",
                    repeat=repeat)
    report.tables, report.targets = _tables(shapes, tools, built, samples)
    if bench.loads:
        report.notes.append(
            f"The machine is shared: the 1-minute load average before each measurement was "
            f"{median(bench.loads):.1f} (median), {max(bench.loads):.1f} (max) on "
            f"{os.cpu_count()} cores."
        )
    report.raw = {
        "built": {f"{tool}-{n}": {k: v for k, v in meta.items() if k != "ids"}
                  for (tool, n), meta in built.items()},
        "samples": {f"{tool}-{n}-{name}": s for (tool, n, name), s in samples.items()},
    }
    report.versions = _versions(args.python)
    report.write(args.json)
    progress(f"wrote {args.json}")
    return 0


def _tables(
    shapes: list[Shape], tools: list[str], built: dict[tuple[str, int], dict[str, Any]],
    samples: dict[tuple[str, int, str], dict[str, Any]],
) -> tuple[list[Table], list[Target]]:
    peer = "mlmd" in tools
    load = Table("Bulk load (nodes + edges per second)",
                 ["store", "nodes", "edges", "lineal time", "lineal items/s", "lineal size"]
                 + (["MLMD time", "MLMD items/s", "MLMD size", "lineal ÷ MLMD"] if peer else []))
    targets: list[Target] = []
    rates = {}
    for shape in shapes:
        mine = built[("lineal", shape.nodes)]
        rate = mine["items"] / mine["seconds"]
        rates[shape.nodes] = rate
        row = [shape.label, f"{mine['nodes']:,}", f"{mine['edges']:,}", fmt_seconds(mine["seconds"]),
               fmt_rate(rate, "items"), fmt_bytes(mine["bytes"])]
        if peer:
            theirs = built[("mlmd", shape.nodes)]
            peer_rate = theirs["items"] / theirs["seconds"]
            row += [fmt_seconds(theirs["seconds"]), fmt_rate(peer_rate, "items"),
                    fmt_bytes(theirs["bytes"]), f"{rate / peer_rate:,.1f}x"]
        load.rows.append(row)
        unique = built.get(("lineal-unique", shape.nodes))
        if unique:
            load.rows.append([
                f"{shape.label}, every artifact version a new name", f"{unique['nodes']:,}",
                f"{unique['edges']:,}", fmt_seconds(unique["seconds"]),
                fmt_rate(unique["items"] / unique["seconds"], "items"), fmt_bytes(unique["bytes"]),
                *(["", "", "", ""] if peer else []),
            ])
            load.notes.append(
                f"The row '{shape.label}, every artifact version a new name' loads the same graph "
                "but names each artifact version apart (all v1): the import then creates a "
                "name (a row and a ledger entry) per version. In the other rows most versions "
                "are new versions of about 4,500 names (as a pipeline that reruns produces), "
                "whose version counters the import advances (one row update and ledger entry per name, in batched statements)."
            )
    dates = sorted({meta["built_at"] for meta in built.values()})
    load.notes.append(
        f"Measured when each store was built ({', '.join(dates)}; cached in `.bench-cache/`). "
        f"Both load the same batches of about {BATCH_NODES:,} nodes and their edges; lineal in one "
        "transaction per batch with its audit-ledger entries, MLMD in three calls per batch "
        "(`put_artifacts`, `put_executions`, `put_events`). Building the Python objects is not timed. "
        "Each build starts after `sync`, and is measured once (a 1M build takes about a minute): "
        "with other work on the machine, builds of the 1M store have ranged over about 15%."
    )
    biggest = shapes[-1]
    targets.append(Target("bulk load ≥ 50,000 nodes + edges per second",
                          f"{fmt_rate(rates[biggest.nodes], 'items')} ({biggest.label} store)",
                          rates[biggest.nodes] >= 50_000))

    def query_table(title: str, names: list[tuple[str, str]]) -> Table:
        table = Table(title, ["query", "store", "result nodes", "lineal p50", "lineal p99"]
                      + (["MLMD p50", "MLMD p99", "MLMD ÷ lineal (p50)"] if peer else []))
        for name, label in names:
            for shape in shapes:
                mine = samples.get(("lineal", shape.nodes, name))
                if mine is None:
                    continue
                theirs = samples.get(("mlmd", shape.nodes, name))
                nodes = f"{mine['nodes']:,}"
                if theirs and theirs["nodes"] != mine["nodes"]:
                    nodes += f" (MLMD {theirs['nodes']:,})"
                row = [label, shape.label, nodes, *_cell(mine)]
                if peer:
                    # MLMD has no impact report and cannot walk past 100 hops: say which.
                    missing = ["no such query", ""] if name.startswith("impact-") else [
                        "not possible", "(≤ 100 hops)"]
                    row += [*_cell(theirs)] if theirs else missing
                    row.append(f"{_pct(theirs['times'], 0.5) / _pct(mine['times'], 0.5):,.1f}x"
                               if theirs else "—")
                table.rows.append(row)
        return table

    depth_names = sorted({n for (_t, _s, n) in samples if n.startswith("up-") and n != "up-full"},
                         key=lambda n: int(n.split("-")[1]))
    up = query_table(
        "Upstream closure of the chain's model",
        [(n, f"depth {n.split('-')[1]}") for n in depth_names] + [("up-full", f"full ({2 * shapes[0].chain_steps:,} hops)")],
    )
    up.notes.append("Growth with store size: read each query down the store column; growth with "
                    "result size: across the depths.")
    hubs = sorted({int(n.split("-")[1]) for (_t, _s, n) in samples if n.startswith("down-")})
    down = query_table(
        "Downstream of a hub dataset used by K runs (each producing one artifact: 2K nodes)",
        [(f"down-{k}", f"downstream, K={k:,}") for k in hubs]
        + [(f"impact-{k}", f"`impact`, K={k:,}") for k in hubs],
    )
    tables = [load, up, down]
    largest = shapes[-1]
    up100 = samples.get(("lineal", largest.nodes, "up-100"))
    if up100:
        p50 = _pct(up100["times"], 0.5)
        targets.append(Target(f"upstream closure depth 100, {largest.label} store, p50 < 20 ms",
                              fmt_seconds(p50), p50 < 0.020))
    for kind in ("impact", "down"):
        cands = [(k, samples.get(("lineal", largest.nodes, f"{kind}-{k}"))) for k in hubs]
        cands = [(k, s) for k, s in cands if s and s["nodes"] >= 10_000]
        if cands:
            k, s = cands[0]
            p50 = _pct(s["times"], 0.5)
            targets.append(Target(
                f"{'impact report' if kind == 'impact' else 'downstream closure'} over "
                f"{s['nodes']:,} downstream nodes ({largest.label} store) < 200 ms",
                f"{fmt_seconds(p50)} p50", p50 < 0.200))
            break
    return tables, targets


def _versions(python: str) -> dict[str, str]:
    import subprocess

    script = (
        "import importlib.metadata as m, json, sqlite3\n"
        "out = {'SQLite': sqlite3.sqlite_version}\n"
        "for n in ('lineal', 'ml-metadata', 'SQLAlchemy'):\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([python, "-c", script], capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


METHOD = """\
Each store is generated once per tool (see the script's docstring for its shape) and cached;
each tool then answers the same questions in a fresh worker process of the bench virtualenv,
the tools alternating between rounds. Every query runs twice untimed, then repeatedly (up to
100 times, or a time budget) and the tables give the 50th and 99th percentile latency over all
rounds (with few samples the p99 is close to the maximum). A query's clock covers resolving the
start node and getting back every node of the answer as objects: lineal through its
{lineal}, with no page limit; MLMD through `get_lineage_subgraph` with
`LineageSubgraphQueryOptions(starting_artifacts=id, direction, max_num_hops)` and the
artifacts, executions and events read back (its default answer, minus the type lookups). MLMD
walks one SQL query per hop and refuses more than 100 hops, so the full 2,000-hop chain has no
MLMD figure; lineal's walks are one recursive SQL statement. Both on SQLite files on the same disk.
Result sizes are checked to be equal between the tools.
"""

if __name__ == "__main__":
    sys.exit(main())
