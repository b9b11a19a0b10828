"""``lineal token create|list|revoke``: the real entry point, in-process."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from tests.cli.conftest import messages

from lineal.auth import Authenticator, AuthSettings, Role
from lineal.store import open_store

from .conftest import bearer


def lineal_cli(*args: str) -> tuple[int, str, str]:
    from lineal.cli import main

    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        return code, out.getvalue().decode(), err.getvalue().decode()


def test_create_prints_the_secret_once_and_it_authenticates(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    code, out, err = lineal_cli("--uri", uri, "token", "create", "--role", "writer",
                                "--project", "churn", "--expires", "30d", "--name", "ci")
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("lnl_") and "\n" not in secret, "stdout is the secret alone"
    assert "shown this once" in err and "writer in churn" in err
    store = open_store(uri)
    try:
        principal = Authenticator(AuthSettings(enabled=True), store).authenticate(bearer(secret), None)
        assert principal.role_in("churn") is Role.WRITER
    finally:
        store.close()
    code, out, _ = lineal_cli("--uri", uri, "token", "list")
    assert code == 0 and "ci" in out and "writer" in out and "churn" in out and "active" in out
    assert secret not in out


def test_json_list_and_revoke(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    code, out, err = lineal_cli("--uri", uri, "token", "create", "--role", "admin", "--json")
    assert code == 0, err
    made = json.loads(out)
    assert made["secret"].startswith("lnl_") and made["project"] is None
    assert made["role"] == "admin" and made["status"] == "active"
    code, out, _ = lineal_cli("--uri", uri, "token", "list", "--json")
    listed = json.loads(out)
    assert [t["id"] for t in listed] == [made["id"]] and "secret" not in listed[0]
    code, out, err = lineal_cli("--uri", uri, "token", "revoke", made["id"][:10])
    assert code == 0, err
    assert f"revoked token {made['id']}" in out
    code, out, _ = lineal_cli("--uri", uri, "token", "revoke", made["id"], "--json")
    assert code == 0 and json.loads(out)["status"] == "revoked"
    code, out, _ = lineal_cli("--uri", uri, "token", "list", "--project", "churn")
    assert code == 0 and "no API tokens" in out


def test_bad_input_is_one_line_and_its_exit_code(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    code, _, err = lineal_cli("--uri", uri, "token", "create", "--role", "owner")
    assert code == 2 and "owner" in err
    code, _, err = lineal_cli("--uri", uri, "token", "create", "--role", "reader",
                              "--expires", "soon")
    assert code == 2 and err.startswith("error: 'soon' is not an age") and len(messages(err)) == 1
    code, _, err = lineal_cli("--uri", uri, "token", "revoke", "01NOSUCHTOKEN")
    assert code == 3 and "no API token" in err
