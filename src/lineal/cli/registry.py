"""``lineal registry``: registered models, versions, aliases, stages, approvals, history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidArgument
from .complete import complete_models, complete_refs
from .render import (
    PROJECT_OPTION,
    emit_json,
    parse_pairs,
    print_table,
    remember_store,
    say,
    wide_option,
)

__all__ = ["emit_json", "open_cli_store", "parse_pairs", "print_table", "when_text"]

if TYPE_CHECKING:
    from ..entities import ModelVersion, RegisteredModel, RegistryEvent
    from ..store import Store


# -- shared with cli/deploy.py -------------------------------------------------------------------
def open_cli_store(ctx: click.Context, *, write: bool = False) -> Store:
    """The store of the global options: the write path for commands that change it, else the
    read path (a missing store is refused, never created)."""
    from .render import open_store_from_ctx

    store = open_store_from_ctx(ctx, create=write)
    # Close when the command ends: an in-process caller (tests, scripts) running many commands
    # must not pile up database connections.
    ctx.call_on_close(store.close)
    return remember_store(ctx, store)


def when_text(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"




def summarise(value: Any) -> str:
    """A registry event's before/after state in a few words."""
    if value is None:
        return "-"
    if not isinstance(value, dict):
        return str(value)
    if "deployment" in value:
        if "name" in value:
            return f"{value['name']} in {value['environment']}"
        return str(value.get("status", ""))
    if "protected_aliases" in value:
        return _policy_text(value)
    if "policy" in value:
        return f"owner {value.get('owner')}; " + _policy_text(value["policy"])
    for key in ("artifact", "status", "stage"):
        if key in value:
            return str(value[key])
    if set(value) == {"version"}:
        return f"v{value['version']}"
    text = ", ".join(f"{k}={v}" for k, v in value.items() if v not in ("", {}, [], None))
    return text if len(text) <= 48 else text[:47] + "…"


# -- commands ------------------------------------------------------------------------------------
@click.group()
def registry() -> None:
    """Registered models: versions linking model artifacts, stages, aliases, approvals and the
    full history of every change.

    References: churn (latest), churn@v4, churn@prod (alias), team/churn@v4.
    """


