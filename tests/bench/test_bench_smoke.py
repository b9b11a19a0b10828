"""The benchmark harness must not rot: each benchmark script that follows the contract in
``bench/common.py`` runs its tiniest mode on lineal alone (no peer installed), writes a report
that ``bench/run.py`` can render, and ``run.py`` assembles RESULTS.md from it.

These runs measure nothing (the sizes are tiny); they check that the code paths work.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
CONTRACT = ("tracking", "lineage", "search", "server", "stream")  # scripts with --tiny and --lineal-only


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}_under_test", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_bench_module_imports() -> None:
    names = sorted(p.stem for p in BENCH.glob("bench_*.py"))
    assert {f"bench_{n}" for n in CONTRACT} <= set(names)
    for name in [*names, "common", "run"]:
        _load(name)


@pytest.fixture(scope="module")
def tiny_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Each contract script run once in its tiniest mode, lineal alone: ``{name: report}``."""
    folder = tmp_path_factory.mktemp("bench")
    reports = {}
    for name in CONTRACT:
        out = folder / f"{name}.json"
        command = [sys.executable, str(BENCH / f"bench_{name}.py"), "--json", str(out), "--tiny",
                   "--lineal-only", "--python", sys.executable]
        if name == "tracking":
            command += ["--cases", "a,b,d,e"]  # (c) copies and fsyncs files: slow on a busy disk
        if name == "lineage":
            command += ["--cache", str(folder / "cache")]
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"bench_{name}.py failed:\n{done.stderr[-3000:]}"
        reports[name] = json.loads(out.read_text())
    return reports


@pytest.mark.parametrize("name", CONTRACT)
def test_tiny_run_on_lineal_only(name: str, tiny_reports: dict[str, dict]) -> None:
    report = tiny_reports[name]
    assert report["name"] == name and report["quick"] is True
    assert report["tables"], "a report with no table"
    for table in report["tables"]:
        assert table["rows"], f"table {table['title']!r} has no row"
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
    text = _load("common").render_section(report)
    assert text.startswith(f"## {report['title']}") and "### " in text
    # Lineal alone: no peer was measured.
    assert not any(key.startswith(("mlflow", "mlmd")) for key in json.dumps(report["raw"]).split('"'))


def test_lineage_generator_and_answers(tiny_reports: dict[str, dict]) -> None:
    """The generated graph has the promised shape, and the queries find the answers they should."""
    lineage = _load("bench_lineage")
    shape = lineage.TIERS["tiny"][0]
    batches = list(lineage.generate(shape))
    nodes = sum(b.nodes for b, _ in batches)
    assert shape.nodes <= nodes < shape.nodes + 2 * lineage.POOL + 9
    marks = {k: v for _, m in batches for k, v in m.items()}
    assert set(marks) == {"chain_model", *(f"hub_{k}" for k in shape.hubs)}
    for batch, _ in batches:  # every edge stays within its batch
        keys = {a[0] for a in batch.artifacts} | {r[0] for r in batch.runs}
        assert all(e[0] in keys and e[1] in keys for e in batch.edges)
    samples = tiny_reports["lineage"]["raw"]["samples"]
    # The upstream closure of the chain's model at depth 10 is the 10 nodes before it; the
    # downstream of a hub used by K runs is those K runs and their K outputs.
    assert samples[f"lineal-{shape.nodes}-up-10"]["nodes"] == 10
    assert samples[f"lineal-{shape.nodes}-up-full"]["nodes"] == 2 * shape.chain_steps
    k = shape.hubs[0]
    assert samples[f"lineal-{shape.nodes}-down-{k}"]["nodes"] == 2 * k
    assert samples[f"lineal-{shape.nodes}-impact-{k}"]["nodes"] == 2 * k  # K outputs + K runs
    assert all(len(s["times"]) >= 5 and min(s["times"]) > 0 for s in samples.values())


def test_run_py_assembles_results(tmp_path: Path) -> None:
    run = _load("run")
    assert {"tracking", "lineage"} <= set(run.discover())
    section = "## lineage: something\n\nA table.\n"
    target = tmp_path / "RESULTS.md"
    run.write_results(target, {"lineage": section}, Path(sys.executable), ["--only", "lineage"])
    first = target.read_text()
    assert run.MARKER in first and "## Machine" in first and "A table." in first
    assert "| cores |" in first
    # A second run of another benchmark keeps the first one's section.
    run.write_results(target, {"tracking": "## tracking\n\nOther.\n"}, Path(sys.executable), [])
    second = target.read_text()
    assert "A table." in second and "Other." in second
