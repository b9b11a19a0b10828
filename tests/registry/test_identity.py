"""Who acts: one principal, the OS account read from the OS. No public ``actor=`` anywhere, the
login environment variables change nothing, and the ledger, registry events, approvals, runs
and deployments record the OS account."""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Callable
from typing import Any

import click
import pytest

import lineal
from lineal import deployments, lineage, registry
from lineal.errors import InvalidArgument
from lineal.identity import _acting_as, current_principal, os_account
from lineal.store import Store

Lineal = Callable[..., Any]  # the lineal_cli fixture (tests/registry/conftest.py)


def _os_name() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def test_the_principal_is_the_os_account_not_the_login_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.setenv(variable, "alice")
    assert os_account() == current_principal() == _os_name() != "alice"
    from lineal.capture._system import probe_host

    assert probe_host()["user"] == _os_name()


def test_environment_variables_do_not_change_who_acts(
    backend_store: Store, train: Callable, lineal_cli: Lineal, ledger_size: Callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    me = _os_name()
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("LOGNAME", "alice")
    artifact = train(backend_store, "m1")  # its environment and code inputs are by 'tester'
    before = ledger_size(backend_store)
    version = registry.register_model("churn", artifact.ref)
    assert lineal_cli("registry", "alias", "churn@v1", "candidate").code == 0
    r = lineal_cli("registry", "approve", "churn@v1", "--json")
    assert r.code == 0 and r.json()["actor"] == me, r
    lineage.taint(artifact.ref, "leaked labels")
    deployments.record_deployment("churn@v1", name="api", environment="dev", capture=False)

    entries = [e for e in lineal.audit.log(limit=1_000_000) if e.seq > before]
    assert entries and {e.actor for e in entries} == {me}
    assert lineal.audit.log(actor="alice") == []
    assert {e.actor for e in registry.history("churn")} == {me}
    assert version.created_by == me and registry.get_model("churn").created_by == me
    assert lineal.get_run(artifact.producer_run_id).created_by == me  # a run started in train
    assert {t.actor for t in lineage.taints()} == {me}
    assert deployments.current("dev")[0].created_by == me


def test_no_public_function_takes_actor(backend_store: Store) -> None:
    """Nobody names who they are: every public SDK function refuses ``actor=``."""
    with pytest.raises(TypeError, match="actor"):
        registry.set_alias("churn@v1", "prod", actor="alice")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="actor"):
        registry.set_admins(["bob"], actor="alice")  # type: ignore[call-arg]
    modules = [(registry, registry.__all__), (deployments, deployments.__all__),
               (lineage, lineage.__all__), (lineal, lineal.__all__)]
    offenders = []
    for module, names in modules:
        for name in names:
            value = getattr(module, name)
            functions = [value] if inspect.isfunction(value) else [
                f for _, f in inspect.getmembers(value, inspect.isfunction)
            ] if inspect.ismodule(value) else []
            offenders += [f"{f.__module__}.{f.__qualname__}" for f in functions
                          if not f.__name__.startswith("_")
                          and "actor" in inspect.signature(f).parameters
                          and f.__module__ != "lineal.audit"]  # audit.log(actor=) is a filter
    assert offenders == []


def test_no_cli_command_takes_the_user() -> None:
    from lineal.cli import cli

    def walk(command: click.Command, path: str) -> list[str]:
        found = [f"{path} {p.opts}" for p in command.params
                 if any(o in ("--actor", "--user", "--as") for o in getattr(p, "opts", ()))]
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                found += walk(command.get_command(ctx, name), f"{path} {name}")  # type: ignore[arg-type]
        return found

    # `lineal audit --actor` filters the ledger; it does not say who acts.
    assert walk(cli, "lineal") == ["lineal audit log ['--actor']"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="running as another uid needs root")
def test_a_uid_without_a_passwd_entry_is_named_by_its_number() -> None:
    import pwd

    uid = next(u for u in range(54321, 60000) if not _has_entry(pwd, u))
    # A forked child drops to that uid (the interpreter itself may not be readable by it).
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.environ.update(USER="alice", LOGNAME="alice")
            os.setuid(uid)
            os.write(write, current_principal().encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 256).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == f"uid:{uid}"


def _has_entry(pwd: object, uid: int) -> bool:
    try:
        pwd.getpwuid(uid)  # type: ignore[attr-defined]
        return True
    except KeyError:
        return False


def test_the_internal_override_is_context_local() -> None:
    me = os_account()
    seen: list[str] = []
    with _acting_as("bob"):
        assert current_principal() == "bob"
        with _acting_as("carol"):
            assert current_principal() == "carol"
        assert current_principal() == "bob"
        # Another thread (another request, for a server) does not inherit it.
        worker = threading.Thread(target=lambda: seen.append(current_principal()))
        worker.start()
        worker.join()
    assert seen == [me] and current_principal() == me
    for bad in ("", "  ", "x" * 129):
        with pytest.raises(InvalidArgument, match="invalid principal"), _acting_as(bad):
            pass
