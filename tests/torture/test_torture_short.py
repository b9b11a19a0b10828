"""The torture harness must not rot, and its short run must find nothing lost or corrupt.

Each campaign of ``torture/`` (``make torture``) runs its quick mode here on real SQLite and
PostgreSQL: a few SIGKILLs per backend, two concurrent writers, a few bad inputs, three tamper
cases. The figures themselves are published by ``make torture`` in ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from torture.common import NOT_AVAILABLE, child_env  # noqa: E402

from torture import badinput, kill, report, tamper, writers  # noqa: E402

pytestmark = pytest.mark.slow


def _admin(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The fresh database of the conftest fixture serves as the server's admin connection."""
    return None if backend == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.mark.parametrize("backend,kills", [("sqlite", 5), ("postgres", 3)])
def test_sigkill_loses_nothing_acknowledged(backend: str, kills: int, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    result = kill.campaign(backend, kills, tmp_path, max_delay=0.8, admin=_admin(backend, request))
    assert result.iterations == kills
    assert result.acknowledged > 0, result.examples  # the children did work before dying
    assert result.killed_while_opening + result.finished_before_kill <= kills
    assert result.child_errors == 0, result.examples
    assert result.reopen_failures == 0, result.examples
    assert result.lost == 0 and result.lost_at_end == 0, result.examples
    assert result.corrupt == 0, result.examples
    assert result.stale_runs >= 0 and result.leftover >= 0
    for after in (result.stale_after_close, result.leftover_after_gc):
        assert isinstance(after, int) or after == NOT_AVAILABLE or after.startswith(("error", "gc"))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_writers_count_up(backend: str, tmp_path: Path,
                                     request: pytest.FixtureRequest) -> None:
    result = writers.campaign(backend, 2, 2, tmp_path, _admin(backend, request))
    assert result.errors == 0, result.examples
    assert result.runs == 4 and result.versions == 8
    assert result.alias_moves + result.conflicts == 4
    assert result.alias_moves >= 1
    assert result.lost == 0, result.examples
    assert result.verify_ok and result.audit_ok, result.examples


def test_bad_input_cases_are_recorded(tmp_path: Path) -> None:
    result = badinput.campaign(tmp_path, 5)
    assert len(result.outcomes) == 5
    assert {o.kind for o in result.outcomes} == {"cli", "sdk"}
    for outcome in result.outcomes:
        assert outcome.exit_code is not None, outcome
        assert outcome.verdict in ("traceback", "clean error", "accepted", "accepted silently",
                                   "refused valid input"), outcome
    assert any(o.verdict == "clean error" and o.first_line.startswith("error:")
               for o in result.outcomes)


def test_bad_input_tells_a_traceback_from_a_clean_error(tmp_path: Path) -> None:
    places = {"store": str(tmp_path / "store"), "tmp": str(tmp_path)}
    crash = badinput.run_case(badinput.Case("crash", "sdk", "raise RuntimeError('boom')"), places)
    assert crash.traceback and crash.verdict == "traceback"
    assert crash.first_line == "RuntimeError: boom"
    clean = badinput.run_case(
        badinput.Case("clean", "sdk", "raise lineal.InvalidArgument('bad thing')"), places)
    assert not clean.traceback and clean.verdict == "clean error"
    assert clean.first_line == "error: bad thing"
    fine = badinput.run_case(badinput.Case("fine", "cli", "--help", expect="any"), places)
    assert fine.verdict == "accepted"


def test_tampering_is_caught_where_the_design_can(tmp_path: Path) -> None:
    result = tamper.campaign(tmp_path, 3)
    assert result.control_ok, result.control_detail
    assert [o.case for o in result.outcomes] == list(tamper.QUICK)
    assert all(o.applied == "yes" for o in result.outcomes), result.to_dict()
    assert not any(o.traceback for o in result.outcomes), result.to_dict()
    assert result.missed == 0, result.to_dict()
    by_name = {o.case: o for o in result.outcomes}
    assert "row-altered" in by_name["run param edited"].audit_kinds
    assert "corrupt-blob" in by_name["blob's bytes replaced (same size)"].verify_kinds


def test_every_tamper_case_applies_to_this_schema(tmp_path: Path) -> None:
    """The tampering itself (not the checks) for every case, so none rots unseen."""
    import shutil
    import sqlite3

    template = tmp_path / "template"
    ctx = tamper.build_template(template)
    for i, case in enumerate(tamper.CASES):
        folder = tmp_path / f"case-{i}"
        shutil.copytree(template, folder)
        conn = sqlite3.connect(folder / "lineal.db", isolation_level=None)
        try:
            conn.execute("BEGIN")
            case.tamper(conn, folder, ctx)
            conn.execute("COMMIT")
        finally:
            conn.close()


def test_run_writes_a_labelled_quick_page(tmp_path: Path) -> None:
    page, raw = tmp_path / "reliability.md", tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "torture" / "run.py"), "--quick", "--only", "badinput",
         "--bad-inputs", "2", "--output", str(page), "--json", str(raw)],
        env=child_env(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert "QUICK RUN" in text and "## 3. Bad input" in text and "## Machine" in text
    assert "Command: `python torture/run.py --quick --only badinput" in text
    assert "synchronous=" in text
    assert json.loads(raw.read_text())["quick"] is True


def test_report_renders_every_section_and_unavailable_checks() -> None:
    results: dict[str, Any] = {
        "kill": [
            {"backend": "sqlite", "iterations": 2, "killed_while_opening": 1,
             "finished_before_kill": 0, "acknowledged": 9, "lost": 0, "corrupt": 0,
             "reopen_failures": 0, "stale_runs": 1, "stale_after_close": NOT_AVAILABLE,
             "leftover": 2, "leftover_after_gc": 0, "debris_reports": 0, "seconds": 1.0,
             "examples": []},
            {"backend": "mariadb", "skipped": "unreachable"},
        ],
        "writers": [{"backend": "sqlite", "writers": 2, "per_writer": 1, "runs": 2,
                     "versions": 4, "alias_moves": 1, "conflicts": 1, "errors": 0, "lost": 0,
                     "verify_ok": True, "audit_ok": True, "seconds": 1.0, "examples": []}],
        "badinput": {"tracebacks": 1, "accepted_silently": 0, "refused_valid": 0, "outcomes": [
            {"case": "a|b", "kind": "cli", "expect": "error", "exit_code": 1, "traceback": True,
             "first_line": "OverflowError: x", "verdict": "traceback"}]},
        "tamper": {"control_ok": True, "control_detail": "", "missed": 0, "outcomes": [
            {"case": "rewrite", "applied": "yes", "audit_exit": 0, "audit_kinds": [],
             "verify_exit": 0, "verify_kinds": [], "expected": "by design", "why": "no anchor",
             "caught": False}]},
    }
    text = report.render(results, "python torture/run.py", {"nproc": "2"}, quick=False)
    assert "QUICK RUN" not in text
    for heading in ("## 1. SIGKILL", "## 2. Concurrent writers", "## 3. Bad input", "## 4. Tampering"):
        assert heading in text
    assert f"| ... still `running` after `close_stale_runs` | {NOT_AVAILABLE} | 0 |" in text
    assert "| ... left after `lineal gc` | 0 | 0 |" in text
    assert "skipped: unreachable" in text
    assert "a\\|b" in text  # a pipe in a cell does not break the table
    assert "**rewrite**: no anchor." in text
