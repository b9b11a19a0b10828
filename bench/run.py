"""Run lineal's benchmarks and write ``bench/RESULTS.md`` (``make bench``).

    python bench/run.py                      # every benchmark, full sizes -> bench/RESULTS.md
    python bench/run.py --quick              # small sizes -> bench/results/RESULTS-quick.md
    python bench/run.py --only tracking --repeat 3
    python bench/run.py --list

A benchmark is a script ``bench/bench_<name>.py`` that follows the contract in
``bench/common.py`` (``--json PATH [--quick] [--repeat N] [--python PATH]``); adding one needs
no registration here. Each runs in turn with the bench virtualenv's interpreter
(``.bench-venv``, created on first use: the peers from ``bench/requirements-peers.txt`` plus
lineal editable, so they run side by side and the project's ``.venv`` never gets them).

``RESULTS.md`` keeps everything above its ``BEGIN GENERATED`` marker (the hand-written header)
and regenerates the rest: the machine description and one section per benchmark. With
``--only``, the other benchmarks' sections are kept from the previous run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH, BENCH_VENV, REPO, SCRATCH, bench_python, machine, progress, render_section  # noqa: E402

RESULTS = BENCH / "RESULTS.md"
QUICK_RESULTS = SCRATCH / "RESULTS-quick.md"
REQUIREMENTS = BENCH / "requirements-peers.txt"
STAMP = BENCH_VENV / ".lineal-bench-stamp"
# lineal's extras in the bench venv: data (pyarrow, numpy for the datasets benchmark) and server
# (`lineal server` and its HTTP client for the server benchmark).
EXTRAS = "data,server"
ORDER = ["tracking", "datasets"]  # then any other bench_*.py, alphabetically
MARKER = "<!-- BEGIN GENERATED: bench/run.py rewrites everything below this line. -->"
SECTION = re.compile(r"<!-- section:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /section:(?P=name) -->",
                     re.DOTALL)
DEFAULT_HEADER = """\
# lineal benchmarks

Written by `make bench` (`bench/run.py`); each `bench/bench_*.py` says in its docstring what
it measures. Everything below the marker is regenerated on each run.
"""


def discover() -> dict[str, Path]:
    """``{name: script}`` for every ``bench/bench_<name>.py``, in report order."""
    found = {path.stem.removeprefix("bench_"): path for path in BENCH.glob("bench_*.py")}
    ordered = [name for name in ORDER if name in found]
    ordered += sorted(name for name in found if name not in ORDER)
    return {name: found[name] for name in ordered}


def ensure_bench_venv() -> Path:
    """Create ``.bench-venv`` if missing and (re)install when the peers' requirements or
    lineal's ``pyproject.toml`` changed since the last install."""
    python = BENCH_VENV / "bin" / "python"
    wanted = hashlib.sha256(
        REQUIREMENTS.read_bytes() + (REPO / "pyproject.toml").read_bytes() + EXTRAS.encode()
    ).hexdigest()
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return python
    if not python.exists():
        progress(f"creating {BENCH_VENV.relative_to(REPO)}")
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    progress(f"installing the peers from {REQUIREMENTS.relative_to(REPO)} and lineal (editable)")
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    subprocess.run([*pip, "-e", f"{REPO}[{EXTRAS}]"], check=True)
    STAMP.write_text(wanted + "\n")
    return python


