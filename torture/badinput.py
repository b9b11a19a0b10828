"""Campaign 3: bad input, from the command line and from the SDK.

Each case runs in its own process against a small populated store and records the exit code,
whether a Python traceback reached stderr, and the first line of stderr. A traceback for user
input is a defect (the house rule: one clear line naming what is wrong and how to fix it); the
figure is the number of raw tracebacks, target 0. A case that must be refused (``expect``
"error") but exits 0 is counted as "accepted silently"; one that must work (``expect`` "ok")
but fails, as "valid input refused". For a clean error the line shown is the ``error:`` line.

SDK cases run a snippet under a wrapper that turns a ``LinealError`` into one line and exit 1,
the way a script author would see a clean error (exit code: the error's own, else 1); anything
else escapes as a traceback.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torture.common import TRACEBACK, child_env

TIMEOUT = 60.0
WRAPPER = """\
import sys, lineal
from lineal.errors import LinealError
try:
    exec(compile(sys.argv[1], "<case>", "exec"))
except LinealError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(getattr(error, "exit_code", 1) or 1)
"""


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # cli | sdk
    what: str  # CLI arguments after `lineal` (with {store}), or a Python snippet
    expect: str = "error"  # error: must be refused | ok: must work | any: either is fine


CASES: list[Case] = [
    Case("huge --limit", "cli", "--uri {store} runs list --limit 100000000000000000000"),
    Case("negative --limit", "cli", "--uri {store} runs list --limit -1"),
    Case("huge version number", "cli", "--uri {store} artifacts show x@v99999999999999999999999"),
    Case("version 0", "cli", "--uri {store} artifacts show data.bin@v0"),
    Case("reference of only @", "cli", "--uri {store} artifacts show @@@"),
    Case("digest prefix not hex", "cli", "--uri {store} artifacts show data.bin@sha256:zz"),
    Case("huge --since", "cli", "--uri {store} artifacts list --since 99999999d"),
    Case("--since not a time", "cli", "--uri {store} artifacts list --since 'whenever-ish'"),
    Case("deploy at not a time", "cli", "--uri {store} deploy at 'not a time' --env prod"),
    Case("audit log --since not a time", "cli", "--uri {store} audit log --since 'soon'"),
    Case("unknown run id", "cli", "--uri {store} runs show 01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
    Case("empty run id", "cli", "--uri {store} runs show ''"),
    Case("unsupported --uri scheme", "cli", "--uri bogus://x runs list"),
    Case("unreachable PostgreSQL", "cli",
         "--uri postgresql://nobody@127.0.0.1:1/x --artifacts {tmp}/b runs list"),
    Case("database --uri without --artifacts", "cli", "--uri postgresql://u@127.0.0.1/x runs list"),
    Case("0-byte lineal.db", "cli", "--uri {empty_db} runs list", expect="any"),
    Case("lineal.db that is not a database", "cli", "--uri {garbage_db} runs list"),
    Case("--uri under /proc", "cli", "--uri /proc/x runs list"),
    Case("--uri is a regular file", "cli", "--uri {a_file} runs list"),
    Case("unknown model", "cli", "--uri {store} registry show no-such-model"),
    Case("log_metric 10**400", "sdk", "with lineal.run('t', capture=False) as r:\n"
         "    r.log_metric('x', 10**400)"),
    Case("log_metric not a number", "sdk", "with lineal.run('t', capture=False) as r:\n"
         "    r.log_metric('x', 'abc')"),
    Case("NUL in a metric key", "sdk", "with lineal.run('t', capture=False) as r:\n"
         "    r.log_metric('a\\x00b', 1.0)"),
    Case("metric step 2**70", "sdk", "with lineal.run('t', capture=False) as r:\n"
         "    r.log_metric('x', 1.0, step=2**70)"),
    Case("params nested 5,000 deep", "sdk", "p = {}\nq = p\nfor _ in range(5000):\n"
         "    q['k'] = {}\n    q = q['k']\nwith lineal.run('t', capture=False, params={'p': p}):\n"
         "    pass"),
    Case("param not JSON", "sdk", "with lineal.run('t', capture=False) as r:\n"
         "    r.log_param('p', object())"),
    Case("run name 'baseline lr=0.1'", "sdk",
         "with lineal.run('baseline lr=0.1', capture=False):\n    pass", expect="any"),
    Case("empty run name", "sdk", "with lineal.run('', capture=False):\n    pass"),
    Case("run name of 10,000 chars", "sdk", "with lineal.run('a' * 10000, capture=False):\n    pass"),
    Case("open_store('/proc/x')", "sdk", "lineal.list_runs(store=lineal.open_store('/proc/x'))"),
    Case("open_store('sqlite://') write-then-read", "sdk",
         "s = lineal.open_store('sqlite://')\nwith lineal.run('t', capture=False, store=s) as r:\n"
         "    r.log_metric('x', 1.0)\nassert lineal.get_run(r.id, store=s).metrics", expect="any"),
    Case("open_store('sqlite://', artifacts=...) write-then-read", "sdk",
         "import tempfile\ns = lineal.open_store('sqlite://', artifacts=tempfile.mkdtemp())\n"
         "with lineal.run('t', capture=False, store=s) as r:\n    r.log_metric('x', 1.0)\n"
         "assert lineal.get_run(r.id, store=s).metrics['x'] == 1.0", expect="ok"),
    Case("get_artifact huge version", "sdk", "lineal.get_artifact('x@v99999999999999999999999')"),
    Case("list_runs(limit=10**20)", "sdk", "lineal.list_runs(limit=10**20)"),
    Case("log_artifact of a missing path", "sdk", "with lineal.run('t', capture=False) as r:\n"
         "    r.log_artifact('/no/such/file.bin')"),
    Case("alias with a slash", "sdk", "lineal.set_alias('data.bin@v1', 'a/b/c')"),
]


@dataclass
class Outcome:
    case: str
    kind: str
    expect: str
    exit_code: int | None
    traceback: bool
    first_line: str
    seconds: float

    @property
    def verdict(self) -> str:
        if self.exit_code is None:
            return "timeout"
        if self.traceback:
            return "traceback"
        if self.exit_code < 0:
            return f"killed by signal {-self.exit_code}"
        if self.exit_code == 0:
            return "accepted silently" if self.expect == "error" else "accepted"
        return "refused valid input" if self.expect == "ok" else "clean error"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "verdict": self.verdict}


@dataclass
class BadInputResult:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def tracebacks(self) -> int:
        return sum(o.verdict == "traceback" for o in self.outcomes)

    @property
    def accepted_silently(self) -> int:
        return sum(o.verdict == "accepted silently" for o in self.outcomes)

    @property
    def refused_valid(self) -> int:
        return sum(o.verdict == "refused valid input" for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {"tracebacks": self.tracebacks, "accepted_silently": self.accepted_silently,
                "refused_valid": self.refused_valid,
                "seconds": self.seconds, "outcomes": [o.to_dict() for o in self.outcomes]}


def prepare(workdir: Path) -> dict[str, str]:
    """A small store (one run, one artifact ``data.bin``) and the odd files the cases name."""
    import lineal
    from lineal.store import open_store

    folder = workdir / "badinput-store"
    store = open_store(folder)
    try:
        data = workdir / "data.bin"
        data.write_bytes(b"some bytes")
        with lineal.run("baseline", capture=False, store=store, params={"lr": 0.1}) as run:
            run.log_metric("loss", 0.5)
            run.log_artifact(data)
    finally:
        store.close()
    empty = workdir / "empty-store"
    empty.mkdir()
    (empty / "lineal.db").write_bytes(b"")
    garbage = workdir / "garbage-store"
    garbage.mkdir()
    (garbage / "lineal.db").write_bytes(b"this is not a database\n" * 100)
    a_file = workdir / "a-file.txt"
    a_file.write_text("hello\n")
    return {"store": str(folder), "tmp": str(workdir), "empty_db": str(empty),
            "garbage_db": str(garbage), "a_file": str(a_file)}


def run_case(case: Case, places: dict[str, str]) -> Outcome:
    import shlex

    env = child_env(LINEAL_URI=places["store"])
    if case.kind == "cli":
        argv = [sys.executable, "-m", "lineal.cli", *shlex.split(case.what.format(**places))]
    else:
        argv = [sys.executable, "-c", WRAPPER, case.what]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                              cwd=places["tmp"])
    except subprocess.TimeoutExpired:
        return Outcome(case.name, case.kind, case.expect, None, False, "(timed out)",
                       round(time.monotonic() - started, 1))
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if TRACEBACK in done.stderr:  # the exception line says more than "Traceback ..."
        first = lines[-1]
    else:  # click prints its usage before the error line: show the error
        first = next((line for line in lines if line.lower().startswith("error")), first)
    return Outcome(case.name, case.kind, case.expect, done.returncode, TRACEBACK in done.stderr,
                   first[:160], round(time.monotonic() - started, 1))


def campaign(workdir: Path, limit: int | None = None) -> BadInputResult:
    """Run every case (or the first ``limit``)."""
    result = BadInputResult()
    started = time.monotonic()
    places = prepare(workdir)
    cases = CASES if limit is None else _spread(CASES, limit)
    for case in cases:
        result.outcomes.append(run_case(case, places))
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _spread(cases: list[Case], limit: int) -> list[Case]:
    """``limit`` cases taken evenly from the list, CLI and SDK both represented."""
    if limit >= len(cases):
        return cases
    step = len(cases) / limit
    return [cases[int(i * step)] for i in range(limit)]
