"""The SDK and the CLI, unchanged, against a real ``lineal server`` process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.conftest import messages

from lineal.server.testing import ServerProcess, free_port

pytestmark = pytest.mark.slow


def lineal_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lineal.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


def test_sdk_and_cli_through_a_server_with_auth(tmp_path: Path) -> None:
    backend = tmp_path / "store"
    made = lineal_cli("store", "init", "--uri", str(backend), env={})
    assert made.returncode == 0, made.stderr
    created = lineal_cli("token", "create", "--role", "writer", "--uri", str(backend), env={})
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    with ServerProcess(backend=str(backend), extra_args=["--auth"]) as server:
        env = {"LINEAL_URI": server.url, "LINEAL_TOKEN": secret}
        script = tmp_path / "train.py"
        script.write_text(
            "import lineal\n"
            "from pathlib import Path\n"
            "Path('data.csv').write_text('x,y\\n1,2\\n')\n"
            "with lineal.run(project='churn', name='fit', kind='train') as run:\n"
            "    run.log_params({'C': 0.5})\n"
            "    for step in range(50):\n"
            "        run.log_metric('loss', 1 / (step + 1), step=step)\n"
            "    run.use_dataset('data.csv', name='features')\n"
            "    print(run.id)\n")
        trained = subprocess.run([sys.executable, str(script)], cwd=tmp_path, text=True,
                                 capture_output=True, env={**os.environ, **env}, timeout=120)
        assert trained.returncode == 0, trained.stderr
        run_id = trained.stdout.strip()

        listed = lineal_cli("runs", "list", "--filter", "metrics.loss < 0.1", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        assert run_id in listed.stdout
        shown = lineal_cli("trained-on", run_id, "--json", env=env)
        assert shown.returncode == 0 and "features" in shown.stdout, shown.stderr

        # Without the token: one line, exit code of Unauthenticated, nothing written.
        refused = lineal_cli("runs", "list", env={"LINEAL_URI": server.url, "LINEAL_TOKEN": ""})
        assert refused.returncode != 0
        assert len(messages(refused.stderr)) == 1 and "error:" in refused.stderr

    # The run and its ledger entries name the token's principal, not the OS account.
    audit = lineal_cli("audit", "log", "--json", "--uri", str(backend), env={})
    assert audit.returncode == 0, audit.stderr
    assert "token:" in audit.stdout


def test_an_unreachable_server_is_one_clear_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = lineal_cli("runs", "list", env={"LINEAL_URI": url})
    assert result.returncode == 8
    assert result.stderr.strip() == (
        f"error: lineal server {url} is not reachable: ConnectError: [Errno 111] Connection "
        "refused (check that `lineal server` runs there and LINEAL_URI is right)")