@registry.command("models")
@click.option("--project", help="Only models of this project.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@wide_option
@click.pass_context
def models_command(ctx: click.Context, project: str | None, as_json: bool) -> None:
    """List registered models."""
    from .. import registry as reg

    found = reg.list_models(project=project, store=open_cli_store(ctx))
    if as_json:
        emit_json([m.to_dict() for m in found])
        return
    print_table(
        "Registered models",
        ("model", "versions", "aliases", "owner", "policy", "updated"),
        [(m.ref, m.latest_version, _aliases(m), m.owner, _policy(m), when_text(m.updated_at))
         for m in found],
    )


def _policy_text(policy: dict[str, Any]) -> str:
    parts = []
    if policy.get("require_approval_for_production"):
        parts.append("approval for production")
    if policy.get("protected_aliases"):
        parts.append("protected: " + ", ".join(policy["protected_aliases"]))
    if policy.get("approval_environments"):
        parts.append("approval to deploy to: " + ", ".join(policy["approval_environments"]))
    if parts and (policy.get("require_approval_for_production") or policy.get("approval_environments")):
        # Absent from events written before the switch existed: it was not enforced then.
        if policy.get("separation_of_duties") is False:
            parts.append("registrants may approve their own versions")
        elif policy.get("separation_of_duties"):
            parts.append("separation of duties")
    return "; ".join(parts) or "no policy"


def _aliases(model: RegisteredModel) -> str:
    return ", ".join(f"{a}->v{v}" for a, v in model.aliases.items())


def _policy(model: RegisteredModel) -> str:
    text = _policy_text(model.policy.to_dict())
    return "" if text == "no policy" else text


@registry.command("create")
@click.argument("name", shell_complete=complete_models)
@click.option("--description", default="", help="What the model is for.")
@click.option("--owner", help="Owner (default: you).")
@click.option("--tag", "tags", multiple=True, help="KEY=VALUE, repeatable.")
@click.option("--require-approval", is_flag=True,
              help="Versions enter production only after an approval.")
@click.option("--protect", multiple=True, help="An alias only admins may move, repeatable.")
@click.option("--gate", multiple=True, metavar="ENV",
              help="Deploy to ENV only versions that are approved, repeatable.")
@click.option("--separation-of-duties/--no-separation-of-duties", default=True,
              help="Whether whoever registered a version is refused as its approver (default: on).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def create_command(
    ctx: click.Context, project: str | None, name: str, description: str, owner: str | None, tags: tuple[str, ...],
    require_approval: bool, protect: tuple[str, ...], gate: tuple[str, ...],
    separation_of_duties: bool, as_json: bool,
) -> None:
    """Register a model name (with its policy) before it has versions."""
    from .. import registry as reg

    model = reg.create_model(
        name, description=description, owner=owner, tags=parse_pairs(tags),
        require_approval_for_production=require_approval, protected_aliases=protect,
        approval_environments=gate, separation_of_duties=separation_of_duties,
        project=project, store=open_cli_store(ctx, write=True),
    )
    emit_json(model.to_dict()) if as_json else say(f"registered model {model.ref}")


@registry.command("register")
@click.argument("name", shell_complete=complete_models)
@click.option("--from", "source",
              help="The model artifact: churn-model@v3 (an artifact of that name first, then "
              "a registry ref).")
@click.option("--from-run", "run_id", help="Take the model artifact the run logged.")
@click.option("--artifact", help="With --from-run: which model output, if it logged several.")
@click.option("--description", default="", help="Notes on this version.")
@click.option("--tag", "tags", multiple=True, help="KEY=VALUE, repeatable.")
@click.option("--alias", "aliases", multiple=True, help="Set this alias on the new version.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def register_command(
    ctx: click.Context, project: str | None, name: str, source: str | None, run_id: str | None, artifact: str | None,
    description: str, tags: tuple[str, ...], aliases: tuple[str, ...], as_json: bool,
) -> None:
    """Register a model artifact as the next version of NAME (creating NAME if needed).

    \b
    lineal registry register churn --from churn-model@v3
    lineal registry register churn --from-run 01J... --alias candidate
    """
    from .. import registry as reg

    version = reg.register_model(
        name, source, run=run_id, artifact=artifact, description=description,
        tags=parse_pairs(tags), aliases=aliases, project=project, store=open_cli_store(ctx, write=True),
    )
    if as_json:
        emit_json(version.to_dict())
    else:
        say(f"registered {version.ref} -> {version.artifact_ref} ({version.artifact_digest[:19]})")


@registry.command("show")
@click.argument("ref", shell_complete=complete_refs)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def show_command(ctx: click.Context, project: str | None, ref: str, as_json: bool) -> None:
    """Show a model and its versions (NAME), or one version (NAME@v4, NAME@prod)."""
    from .. import registry as reg

    store = open_cli_store(ctx)
    if "@" in ref:
        version = reg.get_version(ref, project=project, store=store)
        if as_json:
            emit_json(version.to_dict())
            return
        _print_version(version)
        return
    model = reg.get_model(ref, project=project, store=store)
    versions = reg.list_versions(ref, project=project, store=store)
    if as_json:
        emit_json({**model.to_dict(), "versions": [v.to_dict() for v in versions]})
        return
    say(f"{model.ref}  owner {model.owner}  created {when_text(model.created_at)} "
               f"by {model.created_by}")
    if model.description:
        say(f"  {model.description}")
    if _policy(model):
        say(f"  policy: {_policy(model)}")
    _versions_table(model.ref, versions)


def _print_version(v: ModelVersion) -> None:
    lines = [
        ("version", v.ref),
        ("artifact", f"{v.artifact_ref}  {v.artifact_digest}"),
        ("stage", str(v.stage)),
        ("status", v.status),
        ("aliases", ", ".join(v.aliases) or "-"),
        ("produced by run", v.run_id or "-"),
        ("created", f"{when_text(v.created_at)} by {v.created_by}"),
        ("description", v.description or "-"),
        ("tags", ", ".join(f"{k}={val}" for k, val in v.tags.items()) or "-"),
    ]
    for key, value in lines:
        say(f"{key:>16}  {value}")
    for a in v.approvals:
        say(f"{'review':>16}  {a.decision} for {a.stage} by {a.actor} at "
                   f"{when_text(a.created_at)}" + (f": {a.comment}" if a.comment else ""))


def _versions_table(title: str, versions: Sequence[ModelVersion]) -> None:
    print_table(
        title,
        ("version", "stage", "status", "aliases", "artifact", "created", "by"),
        [(f"v{v.version}", v.stage, v.status, ", ".join(v.aliases), v.artifact_ref,
          when_text(v.created_at), v.created_by) for v in versions],
    )


@registry.command("versions")
@click.argument("name", shell_complete=complete_models)
@click.option("--stage", help="Only versions in this stage.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
@PROJECT_OPTION
@click.pass_context
def versions_command(ctx: click.Context, project: str | None, name: str, stage: str | None, as_json: bool) -> None:
    """List the versions of a model, newest first."""
    from .. import registry as reg

    versions = reg.list_versions(name, stage=stage, project=project, store=open_cli_store(ctx))
    if as_json:
        emit_json([v.to_dict() for v in versions])
        return
    _versions_table(name, versions)


@registry.command("update")
@click.argument("ref", shell_complete=complete_refs)
@click.option("--description", help="New description.")
@click.option("--owner", help="New owner (models only).")
@click.option("--tag", "tags", multiple=True, help="KEY=VALUE, repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def update_command(
    ctx: click.Context, project: str | None, ref: str, description: str | None, owner: str | None,
    tags: tuple[str, ...], as_json: bool,
) -> None:
    """Change the description, owner or tags of a model (NAME) or a version (NAME@v4)."""
    from .. import registry as reg

    store = open_cli_store(ctx, write=True)
    if "@" in ref:
        if owner is not None:
            raise InvalidArgument("--owner applies to a model, not a version")
        v = reg.update_version(ref, description=description, tags=parse_pairs(tags), project=project, store=store)
        emit_json(v.to_dict()) if as_json else say(f"updated {v.ref}")
    else:
        m = reg.update_model(ref, description=description, owner=owner, tags=parse_pairs(tags),
                             project=project, store=store)
        emit_json(m.to_dict()) if as_json else say(f"updated {m.ref}")


@registry.command("alias")
@click.argument("ref", shell_complete=complete_refs)
@click.argument("alias")
@click.option("--expect", help="The version the alias must hold now (v3), or 'none'. Default: "
              "what it holds when the command reads it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def alias_command(
    ctx: click.Context, project: str | None, ref: str, alias: str, expect: str | None, as_json: bool
) -> None:
    """Point ALIAS at the version REF names, moving it if it exists.

    Compare-and-set: if someone else moves the alias between the moment this command reads it
    and the moment it writes, nothing is written and the command exits with code 5 (Conflict).
    """
    from .. import registry as reg

    store = open_cli_store(ctx, write=True)
    version = reg.get_version(ref, project=project, store=store)
    current = reg.get_model(f"{version.project}/{version.model}", project=project, store=store).aliases.get(alias)
    expected: Any = expect if expect is not None else current
    moved = reg.set_alias(version, alias, expected=expected, project=project, store=store)
    if as_json:
        emit_json({"model": f"{moved.project}/{moved.model}", "alias": alias,
                   "version": moved.version, "previous": current})
        return
    before = "new" if current is None else f"was v{current}"
    say(f"{moved.project}/{moved.model}@{alias} -> v{moved.version} ({before})")


@registry.command("unalias")
@click.argument("name", shell_complete=complete_models)
@click.argument("alias")
@click.option("--expect", help="The version the alias must hold now (v3).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def unalias_command(
    ctx: click.Context, project: str | None, name: str, alias: str, expect: str | None, as_json: bool
) -> None:
    """Remove ALIAS from model NAME (compare-and-set, like `alias`)."""
    from .. import registry as reg

    store = open_cli_store(ctx, write=True)
    current = reg.get_model(name, project=project, store=store).aliases.get(alias)
    expected = expect if expect is not None else current
    if expected is None:  # no alias now, and no expectation given
        from ..errors import NotFound

        raise NotFound(f"{name} has no alias {alias!r}")
    reg.remove_alias(name, alias, expected=expected, project=project, store=store)
    if as_json:
        emit_json({"model": name, "alias": alias, "removed": True, "previous": current})
        return
    say(f"removed {name}@{alias}" + (f" (was v{current})" if current else ""))


@registry.command("stage")
@click.argument("ref", shell_complete=complete_refs)
@click.argument("stage")
@click.option("--archive-others", is_flag=True, help="Archive the versions already in STAGE.")
@click.option("--comment", default="", help="Why.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def stage_command(
    ctx: click.Context, project: str | None, ref: str, stage: str, archive_others: bool, comment: str, as_json: bool
) -> None:
    """Move a version to STAGE: none, staging, production or archived."""
    from .. import registry as reg

    v = reg.transition_stage(ref, stage, archive_others=archive_others, comment=comment,
                             project=project, store=open_cli_store(ctx, write=True))
    emit_json(v.to_dict()) if as_json else say(f"{v.ref} is in {v.stage}")


def _review(ctx: click.Context, ref: str, comment: str, stage: str, approve: bool, as_json: bool,
            project: str | None = None) -> None:
    from .. import registry as reg

    fn = reg.approve if approve else reg.reject
    a = fn(ref, comment=comment, stage=stage, project=project,
           store=open_cli_store(ctx, write=True))
    if as_json:
        emit_json({"ref": ref, **a.to_dict()})
        return
    say(f"{ref}: {a.decision} for {a.stage} by {a.actor}")


@registry.command("approve")
@click.argument("ref", shell_complete=complete_refs)
@click.option("--comment", default="", help="Why.")
@click.option("--stage", default="production", show_default=True, help="What the approval is for.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def approve_command(ctx: click.Context, ref: str, comment: str, stage: str, as_json: bool,
                   project: str | None) -> None:
    """Approve a version (recorded with you as the reviewer)."""
    _review(ctx, ref, comment, stage, True, as_json, project)


@registry.command("reject")
@click.argument("ref", shell_complete=complete_refs)
@click.option("--comment", default="", help="Why.")
@click.option("--stage", default="production", show_default=True, help="What the review is for.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def reject_command(ctx: click.Context, ref: str, comment: str, stage: str, as_json: bool,
                   project: str | None) -> None:
    """Reject a version; under a policy requiring approval it cannot enter production."""
    _review(ctx, ref, comment, stage, False, as_json, project)


@registry.command("history")
@click.argument("name", shell_complete=complete_models)
@click.option("--version", "version", help="Only events of this version (3 or v3).")
@click.option("--alias", help="Only events of this alias.")
@click.option("--action", "actions", multiple=True,
              help="Only these actions (alias.move, stage.transition, approval...), repeatable.")
@click.option("--since", help="From this time (ISO-8601, 'yesterday', '3d ago'...).")
@click.option("--until", help="Until this time (a day includes that whole day).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
@PROJECT_OPTION
@click.pass_context
def history_command(
    ctx: click.Context, project: str | None, name: str, version: str | None, alias: str | None,
    actions: tuple[str, ...], since: str | None, until: str | None, as_json: bool,
) -> None:
    """Every change to a model, in order: who, when, what, before -> after.

    \b
    lineal registry history churn --alias prod          every move of churn@prod
    lineal registry history churn --since '3 days ago'
    """
    from .. import registry as reg

    events = reg.history(name, version=_version_number(version), alias=alias,
                         actions=actions or None, since=since, until=until,
                         project=project, store=open_cli_store(ctx))
    if as_json:
        emit_json([e.to_dict() for e in events])
        return
    print_table(f"History of {name}", ("time", "actor", "action", "version", "alias", "change",
                                        "comment"),
                [_event_row(e) for e in events])


def _version_number(text: str | None) -> int | None:
    if text is None:
        return None
    digits = text.strip().lower().removeprefix("v")
    if not digits.isdigit() or int(digits) < 1:
        raise InvalidArgument(f"--version {text!r} is not a version number", hint="e.g. 3 or v3")
    return int(digits)


def _event_row(e: RegistryEvent) -> tuple[Any, ...]:
    change = summarise(e.after) if e.before is None else f"{summarise(e.before)} -> {summarise(e.after)}"
    return (when_text(e.timestamp), e.actor, e.action, f"v{e.version}" if e.version else "",
            e.alias or "", change, e.comment)


@registry.command("as-of")
@click.argument("name", shell_complete=complete_models)
@click.argument("when")
@click.option("--alias", help="Only this alias: which version held it at WHEN.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def as_of_command(
    ctx: click.Context, project: str | None, name: str, when: str, alias: str | None, as_json: bool
) -> None:
    """A model's aliases and stages as they were at WHEN, replayed from its history.

    WHEN is an instant (2026-11-17T14:00, '3 days ago', now) or a day (2026-11-17, yesterday,
    'last tuesday'): for a day, the state at its first moment and every change during it.

    \b
    lineal registry as-of churn 2026-11-17T09:00 --alias prod   which version held prod then?
    lineal registry as-of churn 'last tuesday'                   and what changed that day
    """
    from .. import registry as reg
    from ..times import parse_when, us_datetime

    store = open_cli_store(ctx)
    span = parse_when(when)
    state = reg.state_at(name, us_datetime(span.start_us), project=project, store=store)
    changes: list[RegistryEvent] = []
    if span.end_us is not None:
        changes = reg.history(
            name, actions=_STATE_ACTIONS, since=us_datetime(span.start_us + 1),
            until=us_datetime(span.end_us - 1), project=project, store=store,
        )
    if alias is not None:
        changes = [e for e in changes if e.alias == alias]
    if as_json:
        data = state.to_dict()
        if alias is not None:
            data = {"time": data["time"], "alias": alias, "version": state.aliases.get(alias)}
        if span.end_us is not None:
            data["until"] = us_datetime(span.end_us).isoformat()
            data["changes"] = [e.to_dict() for e in changes]
        emit_json(data)
        return
    say(f"{name} as of {when_text(state.time)}")
    if alias is not None:
        held = state.aliases.get(alias)
        say(f"  alias {alias} -> " + (f"v{held}" if held else "(not set)"))
    else:
        for key, v in sorted(state.aliases.items()):
            say(f"  alias {key} -> v{v}")
        for v, stage in sorted(state.stages.items()):
            say(f"  v{v}: {stage}")
        if not state.stages:
            say("  (not registered yet)")
    if span.end_us is not None:
        end = when_text(us_datetime(span.end_us))
        if not changes:
            say(f"  no changes until {end}")
        for e in changes:
            _, actor, action, version, alias_name, change, _ = _event_row(e)
            say(f"  {when_text(e.timestamp)}  {action} {alias_name or version}: {change} "
                       f"(by {actor})")


_STATE_ACTIONS = ("version.create", "stage.transition", "alias.set", "alias.move", "alias.remove")


@registry.command("in-stage")
@click.argument("name", shell_complete=complete_models)
@click.argument("stage")
@click.option("--from", "start", required=True,
              help="Start of the interval (a day starts at its midnight).")
@click.option("--to", "end", default="now", show_default=True,
              help="End of the interval (a day includes that whole day).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
@PROJECT_OPTION
@click.pass_context
def in_stage_command(ctx: click.Context, project: str | None, name: str, stage: str, start: str, end: str, as_json: bool) -> None:
    """Which versions were in STAGE at some moment between --from and --to, and when.

    \b
    lineal registry in-stage churn production --from 2026-11-10 --to 2026-11-17
    """
    from .. import registry as reg

    spans = reg.versions_in_stage_between(name, stage, start, end, project=project, store=open_cli_store(ctx))
    if as_json:
        emit_json([s.to_dict() for s in spans])
        return
    print_table(f"{name} in {stage}", ("version", "from", "until"),
                [(f"v{s.version}", when_text(s.start), when_text(s.end) if s.end else "now")
                 for s in spans])


@registry.command("policy")
@click.argument("name", shell_complete=complete_models)
@click.option("--require-approval/--no-require-approval", default=None,
              help="Whether production needs an approval (turning it off needs an admin).")
@click.option("--protect", multiple=True, help="Protect an alias, repeatable.")
@click.option("--unprotect", multiple=True, help="Unprotect an alias (admins only), repeatable.")
@click.option("--gate", multiple=True, metavar="ENV",
              help="Deploy to ENV only versions that are approved, repeatable.")
@click.option("--ungate", multiple=True, metavar="ENV",
              help="Stop gating deployments to ENV (admins only), repeatable.")
@click.option("--separation-of-duties/--no-separation-of-duties", default=None,
              help="Whether whoever registered a version is refused as its approver "
              "(turning it off needs an admin).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def policy_command(
    ctx: click.Context, project: str | None, name: str, require_approval: bool | None, protect: tuple[str, ...],
    unprotect: tuple[str, ...], gate: tuple[str, ...], ungate: tuple[str, ...],
    separation_of_duties: bool | None, as_json: bool,
) -> None:
    """Show or change a model's policy.

    \b
    lineal registry policy churn --require-approval --protect prod --gate production
    lineal registry policy churn --no-separation-of-duties     # admins only
    """
    from .. import registry as reg

    store = open_cli_store(ctx, write=True)
    if (require_approval is None and separation_of_duties is None
            and not (protect or unprotect or gate or ungate)):
        model = reg.get_model(name, project=project, store=store)
    else:
        model = reg.set_policy(name, require_approval_for_production=require_approval,
                               protect=protect, unprotect=unprotect, gate=gate, ungate=ungate,
                               separation_of_duties=separation_of_duties, project=project, store=store)
    if as_json:
        emit_json({"model": model.ref, **model.policy.to_dict()})
        return
    say(f"{model.ref}: {_policy(model) or 'no policy'}")


@registry.command("admins")
@click.option("--set", "users", help="Comma-separated users to store as the registry admins.")
@click.option("--clear", is_flag=True, help="Remove the stored admins (LINEAL_ADMINS decides).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def admins_command(ctx: click.Context, users: str | None, clear: bool, as_json: bool) -> None:
    """Show or set who may move protected aliases and loosen policies.

    The store setting, once made, applies to everyone sharing the store and only an admin may
    change it; without it, LINEAL_ADMINS (comma-separated OS users) decides.
    """
    from .. import registry as reg

    store = open_cli_store(ctx, write=True)
    if users is not None or clear:
        names = [] if clear else [u for u in users.split(",") if u.strip()]  # type: ignore[union-attr]
        current = reg.set_admins(names, store=store)
    else:
        current = reg.admins(store=store)
    if as_json:
        emit_json({"admins": current})
        return
    say("admins: " + (", ".join(current) or "(none)"))


@registry.command("compare")
@click.argument("ref_a", shell_complete=complete_refs)
@click.argument("ref_b", shell_complete=complete_refs)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def compare_command(ctx: click.Context, project: str | None, ref_a: str, ref_b: str, as_json: bool) -> None:
    """Two model versions side by side: params, metrics, input datasets (with digests), code
    commit and package differences of the runs that produced them."""
    from .. import registry as reg

    result = reg.compare(ref_a, ref_b, project=project, store=open_cli_store(ctx))
    if as_json:
        emit_json(result.to_dict())
        return
    a, b = result.a, result.b
    rows: list[tuple[Any, ...]] = [
        ("model", a.artifact_ref, b.artifact_ref),
        ("digest", a.artifact_digest[:19], b.artifact_digest[:19]),
        ("run", f"{a.run_name} {a.run_id}", f"{b.run_name} {b.run_id}"),
        ("code commit", _commit(a.code_commit, a.code_dirty), _commit(b.code_commit, b.code_dirty)),
        ("python", a.python, b.python),
    ]
    rows += _diff_rows("param", a.params, b.params)
    rows += _diff_rows("metric", a.metrics, b.metrics)
    names = sorted({i["name"] for i in a.inputs} | {i["name"] for i in b.inputs})
    for name in names:
        rows.append((f"input {name}", _input(a.inputs, name), _input(b.inputs, name)))
    pk = result.packages
    for pkg, (va, vb) in pk["changed"].items():
        rows.append((f"package {pkg}", va, vb))
    rows += [(f"package {p}", v, "-") for p, v in pk["only_a"].items()]
    rows += [(f"package {p}", "-", v) for p, v in pk["only_b"].items()]
    if pk["same"]:
        rows.append(("packages unchanged", pk["same"], pk["same"]))
    for part in sorted(a.not_captured.keys() | b.not_captured.keys()):
        rows.append((f"{part} (unknown)", *(f"not captured ({s.not_captured[part]})"
                                            if part in s.not_captured else "captured" for s in (a, b))))
    print_table(f"{a.ref} vs {b.ref}", ("", a.ref, b.ref), rows)


def _commit(commit: str | None, dirty: bool | None) -> str:
    if not commit:
        return "-"
    return commit[:12] + (" (dirty)" if dirty else "")


def _diff_rows(label: str, a: dict[str, Any], b: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for key in sorted(a.keys() | b.keys()):
        va, vb = a.get(key, "-"), b.get(key, "-")
        mark = "" if va == vb else " *"
        rows.append((f"{label} {key}{mark}", va, vb))
    return rows


def _input(inputs: list[dict[str, Any]], name: str) -> str:
    found = [i for i in inputs if i["name"] == name]
    return ", ".join(f"v{i['version']} {i['digest'][:19]}" for i in found) or "-"


@registry.command("resolve")
@click.argument("ref", shell_complete=complete_refs)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@PROJECT_OPTION
@click.pass_context
def resolve_command(ctx: click.Context, project: str | None, ref: str, as_json: bool) -> None:
    """Resolve a model reference (registry first, then model artifacts) to its artifact."""
    from .. import registry as reg

    version, artifact = reg.resolve_model_ref(ref, project=project, store=open_cli_store(ctx))
    if as_json:
        emit_json({"model_version": version.to_dict() if version else None,
                   "artifact": artifact.to_dict()})
        return
    prefix = f"{version.ref} -> " if version else ""
    say(f"{prefix}{artifact.ref} {artifact.digest} {artifact.uri}")
