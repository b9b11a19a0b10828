"""Campaign 4: tampering behind lineal's back, and whether ``lineal audit verify`` or ``lineal
verify`` notices.

A small SQLite store (runs with params and metrics, artifact versions, a registered model with
an alias) is built once; each case copies it, changes the copy with raw SQL or a file edit, and
runs both commands on the copy through the CLI's entry point. A case is caught when either exits non-zero.

Two cases are expected NOT to be caught, by design, and the report names them: a hash chain
proves that entries were not changed *relative to each other*, so whoever can write the database
can recompute every hash after an edit, or append well-formed entries at the tip. Only a head
hash recorded outside the database (``lineal audit verify`` prints it) closes that gap.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torture.common import TRACEBACK, child_env

Tamper = Callable[[sqlite3.Connection, Path, dict[str, Any]], None]
BY_DESIGN = "by design"


@dataclass(frozen=True)
class Case:
    name: str
    tamper: Tamper
    expected: str  # caught | by design: why a hash chain without an outside anchor cannot see it
    why: str = ""


@dataclass
class TamperOutcome:
    case: str
    applied: str  # "yes" or why the tamper could not be applied to this build's schema
    audit_exit: int | None = None
    audit_kinds: list[str] = field(default_factory=list)
    verify_exit: int | None = None
    verify_kinds: list[str] = field(default_factory=list)
    traceback: bool = False
    expected: str = "caught"
    why: str = ""

    @property
    def caught(self) -> bool:
        return bool(self.audit_exit) or bool(self.verify_exit)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "caught": self.caught}


@dataclass
class TamperResult:
    control_ok: bool = False
    control_detail: str = ""
    outcomes: list[TamperOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def missed(self) -> int:
        """Cases that should have been caught and were not."""
        return sum(1 for o in self.outcomes
                   if o.applied == "yes" and o.expected == "caught" and not o.caught)

    def to_dict(self) -> dict[str, Any]:
        return {"control_ok": self.control_ok, "control_detail": self.control_detail,
                "missed": self.missed, "seconds": self.seconds,
                "outcomes": [o.to_dict() for o in self.outcomes]}


# -- the store the cases start from ------------------------------------------------------------
def build_template(folder: Path) -> dict[str, Any]:
    """Runs, metrics, artifacts, a registered model with two versions and an alias."""
    import lineal
    from lineal import registry
    from lineal.store import open_store

    store = open_store(folder)
    ctx: dict[str, Any] = {}
    try:
        files = folder.parent / "template-files"
        files.mkdir(exist_ok=True)
        for i in range(3):
            with lineal.run(f"train-{i}", kind="train", capture=False, store=store,
                            params={"lr": 0.1 * (i + 1), "depth": i}) as run:
                for step in range(5):
                    run.log_metric("loss", 1.0 / (step + 1 + i), step)
                data = files / f"data-{i}.csv"
                data.write_text(f"x,y\n{i},{i * 2}\n")
                version = run.log_artifact(data, name="data.csv", kind="dataset")
                model = files / f"model-{i}.bin"
                model.write_bytes(f"model {i}".encode() * 50)
                model_version = run.log_artifact(model, name="model.bin", kind="model")
            registry.register_model("churn", model_version, store=store)
            ctx.setdefault("run", run.id)
            ctx.setdefault("version", version.id)
            ctx.setdefault("digest", version.digest)
        # Content nobody logged: a digest edited to it points at bytes the store never held.
        ctx["other_digest"] = "sha256:" + hashlib.sha256(b"forged content").hexdigest()
        registry.set_alias("churn@v1", "prod", store=store)
        registry.set_alias("churn@v2", "prod", store=store)
    finally:
        store.close()
    return ctx


def blob_path(folder: Path, digest: str) -> Path:
    hexpart = digest.partition(":")[2]
    return folder / "blobs" / "sha256" / hexpart[:2] / hexpart[2:]


# -- the cases ---------------------------------------------------------------------------------------
def _sql(statement: str, *params: Any) -> Tamper:
    def tamper(conn: sqlite3.Connection, folder: Path, ctx: dict[str, Any]) -> None:
        values = [ctx[p[1:]] if isinstance(p, str) and p.startswith(":") else p for p in params]
        if conn.execute(statement, values).rowcount == 0:
            raise LookupError(f"no row changed by {statement!r}")

    return tamper


def _reorder(conn: sqlite3.Connection, folder: Path, ctx: dict[str, Any]) -> None:
    conn.execute("UPDATE ledger SET seq = -1 WHERE seq = 5")
    conn.execute("UPDATE ledger SET seq = 5 WHERE seq = 6")
    conn.execute("UPDATE ledger SET seq = 6 WHERE seq = -1")


def _truncate_tail(conn: sqlite3.Connection, folder: Path, ctx: dict[str, Any]) -> None:
    (last,) = conn.execute("SELECT max(seq) FROM ledger").fetchone()
    conn.execute("DELETE FROM ledger WHERE seq > ?", (last - 3,))


def _replace_blob(conn: sqlite3.Connection, folder: Path, ctx: dict[str, Any]) -> None:
    path = blob_path(folder, ctx["digest"])
    path.chmod(0o644)
    size = path.stat().st_size
    path.write_bytes(b"X" * size)  # same size: only a re-hash can tell


def _delete_blob(conn: sqlite3.Connection, folder: Path, ctx: dict[str, Any]) -> None:
    blob_path(folder, ctx["digest"]).unlink()


def _rehash_from(conn: sqlite3.Connection, seq: int) -> None:
    """Recompute every entry's hash from ``seq`` on and move the head: a consistent chain."""
    from lineal.store.sql.database import GENESIS_HASH, chain_hash

    row = conn.execute("SELECT hash FROM ledger WHERE seq = ?", (seq - 1,)).fetchone()
    prev = row[0] if row else GENESIS_HASH
    entries = conn.execute("SELECT seq, ts, actor, action, entity_type, entity_id, "
                           "payload_digest FROM ledger WHERE seq >= ? ORDER BY seq", (seq,))
    for s, ts, actor, action, etype, eid, digest in entries.fetchall():
        new = chain_hash(prev, s, ts, actor, action, etype, eid, digest)
        conn.execute("UPDATE ledger SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, new, s))
        prev, last = new, s
    conn.execute("UPDATE ledger_head SET seq = ?, hash = ?", (last, prev))


def _rows(conn: sqlite3.Connection, table: str, where: str, *params: Any) -> list[dict[str, Any]]:
    from lineal.store.sql.database import ledgered_columns

    columns = ledgered_columns(table)
    cursor = conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {where}", params)
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _rewrite_chain(conn: sqlite3.Connection, folder: Path, ctx: dict[str, Any]) -> None:
    """Change a param, then re-digest its entry and rehash the chain from there."""
    from lineal.store.sql.database import payload_digest

    conn.execute("UPDATE run_params SET value = '0.5' WHERE run_id = ? AND key = 'lr'",
                 (ctx["run"],))
    (seq,) = conn.execute("SELECT ledger_seq FROM run_params WHERE run_id = ? AND key = 'lr'",
                          (ctx["run"],)).fetchone()
    rows = _rows(conn, "run_params", "ledger_seq = ?", seq)
    conn.execute("UPDATE ledger SET payload_digest = ? WHERE seq = ?",
                 (payload_digest("run_params", rows), seq))
    _rehash_from(conn, seq)


def _append_forged(conn: sqlite3.Connection, folder: Path, ctx: dict[str, Any]) -> None:
    """Insert a run nobody ran, with a well-formed ledger entry at the tip."""
    from lineal.store.sql.database import payload_digest

    template = conn.execute("SELECT action, entity_type, actor, ts FROM ledger WHERE entity_id = ? "
                            "ORDER BY seq LIMIT 1", (ctx["run"],)).fetchone()
    (head,) = conn.execute("SELECT seq FROM ledger_head").fetchone()
    seq = head + 1
    conn.execute("INSERT INTO runs (id, project, name, kind, status, started_at, created_by, "
                 "ledger_seq) SELECT '01FORGEDFORGEDFORGEDFORGED', project, 'ghost', kind, "
                 "'finished', started_at, created_by, ? FROM runs WHERE id = ?", (seq, ctx["run"]))
    rows = _rows(conn, "runs", "id = '01FORGEDFORGEDFORGEDFORGED'")
    action, etype, actor, ts = template
    conn.execute("INSERT INTO ledger (seq, ts, actor, action, entity_type, entity_id, "
                 "payload_digest, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, '', '')",
                 (seq, ts, actor, action, etype, "01FORGEDFORGEDFORGEDFORGED",
                  payload_digest("runs", rows)))
    _rehash_from(conn, seq)


CASES: list[Case] = [
    Case("ledger entry's payload digest edited",
         _sql("UPDATE ledger SET payload_digest = 'sha256:' || hex(randomblob(32)) WHERE seq = 3"),
         "caught"),
    Case("ledger entry deleted", _sql("DELETE FROM ledger WHERE seq = 4"), "caught"),
    Case("ledger entries reordered", _reorder, "caught"),
    Case("run param edited", _sql("UPDATE run_params SET value = '0.5' WHERE run_id = ? "
                                  "AND key = 'lr'", ":run"), "caught"),
    Case("metric value edited", _sql("UPDATE metrics SET value = 42.0 WHERE run_id = ? AND "
                                     "step = 2", ":run"), "caught"),
    Case("latest_metrics edited", _sql("UPDATE latest_metrics SET value = 0.001 WHERE run_id = ?",
                                       ":run"), "caught"),
    Case("artifact version's digest edited",
         _sql("UPDATE artifact_versions SET digest = ? WHERE id = ?", ":other_digest", ":version"),
         "caught"),
    Case("blob's bytes replaced (same size)", _replace_blob, "caught"),
    Case("blob deleted", _delete_blob, "caught"),
    Case("registry alias row edited",
         _sql("UPDATE model_aliases SET version_id = (SELECT id FROM model_versions "
              "WHERE version = 3) WHERE alias = 'prod'"), "caught"),
    Case("ledger tail truncated (last 3 entries)", _truncate_tail, "caught"),
    Case("whole chain rewritten consistently after a param edit", _rewrite_chain, BY_DESIGN,
         "every hash from the edited entry on is recomputed and the head moved: the chain is "
         "self-consistent, so only a head hash kept outside the database shows the change"),
    Case("forged run appended with a well-formed entry at the tip", _append_forged, BY_DESIGN,
         "whoever can write the database can extend the chain; the ledger proves order and "
         "integrity, not who was allowed to write (compare the head with a recorded one)"),
]
QUICK = ("run param edited", "blob's bytes replaced (same size)",
         "whole chain rewritten consistently after a param edit")


# Both commands in one child process, each through the CLI's entry point exactly as `lineal`
# runs it (exit code, stdout, stderr), to pay the interpreter start-up once per case.
CHECKER = """\
import contextlib, io, json, sys, traceback
from lineal.cli import main
out = {}
for name, argv in (("audit", ["audit", "verify"]), ("verify", ["verify"])):
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(["--uri", sys.argv[1], *argv, "--json"]) or 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
    out[name] = [code, stdout.getvalue(), stderr.getvalue()]
print(json.dumps(out))
"""


def _check(folder: Path) -> dict[str, tuple[int, list[str], bool]]:
    """``{"audit": (exit, problem kinds, traceback?), "verify": (...)}`` for the store."""
    done = subprocess.run([sys.executable, "-c", CHECKER, str(folder)], env=child_env(),
                          capture_output=True, text=True, timeout=600)
    try:
        raw = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        line = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {name: (done.returncode or 1, [line[:100]], TRACEBACK in done.stderr)
                for name in ("audit", "verify")}
    checks = {}
    for name, (code, stdout, stderr) in raw.items():
        try:
            kinds = sorted({p["kind"] for p in json.loads(stdout)["problems"]})
        except (ValueError, KeyError, TypeError):
            line = (stderr.strip().splitlines() or [""])[-1]
            kinds = [line[:100]] if line else []
        checks[name] = (code, kinds, TRACEBACK in stderr)
    return checks


def run_case(case: Case, template: Path, ctx: dict[str, Any], workdir: Path) -> TamperOutcome:
    folder = workdir / f"tamper-{abs(hash(case.name)) % 10**8}"
    shutil.copytree(template, folder)
    outcome = TamperOutcome(case.name, "yes", expected=case.expected, why=case.why)
    conn = sqlite3.connect(folder / "lineal.db", isolation_level=None)
    try:
        conn.execute("BEGIN")
        case.tamper(conn, folder, ctx)
        conn.execute("COMMIT")
    except (sqlite3.Error, OSError, LookupError, ImportError, TypeError, KeyError) as error:
        outcome.applied = f"not applied: {type(error).__name__}: {error}"
        return outcome
    finally:
        conn.close()
    checks = _check(folder)
    outcome.audit_exit, outcome.audit_kinds, tb1 = checks["audit"]
    outcome.verify_exit, outcome.verify_kinds, tb2 = checks["verify"]
    outcome.traceback = tb1 or tb2
    shutil.rmtree(folder, ignore_errors=True)
    return outcome


def campaign(workdir: Path, limit: int | None = None) -> TamperResult:
    """Every case (``limit``: the quick subset first, then the others, up to ``limit``)."""
    result = TamperResult()
    started = time.monotonic()
    template = workdir / "tamper-template"
    ctx = build_template(template)
    checks = _check(template)
    (code, kinds, _), (code2, kinds2, _) = checks["audit"], checks["verify"]
    result.control_ok = code == 0 and code2 == 0
    result.control_detail = f"audit verify exit {code} {kinds}; verify exit {code2} {kinds2}"
    cases = sorted(CASES, key=lambda c: c.name not in QUICK)[:limit] if limit else CASES
    for case in cases:
        result.outcomes.append(run_case(case, template, ctx, workdir))
    result.seconds = round(time.monotonic() - started, 1)
    return result


if __name__ == "__main__":  # a quick look: python torture/tamper.py
    import tempfile

    found = campaign(Path(tempfile.mkdtemp(prefix="lineal-torture-tamper-")))
    print(json.dumps(found.to_dict(), indent=2))
    raise SystemExit(0 if found.missed == 0 else 1)
