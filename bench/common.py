"""What every benchmark script shares: the command-line contract, timing, the worker protocol,
disk usage, the machine description, and the JSON report that ``bench/run.py`` renders.

The contract of a benchmark script ``bench/bench_<name>.py`` (``run.py`` finds it by that name):

- it runs standalone: ``python bench/bench_<name>.py --json out.json [--quick] [--repeat N]
  [--python PATH] [--tiny] [--lineal-only]`` (use :func:`arguments` to get exactly these
  options); ``--tiny --lineal-only`` is what ``tests/bench`` runs, in seconds, with no peer;
- it times each tool in a fresh subprocess of ``--python`` (the bench virtualenv, where lineal
  and its peers are installed side by side; :func:`run_worker`), alternating the tools within
  each repeat, and reports medians;
- it writes one :class:`Report` as JSON to ``--json`` (:meth:`Report.write`) and exits 0, or
  exits non-zero with the reason on stderr. Progress goes to stderr.

Only the standard library is used here, so the orchestrating half of a script runs in any
interpreter; the measured code runs in the workers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
BENCH_VENV = REPO / ".bench-venv"
SCRATCH = BENCH / "results"  # git-ignored; on the same disk as the repository

__all__ = [
    "BENCH_VENV",
    "REPO",
    "Report",
    "Table",
    "Target",
    "arguments",
    "bench_python",
    "disk_usage",
    "fmt_bytes",
    "fmt_rate",
    "fmt_seconds",
    "machine",
    "median",
    "progress",
    "ratio",
    "run_worker",
    "scratch_dir",
    "spread",
    "sync_disks",
    "timed",
]


# -- the command line --------------------------------------------------------------------------
def arguments(
    description: str,
    argv: Sequence[str] | None = None,
    configure: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """Parse the options every benchmark script takes (see the module docstring); ``configure``
    may add a script's own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", type=Path, required=True, help="write the report here")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--tiny", action="store_true",
                        help="the tiniest sizes, for tests/bench (checks the harness, measures nothing)")
    parser.add_argument("--lineal-only", action="store_true",
                        help="measure lineal alone (no peer needs to be installed)")
    parser.add_argument("--repeat", type=int, default=None, help="repeats per measurement")
    parser.add_argument(
        "--python", default=None, help="interpreter for the workers (default: the bench venv's)"
    )
    if configure is not None:
        configure(parser)
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    # Absolute (not resolved: a virtualenv's python is a symlink), as workers run in other folders.
    args.python = os.path.abspath(args.python) if args.python else str(bench_python())
    return args


def bench_python() -> Path:
    """The bench virtualenv's interpreter if it exists, else the current one."""
    candidate = BENCH_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    return candidate if candidate.exists() else Path(sys.executable)


