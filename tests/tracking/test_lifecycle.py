"""How runs end: normally, by exception, by Ctrl-C, by SIGTERM, or at interpreter exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import lineal
from lineal.store import Store, open_store


def test_exception_marks_failed_and_propagates(store: Store) -> None:
    with pytest.raises(ZeroDivisionError), lineal.run("bad", capture=False) as run:
        run.log_metric("x", 1)
        1 / 0  # noqa: B018
    record = lineal.get_run(run.id)
    assert record.status == lineal.RunStatus.FAILED
    assert record.error is not None and record.error.type == "ZeroDivisionError"
    assert "1 / 0" in record.error.traceback
    assert record.metrics == {"x": 1.0}, "buffered metrics are flushed even on failure"


def test_a_changed_param_is_refused_where_it_is_logged(store: Store) -> None:
    # Once refused only by the store at run end (the run still said finished); now the run
    # knows what it logged, refuses the change on the line that makes it, and fails.
    with pytest.raises(lineal.Conflict, match="immutable"), lineal.run("p", capture=False) as run:
        run.log_params({"lr": 0.1})
        run.flush()
        run.log_params({"lr": 0.2})
    record = lineal.get_run(run.id)
    assert record.status == lineal.RunStatus.FAILED and record.ended_at is not None
    assert record.error is not None and "already logged as 0.1" in record.error.message
    assert record.params == {"lr": 0.1}


def test_keyboard_interrupt_marks_killed(store: Store) -> None:
    with pytest.raises(KeyboardInterrupt), lineal.run("stopped", capture=False) as run:
        raise KeyboardInterrupt
    assert lineal.get_run(run.id).status == lineal.RunStatus.KILLED


def test_decorator_records_each_call(store: Store) -> None:
    @lineal.run("scored", kind="evaluate", capture=False)
    def score(x: int) -> int:
        active = lineal.active_run()
        assert active is not None
        active.log_metric("x", x)
        return x * 2

    assert score(2) == 4 and score(3) == 6
    runs = lineal.list_runs(name="scored")
    assert len(runs) == 2 and {r.metrics["x"] for r in runs} == {2.0, 3.0}


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_sigterm_marks_killed_and_flushes(tmp_path: Path) -> None:
    uri = tmp_path / "s"
    script = _script(tmp_path, """
        import sys, time, lineal
        with lineal.run("long", capture=False) as run:
            for i in range(10):
                run.log_metric("i", i)
            print(run.id, flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "LINEAL_URI": str(uri)})
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    record = lineal.get_run(run_id, store=open_store(uri))
    assert record.status == lineal.RunStatus.KILLED
    assert len(lineal.metric_history(run_id, "i", store=open_store(uri))) == 10


def test_unended_run_is_flushed_at_exit(tmp_path: Path) -> None:
    uri = tmp_path / "s"
    script = _script(tmp_path, """
        import lineal
        run = lineal.start_run("forgotten", capture=False)
        for i in range(1000):
            run.log_metric("i", i)
        print(run.id)
    """)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                         env={**os.environ, "LINEAL_URI": str(uri)})
    store = open_store(uri)
    record = lineal.get_run(out.stdout.strip(), store=store)
    assert record.status == lineal.RunStatus.FINISHED
    assert len(lineal.metric_history(record.id, "i", store=store)) == 1000