def options_of(python: Path, script: Path) -> set[str]:
    """The long options a script's ``--help`` lists: scripts written before the contract in
    ``bench/common.py`` may lack some, and are then run without them."""
    done = subprocess.run([str(python), str(script), "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    return set(re.findall(r"--[a-z][\w-]*", done.stdout))


def run_benchmark(
    name: str, script: Path, python: Path, args: argparse.Namespace
) -> tuple[str, bool]:
    """Run one benchmark script; return its Markdown section (a failure is reported there) and
    whether it succeeded."""
    out = SCRATCH / f"{name}{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    options = options_of(python, script)
    if args.quick and "--quick" not in options:
        progress(f"{name}: skipped, {script.name} has no --quick option")
        return (f"## {name}\n\nSkipped in this `--quick` run: `{script.name}` has no `--quick` "
                "option, and its full sizes are no smoke test.\n"), True
    command = [str(python), str(script), "--json", str(out)]
    if "--python" in options:
        command += ["--python", str(python)]
    if args.quick:
        command.append("--quick")
    if args.repeat and "--repeat" in options:
        command += ["--repeat", str(args.repeat)]
    progress(f"{name}: {' '.join(command[1:])}")
    started = time.monotonic()
    # stderr (progress) goes straight to the terminal; stdout is kept for the failure report.
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    elapsed = time.monotonic() - started
    # The command and the CPU go with each section: the machine table at the top describes the
    # machine of the last run only, and sections of earlier runs are kept.
    cpu = machine(str(python), ()).get("cpu", "an unknown CPU")
    rerun = " ".join(["bench/run.py", "--only", name, *(["--quick"] if args.quick else []),
                      *([f"--repeat {args.repeat}"] if args.repeat else [])])
    stamp = (f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} in {elapsed / 60:.1f} min on {cpu}, "
             f"by `{rerun}`")
    if done.returncode != 0 or not out.exists():
        tail = "\n".join(done.stdout.strip().splitlines()[-20:])
        progress(f"{name}: FAILED with exit code {done.returncode}")
        text = (f"## {name}\n\n{stamp}: **failed** with exit code {done.returncode} "
                f"(its progress and error are on stderr of `bench/run.py --only {name}`).\n\n"
                + (f"```\n{tail}\n```\n" if tail else ""))
        return text, False
    report: Any = json.loads(out.read_text())
    progress(f"{name}: done in {elapsed:.0f} s")
    if not (isinstance(report, dict) and "tables" in report):
        # Not a common.Report: the script printed its own Markdown on stdout.
        summary = (script.read_text().split('"""')[1].strip().splitlines() or [name])[0]
        raw = out.relative_to(REPO)
        return (f"## {name}: {summary}\n\n{stamp} with `{' '.join(command[1:]).replace(str(REPO) + '/', '')}`; "
                f"the script's own report follows (raw numbers: `{raw}`).\n\n"
                f"{done.stdout.strip()}\n"), True
    section = render_section(report)
    title, _, rest = section.partition("\n")
    return f"{title}\n\n{stamp}. {rest.lstrip()}", True


def machine_section(python: Path) -> str:
    facts = machine(str(python), ("lineal", "mlflow", "SQLAlchemy", "ml-metadata"))
    lines = ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in facts.items()]
    return "\n".join(lines) + "\n"


def write_results(target: Path, sections: dict[str, str], python: Path, argv: list[str]) -> None:
    previous = target.read_text() if target.exists() else ""
    header, found, old = previous.partition(MARKER)
    if not found:
        header, old = DEFAULT_HEADER, ""
    kept = {m["name"]: m["body"] for m in SECTION.finditer(old)}
    kept.update(sections)
    names = [name for name in discover() if name in kept]
    names += [name for name in kept if name not in names]  # a benchmark since removed
    parts = [header.rstrip() + "\n", MARKER, "",
             f"Last run: `bench/run.py {' '.join(argv)}`".rstrip() + ".", "",
             machine_section(python)]
    for name in names:
        parts.append(f"<!-- section:{name} -->\n{kept[name].rstrip()}\n<!-- /section:{name} -->\n")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(parts))
    progress(f"wrote {target.relative_to(REPO) if target.is_relative_to(REPO) else target}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description="Run lineal's benchmarks; write bench/RESULTS.md.")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this benchmark (repeatable, or comma-separated)")
    parser.add_argument("--quick", action="store_true",
                        help=f"small sizes, a smoke run; writes {QUICK_RESULTS.relative_to(REPO)}")
    parser.add_argument("--repeat", type=int, help="repeats per measurement (default: per script)")
    parser.add_argument("--output", type=Path, help="where to write the results (Markdown)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    available = discover()
    if args.list:
        for name, script in available.items():
            print(f"{name}\t{script.relative_to(REPO)}")
        return 0
    wanted = [name for item in args.only for name in item.split(",") if name] or list(available)
    unknown = [name for name in wanted if name not in available]
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; have: {', '.join(available)}")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    python = ensure_bench_venv() if sys.platform != "win32" else bench_python()
    outcomes = {name: run_benchmark(name, available[name], python, args) for name in wanted}
    target = args.output or (QUICK_RESULTS if args.quick else RESULTS)
    write_results(target, {name: text for name, (text, _) in outcomes.items()}, python, argv)
    failed = [name for name, (_, ok) in outcomes.items() if not ok]
    if failed:
        progress(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