def progress(message: str) -> None:
    """One line of progress on stderr (stdout is left to the report)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- timing ------------------------------------------------------------------------------------
@contextmanager
def timed() -> Iterator[dict[str, float]]:
    """``with timed() as t: ...`` then ``t["seconds"]`` is the wall time of the block."""
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def spread(samples: Sequence[dict[str, Any]], key: str) -> str:
    """``median (min–max)`` of one timing, formatted: the range shows how noisy it was."""
    values = [float(s[key]) for s in samples]
    if len(values) == 1:
        return fmt_seconds(values[0])
    return f"{fmt_seconds(median(values))} ({fmt_seconds(min(values))}–{fmt_seconds(max(values))})"


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def run_worker(
    python: str,
    script: Path,
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 3600,
    stream: bool = False,
) -> dict[str, Any]:
    """Run ``python script args...`` in a fresh process and return the JSON object it printed
    as its last line of stdout; raise ``RuntimeError`` with the tail of stderr if it failed.
    ``stream``: let the worker's progress (stderr) through as it comes, for long workers."""
    command = [python, str(script), *args]
    completed = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=None if stream else subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        tail = "\n".join((completed.stderr or "(above)").strip().splitlines()[-25:])
        raise RuntimeError(f"worker failed ({completed.returncode}): {' '.join(command)}\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# -- files and disks ---------------------------------------------------------------------------
@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A fresh folder on the repository's disk, removed afterwards."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=SCRATCH))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk under ``path``, as ``du`` counts them (hard links once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    if path.is_file():
        return path.stat().st_blocks * 512
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def sync_disks() -> None:
    """Write back every dirty page, so that one measurement's writes do not land in the next."""
    if hasattr(os, "sync"):
        os.sync()


# -- formatting --------------------------------------------------------------------------------
def fmt_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(per_second: float, unit: str) -> str:
    return f"{per_second:,.0f} {unit}/s"


def fmt_bytes(count: float) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(count) >= size:
            return f"{count / size:.2f} {unit}"
    return f"{count:.0f} B"


# -- the report --------------------------------------------------------------------------------
@dataclass
class Table:
    """One Markdown table: ``rows`` are lists of already formatted cells."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Target:
    """A goal and whether the measurement meets it (``met`` is None when not measured)."""

    goal: str
    measured: str
    met: bool | None


@dataclass
class Report:
    """What a benchmark script writes to ``--json``; ``bench/run.py`` renders it as one section
    of ``bench/RESULTS.md``. ``method`` is Markdown describing exactly what was timed."""

    name: str
    title: str
    method: str
    quick: bool
    repeat: int
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=False) + "\n")


def render_section(report: dict[str, Any]) -> str:
    """The Markdown of one report (the dict form of :class:`Report`)."""
    quick = " (quick smoke run: small sizes, not representative)" if report.get("quick") else ""
    lines = [f"## {report['title']}", ""]
    lines.append(f"Median of {report.get('repeat', '?')} repeats{quick}.")
    versions = report.get("versions") or {}
    if versions:
        lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".")
    lines += ["", report.get("method", "").strip(), ""]
    for table in report.get("tables", []):
        lines += [f"### {table['title']}", ""]
        lines.append("| " + " | ".join(table["columns"]) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(table["columns"]) - 1)) + "|")
        for row in table["rows"]:
            lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
        lines.append("")
        for note in table.get("notes", []):
            lines.append(f"- {note}")
        if table.get("notes"):
            lines.append("")
    targets = report.get("targets", [])
    if targets:
        lines += ["### Targets", "", "| target | measured | met |", "|---|---|---|"]
        for target in targets:
            met = {True: "yes", False: "**no**", None: "not measured"}[target["met"]]
            lines.append(f"| {target['goal']} | {target['measured']} | {met} |")
        lines.append("")
    for note in report.get("notes", []):
        lines.append(f"- {note}")
    if report.get("notes"):
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# -- the machine -------------------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _command(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(python: str, packages: Sequence[str] = ("lineal", "mlflow", "sqlalchemy")) -> dict[str, str]:
    """What the numbers were measured on: CPU, cores, memory, the scratch disk, OS, Python, and
    the versions of ``packages`` in the interpreter ``python``."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem_kib = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
         if line.startswith("MemTotal:")),
        0,
    )
    SCRATCH.mkdir(parents=True, exist_ok=True)
    df = _command(["df", "-hT", str(SCRATCH)]).splitlines()
    disk = " ".join(df[-1].split()[:3]) if len(df) > 1 else "unknown"
    device = Path(df[-1].split()[0]).name if len(df) > 1 else ""
    if device.startswith("vd"):
        disk += " (virtio block device of a virtual machine)"
    base = device.rstrip("0123456789")
    if base.startswith("nvme"):
        base = device.split("p")[0]
    rotational = _read(f"/sys/block/{base}/queue/rotational").strip()
    if rotational in ("0", "1"):
        # What the kernel is told; a virtio disk reports whatever its host chose, so say so.
        disk += f", the kernel reports it {'rotational' if rotational == '1' else 'non-rotational'}"
        if device.startswith("vd"):
            disk += " (as virtio disks often do; the backing storage is not visible)"
    os_name = next(
        (line.split("=", 1)[1].strip('"') for line in _read("/etc/os-release").splitlines()
         if line.startswith("PRETTY_NAME=")),
        platform.system(),
    )
    lscpu = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in _command(["lscpu"]).splitlines())
    )
    guest = []
    if lscpu.get("Hypervisor vendor"):
        guest.append(f"{lscpu['Hypervisor vendor']} virtual machine")
    if Path("/.dockerenv").exists() or _command(["systemd-detect-virt", "--container"]) not in ("", "none"):
        guest.append("in a container")
    family = f"family {lscpu['CPU family']} model {lscpu['Model']}" if "CPU family" in lscpu else ""
    script = (
        "import importlib.metadata as m, json, sys, platform\n"
        f"names = {list(packages)!r}\n"
        "import sqlite3\n"
        "out = {'python': platform.python_version() + ' (' + platform.python_implementation() + ')'}\n"
        "out['SQLite (Python sqlite3)'] = sqlite3.sqlite_version\n"
        "for n in names:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = 'not installed'\n"
        "print(json.dumps(out))\n"
    )
    versions = json.loads(_command([python, "-c", script]) or "{}")
    return {
        "cpu": ", ".join(filter(None, [cpu, family, " ".join(guest)])),
        "cores": str(cores),
        "memory": f"{mem_kib / (1 << 20):.1f} GiB",
        "disk": f"{disk} (scratch folder: bench/results/)",
        "os": f"{os_name}, Linux {platform.release()}" if platform.system() == "Linux" else os_name,
        **versions,
    }


def median_of(samples: list[dict[str, Any]], key: str) -> float:
    return median([float(s[key]) for s in samples])


def alternate(tools: Sequence[str], repeat: int) -> Iterator[tuple[int, str]]:
    """``(repeat_index, tool)`` in the order the tools are measured: each repeat runs every
    tool once, and the starting tool rotates, so that slow drift of a shared machine does not
    favour the tool that always goes first."""
    for index in range(repeat):
        shift = index % len(tools)
        for tool in [*tools[shift:], *tools[:shift]]:
            yield index, tool


def collect(
    tools: Sequence[str], repeat: int, measure: Callable[[str], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Measure each tool ``repeat`` times, alternating (see :func:`alternate`)."""
    samples: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
    for _index, tool in alternate(tools, repeat):
        samples[tool].append(measure(tool))
    return samples
