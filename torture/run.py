"""Run the torture campaigns and write ``docs/reliability.md`` (``make torture``).

    python torture/run.py                                   # the published figures
    python torture/run.py --sqlite 200 --postgres 50 --mariadb 20 --writers 8
    python torture/run.py --quick                           # what the test suite runs
    python torture/run.py --only badinput --only tamper     # some campaigns only

Campaigns (one module each): ``kill`` (SIGKILL at random points), ``writers`` (concurrent
writer processes), ``badinput`` (CLI and SDK bad input), ``tamper`` (edits behind lineal's back).
A server backend that does not answer is reported as skipped, with the reason. The page is
written even when a figure misses its target; ``--strict`` makes the exit status say so.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the repo root
from torture import badinput, kill, report, tamper, writers  # noqa: E402
from torture.common import (  # noqa: E402
    MYSQL_ADMIN,
    PG_ADMIN,
    REPO,
    machine,
    remove,
    scratch,
    server_reachable,
    write_json,
)

CAMPAIGNS = ("kill", "writers", "badinput", "tamper")
QUICK = {"sqlite": 5, "postgres": 3, "mariadb": 0, "writers": 2, "per_writer": 2,
         "writer_backends": ["sqlite", "postgres"], "bad_inputs": 5, "tamper": 3, "max_delay": 0.8}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sqlite", type=int, default=200, help="SIGKILL iterations on SQLite")
    p.add_argument("--postgres", type=int, default=50, help="SIGKILL iterations on PostgreSQL")
    p.add_argument("--mariadb", type=int, default=20, help="SIGKILL iterations on MariaDB")
    p.add_argument("--writers", type=int, default=8, help="concurrent writer processes")
    p.add_argument("--per-writer", type=int, default=10, help="items each writer logs")
    p.add_argument("--writer-backends", default="sqlite,postgres,mariadb",
                   help="backends of the concurrent-writers campaign (comma-separated)")
    p.add_argument("--bad-inputs", type=int, default=None, help="run only N bad-input cases")
    p.add_argument("--tamper", type=int, default=None, help="run only N tamper cases")
    p.add_argument("--max-delay", type=float, default=3.0,
                   help="longest wait, in seconds, before a kill once the child has opened the store")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pg-admin", default=PG_ADMIN,
                   help="URL of any database on the PostgreSQL server [env: LINEAL_TEST_PG]")
    p.add_argument("--mariadb-admin", default=MYSQL_ADMIN,
                   help="URL of any database on the MariaDB server [env: LINEAL_TEST_MYSQL]")
    p.add_argument("--only", action="append", choices=CAMPAIGNS,
                   help="run only this campaign (repeatable)")
    p.add_argument("--quick", action="store_true",
                   help="a few iterations of each campaign (the test suite's run); labelled quick")
    p.add_argument("--output", type=Path, default=REPO / "docs" / "reliability.md")
    p.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when a figure misses its target")
    args = p.parse_args(argv)
    if args.quick:
        given = set(argv or sys.argv[1:])
        for key, value in QUICK.items():
            flag = "--" + key.replace("_", "-")
            if not any(g == flag or g.startswith(flag + "=") for g in given):
                setattr(args, key, ",".join(value) if isinstance(value, list) else value)
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected campaigns; returns the raw results (what ``report`` renders)."""
    only = set(args.only or CAMPAIGNS)
    workdir = scratch("run")
    results: dict[str, Any] = {}
    admins: dict[str, str | None] = {"sqlite": None, "postgres": args.pg_admin,
                                     "mariadb": args.mariadb_admin}
    reachable = {name: server_reachable(name, admins[name]) for name in admins}
    try:
        if "kill" in only:
            results["kill"] = []
            for name in ("sqlite", "postgres", "mariadb"):
                count = getattr(args, name)
                if count <= 0:
                    continue
                _say(f"kill: {count} x {name}")
                if reachable[name]:
                    results["kill"].append({"backend": name, "skipped": reachable[name]})
                    continue
                found = kill.campaign(name, count, workdir, seed=args.seed,
                                      max_delay=args.max_delay, admin=admins[name])
                results["kill"].append(found.to_dict())
        if "writers" in only and args.writers > 0:
            results["writers"] = []
            for name in [b for b in args.writer_backends.split(",") if b]:
                _say(f"writers: {args.writers} x {args.per_writer} on {name}")
                if reachable.get(name):
                    results["writers"].append({"backend": name, "skipped": reachable[name]})
                    continue
                found_w = writers.campaign(name, args.writers, args.per_writer, workdir,
                                           admins.get(name))
                results["writers"].append(found_w.to_dict())
        if "badinput" in only:
            _say("bad input")
            results["badinput"] = badinput.campaign(workdir, args.bad_inputs).to_dict()
        if "tamper" in only:
            _say("tamper")
            results["tamper"] = tamper.campaign(workdir, args.tamper).to_dict()
    finally:
        if not args.keep:
            remove(workdir)
        else:
            _say(f"scratch kept in {workdir}")
    return results


def missed_targets(results: dict[str, Any]) -> list[str]:
    """Headline figures whose target is 0 and whose value is not."""
    return [f"{figure}: {value}" for figure, value, target in report.headline(results)
            if target == 0 and isinstance(value, int) and value != 0]


def command_line(argv: list[str] | None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", "torture/run.py", *args])


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    results = run(args)
    backends = ["sqlite", "postgres", "mariadb"]
    admins = {"postgres": args.pg_admin, "mariadb": args.mariadb_admin}
    page = report.render(results, command_line(argv), machine(backends, admins), args.quick)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(page)
    if args.json:
        write_json(args.json, {"quick": args.quick, "results": results})
    missed = missed_targets(results)
    _say(f"wrote {args.output}")
    for line in missed:
        _say(f"target missed: {line}")
    return 1 if args.strict and missed else 0


def _say(text: str) -> None:
    print(f"[torture] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
