"""``lineal deploy``: record deployments, ask what is (or was) live, recover, roll back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidArgument
from .complete import complete_refs
from .registry import emit_json, open_cli_store, parse_pairs, print_table, when_text
from .render import LIMIT, PROJECT_OPTION, command_lines, prose_width, say, wide_option

if TYPE_CHECKING:
    from ..entities import Deployment


def _config(config: str | None, sets: Sequence[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if config:
        text = Path(config[1:]).read_text() if config.startswith("@") else config
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"--config is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidArgument("--config must be a JSON object")
    for key, value in parse_pairs(sets, "--set").items():
        try:
            data[key] = json.loads(value)
        except json.JSONDecodeError:
            data[key] = value  # a bare word is a string
    return data


def _rows(found: Sequence[Deployment]) -> list[tuple[Any, ...]]:
    return [
        (d.id, d.environment, d.name, d.model_ref, str(d.status),
         when_text(d.started_at), when_text(d.ended_at) if d.ended_at else "-")
        for d in found
    ]


_COLUMNS = ("id", "env", "name", "model", "status", "started", "ended")


def _show(title: str, found: Sequence[Deployment], as_json: bool) -> None:
    if as_json:
        emit_json([d.to_dict() for d in found])
    elif found:
        print_table(title, _COLUMNS, _rows(found))
    else:
        say(f"{title}: none")


@click.group()
def deploy() -> None:
    """Deployments of registered model versions: what is live where, since when, what was live
    at any time, how to redeploy it exactly, and rollbacks."""


@deploy.command("record")
@click.argument("model_ref", shell_complete=complete_refs)
@click.option("--name", required=True, help="Deployment name, e.g. the service: churn-api.")
@click.option("--env", "environment", required=True, help="Environment: staging, prod, ...")
@click.option("--target", default="", help="Where it serves: endpoint URL or service name.")
@click.option("--config", help="Configuration as a JSON object, or @file.json.")
@click.option("--set", "sets", multiple=True, help="Config KEY=VALUE (JSON value), repeatable.")
@click.option("--started-at", help="When it went live, if earlier than now.")
@click.option("--comment", default="", help="Why.")
@click.option("--expect-live", help="Id of the record expected live now, or 'none' (else Conflict).")
@click.option("--alias", help="Point this registry alias (prod) at the version, in the same "
              "transaction.")
@click.option("--no-capture", is_flag=True, help="Do not record this process's environment.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def record_command(
    ctx: click.Context, model_ref: str, name: str, environment: str, target: str,
    config: str | None, sets: tuple[str, ...], started_at: str | None, comment: str,
    expect_live: str | None, alias: str | None, no_capture: bool, as_json: bool,
) -> None:
    """Record that MODEL_REF (churn@prod, churn@v4) went live as --name in --env.

    The record live under the same name and environment, if any, ends now and is named as
    replaced by the new one.
    """
    from .. import deployments
    from ..entities import NOT_SET

    expected: Any = NOT_SET
    if expect_live is not None:
        expected = None if expect_live.lower() == "none" else expect_live.upper()
    d = deployments.record_deployment(
        model_ref, name=name, environment=environment, target=target,
        config=_config(config, sets), started_at=started_at, comment=comment,
        expected_live=expected, alias=alias, capture=not no_capture, store=open_cli_store(ctx, write=True),
    )
    if as_json:
        emit_json(d.to_dict())
        return
    replaced = f", replacing {d.replaces_id}" if d.replaces_id else ""
    moved = f"; alias {alias} -> v{d.model_version}" if alias else ""
    say(f"deployment {d.id}: {d.model_ref} live as {d.name} in {d.environment}{replaced}"
               f"{moved}")


@deploy.command("end")
@click.argument("deployment")
@click.option("--env", "environment", help="With a deployment NAME: its environment.")
@click.option("--failed", is_flag=True, help="It failed (default: stopped on purpose).")
@click.option("--at", "ended_at", help="When it ended, if earlier than now.")
@click.option("--comment", default="", help="Why.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def end_command(
    ctx: click.Context, deployment: str, environment: str | None, failed: bool,
    ended_at: str | None, comment: str, as_json: bool,
) -> None:
    """End a live deployment: by id, or by NAME with --env."""
    from .. import deployments

    d = deployments.end(deployment, environment, status="failed" if failed else "stopped",
                        ended_at=ended_at, comment=comment, store=open_cli_store(ctx, write=True))
    if as_json:
        emit_json(d.to_dict())
        return
    say(f"deployment {d.id} ({d.name} in {d.environment}) {d.status} at "
               f"{when_text(d.ended_at)}")


@deploy.command("current")
@click.option("--env", "environment", help="Only this environment.")
@click.option("--model", help="Only deployments of this model.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
@PROJECT_OPTION
@click.pass_context
def current_command(ctx: click.Context, project: str | None, environment: str | None, model: str | None, as_json: bool) -> None:
    """What is live now."""
    from .. import deployments

    found = deployments.current(environment, model=model, project=project, store=open_cli_store(ctx))
    _show("Live now" + (f" in {environment}" if environment else ""), found, as_json)


@deploy.command("at")
@click.argument("when")
@click.option("--env", "environment", help="Only this environment.")
@click.option("--model", help="Only deployments of this model.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
@PROJECT_OPTION
@click.pass_context
def at_command(ctx: click.Context, project: str | None, when: str, environment: str | None, model: str | None, as_json: bool) -> None:
    """What was live at WHEN: an instant (2026-11-17T14:30, '3d ago') or a whole day
    (2026-11-17, yesterday, 'last tuesday')."""
    from .. import deployments

    found = deployments.at(when, environment, model=model, project=project, store=open_cli_store(ctx))
    _show(f"Live at {when}" + (f" in {environment}" if environment else ""), found, as_json)


@deploy.command("timeline")
@click.argument("model", shell_complete=complete_refs)
@click.option("--env", "environment", help="Only this environment.")
@click.option("-n", "--limit", type=LIMIT, default=1000, show_default=True,
              help="At most this many, the most recent.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
@PROJECT_OPTION
@click.pass_context
def timeline_command(
    ctx: click.Context, project: str | None, model: str, environment: str | None, limit: int, as_json: bool
) -> None:
    """Every deployment of MODEL (churn) or of one version (churn@v3), oldest first: the last row
    is what was deployed most recently. REPLACES and RESTORES name the records a deployment took
    over from and, for a rollback, redeployed."""
    from .. import deployments

    found = deployments.timeline(model, environment, limit=limit, project=project, store=open_cli_store(ctx))
    if as_json or not found:
        _show(f"Deployments of {model}", found, as_json)
        return
    by_id = {d.id: d for d in found}
    print_table(
        f"Deployments of {model}" + (f" in {environment}" if environment else ""),
        (*_COLUMNS, "change"),
        [(*row, _change(d, by_id)) for row, d in zip(_rows(found), found, strict=True)],
    )


def _change(d: Deployment, by_id: dict[str, Deployment]) -> str:
    """How a record came to be, in a few words: first, replaces v2, rollback to v1."""
    def version_of(record_id: str | None) -> str:
        other = by_id.get(record_id or "")
        return f"v{other.model_version}" if other else (record_id or "")[:10]

    if d.restores_id:
        return f"rollback to {version_of(d.restores_id)} (replaces {version_of(d.replaces_id)})"
    return f"replaces {version_of(d.replaces_id)}" if d.replaces_id else "first"


@deploy.command("list")
@click.option("--env", "environment", help="Only this environment.")
@click.option("--name", help="Only this deployment name.")
@click.option("--model", help="Only deployments of this model.")
@click.option("--live", is_flag=True, help="Only live ones.")
@click.option("-n", "--limit", type=LIMIT, default=50, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
@PROJECT_OPTION
@click.pass_context
def list_command(
    ctx: click.Context, project: str | None, environment: str | None, name: str | None, model: str | None, live: bool,
    limit: int, as_json: bool,
) -> None:
    """Deployment records, newest first."""
    from .. import deployments

    found = deployments.list_deployments(environment=environment, name=name, model=model,
                                         live=live, limit=limit, project=project, store=open_cli_store(ctx))
    _show("Deployments", found, as_json)


@deploy.command("show")
@click.argument("deployment_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_command(ctx: click.Context, deployment_id: str, as_json: bool) -> None:
    """One deployment record (by id or a unique prefix)."""
    from .. import deployments

    d = deployments.get(deployment_id, store=open_cli_store(ctx))
    if as_json:
        emit_json(d.to_dict())
        return
    for key, value in (
        ("id", d.id), ("name", d.name), ("environment", d.environment), ("model", d.model_ref),
        ("status", str(d.status)), ("target", d.target or "-"),
        ("config", json.dumps(d.config, sort_keys=True)),
        ("started", f"{when_text(d.started_at)} by {d.created_by}"),
        ("ended", when_text(d.ended_at)), ("replaces", d.replaces_id or "-"),
        ("restores", d.restores_id or "-"), ("deploy run", d.run_id), ("comment", d.comment or "-"),
    ):
        say(f"{key:>12}  {value}")


@deploy.command("recover")
@click.argument("deployment")
@click.option("--env", "environment", help="With a deployment NAME: its environment.")
@click.option("--at", "when", help="With NAME and --env: the record live at this time (recover "
              "an endpoint deleted since).")
@click.option("--download", type=click.Path(path_type=Path), help="Also fetch the model here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def recover_command(
    ctx: click.Context, deployment: str, environment: str | None, when: str | None,
    download: Path | None, as_json: bool,
) -> None:
    """Everything needed to redeploy exactly what a deployment runs: model digest and URI,
    target, config, environment, and the registry state when it was deployed."""
    from .. import deployments
    from ..artifacts import download as fetch

    store = open_cli_store(ctx, write=True)
    rec = deployments.recover(deployment, environment, when=when, store=store)
    if download is not None:
        fetch(store, rec.artifact, download)
    if as_json:
        emit_json({**rec.to_dict(), "downloaded_to": str(download) if download else None})
        return
    d, a = rec.deployment, rec.artifact
    env = rec.serving_environment or {}
    training = rec.training_environment or {}
    git = (rec.training_code or {}).get("git") or {}
    state = rec.registry_at_deploy
    for key, value in (
        ("deployment", f"{d.id} {d.name} in {d.environment} ({d.status})"),
        ("model", f"{rec.model_version.ref} = {a.ref}"),
        ("digest", a.digest),
        ("uri", f"{a.uri} ({a.storage}, {a.size} bytes, "
                f"{'present' if rec.content_available else 'MISSING' if rec.content_available is False else 'not checked'})"),
        ("target", d.target or "-"),
        ("config", json.dumps(d.config, sort_keys=True)),
        ("registry then", f"stage {state['stage']}, aliases {', '.join(state['aliases']) or '-'}"),
        ("deployed from", f"python {(env.get('python') or {}).get('version', '?')}, "
                          f"{_packages_text(env)} ({env.get('ref', '-')})"),
        ("trained with", f"python {(training.get('python') or {}).get('version', '?')}, "
                         f"{_packages_text(training)} ({training.get('ref', '-')})"),
        ("code", _git_text(git)),
    ):
        say(f"{key:>14}  {value}")
    click.echo("\n".join(command_lines(f"{'redeploy':>14}  ", rec.redeploy_command,
                                        prose_width())))
    if download is not None:
        say(f"{'downloaded to':>14}  {download}")


@deploy.command("rollback")
@click.argument("name")
@click.option("--env", "environment", required=True, help="The environment.")
@click.option("--to", help="A deployment id or a model ref deployed there before "
              "(default: what the live record replaced).")
@click.option("--comment", default="", help="Why.")
@click.option("--alias", help="Move this registry alias (prod) back to the restored version, in "
              "the same transaction.")
@click.option("--no-capture", is_flag=True, help="Do not record this process's environment.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def rollback_command(
    ctx: click.Context, name: str, environment: str, to: str | None, comment: str,
    alias: str | None, no_capture: bool, as_json: bool,
) -> None:
    """Redeploy an earlier record of NAME in --env, as a new record that replaces the live one."""
    from .. import deployments

    d = deployments.rollback(name, environment, to=to, comment=comment, alias=alias,
                             capture=not no_capture, store=open_cli_store(ctx, write=True))
    if as_json:
        emit_json(d.to_dict())
        return
    moved = f"; alias {alias} -> v{d.model_version}" if alias else ""
    say(f"rolled back {name} in {environment} to {d.model_ref}: deployment {d.id} "
               f"replaces {d.replaces_id}, restores {d.restores_id}{moved}")


def _packages_text(env: dict[str, Any]) -> str:
    """``130 packages``, or why they are unknown: a marker is not a package list."""
    from ..capture import not_captured_reason

    packages = env.get("packages")
    reason = not_captured_reason(packages)
    if reason is not None:
        return f"packages not captured ({reason})"
    return f"{len(packages or {})} packages"


def _git_text(git: dict[str, Any]) -> str:
    from ..capture import not_captured_reason

    reason = not_captured_reason(git)
    if reason is not None:
        return f"not captured ({reason})"
    return f"{git.get('commit') or '-'} {git.get('remote_url') or ''}".strip()


def _add_last_alias() -> None:
    """``lineal deploy last`` is ``lineal last-deployed`` under another name: the same command
    object, so the same options and identical output and JSON."""
    from .questions import last_deployed_command

    deploy.add_command(last_deployed_command, "last")


_add_last_alias()
