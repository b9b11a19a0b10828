"""``lineal artifacts``: list and inspect artifact versions, download their content, and record
a file or folder from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import AlreadyExists, InvalidArgument, NotFound
from .complete import complete_refs
from .render import (
    LIMIT,
    byte_progress,
    emit_json,
    human_size,
    local_time,
    note_limit,
    open_store_from_ctx,
    parse_pairs,
    parse_time,
    print_fields,
    print_table,
    say,
    short_digest,
    truncate,
    wide_option,
)

if TYPE_CHECKING:
    from ..entities import ArtifactVersion
    from ..store import Store

_REF_HELP = ("REF is name, name@v3, name@latest, name@ALIAS or name@sha256:PREFIX, optionally "
             "prefixed by PROJECT/.")
_project_option = click.option(
    "--project", envvar="LINEAL_PROJECT", default=None,
    help="Project for a REF that names none [env: LINEAL_PROJECT; default: default].",
)


@click.group()
def artifacts() -> None:
    """Artifact versions: immutable, content-addressed files and folders (datasets, models,
    environments...) with their producer and consumer runs."""


@artifacts.command("list")
@click.option("--project", help="Only versions in this project.")
@click.option("--name", help="Only versions of this artifact name.")
@click.option("--kind", help="Only versions of this kind (dataset, model, file, ...).")
@click.option("--run", "run_id", metavar="RUN_ID",
              help="Only versions this run produced (full id or unique prefix).")
@click.option("--digest", metavar="sha256:PREFIX",
              help="Only versions whose content digest starts with this.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
              help="Only versions with this tag; repeat to require several.")
@click.option("--since", help="Only versions created at or after this time: ISO-8601 or an age "
              "(3d, 12h, 30m).")
@click.option("--until", help="Only versions created before this time (same forms as --since).")
@click.option("-n", "--limit", type=LIMIT, default=50, show_default=True,
              help="At most this many versions, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@wide_option
@click.pass_context
def list_command(
    ctx: click.Context, project: str | None, name: str | None, kind: str | None,
    run_id: str | None, digest: str | None, tags: tuple[str, ...], since: str | None,
    until: str | None, limit: int, as_json: bool,
) -> None:
    """List artifact versions, newest first: reference, kind, size, storage, digest, aliases."""
    from .. import api
    from .runs import find_run

    tag_map = parse_pairs(tags)
    after, before = parse_time(since, "--since"), parse_time(until, "--until")
    if digest is not None and not digest.startswith("sha256:"):
        raise InvalidArgument(f"--digest {digest!r} is not a digest prefix",
                              hint="write it as sha256:3f2a9c...")
    store = open_store_from_ctx(ctx)
    producer = find_run(store, run_id).id if run_id else None
    found = api.list_artifacts(
        project=project, name=name, kind=kind, digest=digest, producer_run_id=producer,
        tags=tag_map, created_after=after, created_before=before, limit=limit, store=store,
    )
    if as_json:
        emit_json([v.to_dict() for v in found])
        return
    print_table(
        None,
        ("artifact", "kind", "size", "storage", "digest", "aliases", "created"),
        [(v.ref + (" (tainted)" if v.tainted else ""), v.kind, human_size(v.size), v.storage,
          short_digest(v.digest), ", ".join(v.aliases), local_time(v.created_at))
         for v in found],
        empty="no artifact versions match",
    )
    note_limit(len(found), limit, "artifact versions")


@artifacts.command("show", epilog=_REF_HELP)
@click.argument("ref", shell_complete=complete_refs)
@_project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def show_command(ctx: click.Context, ref: str, project: str | None, as_json: bool) -> None:
    """Show one artifact version: digest, URI, size, storage, metadata, tags, aliases, the run
    that produced it and the runs that consumed it."""
    from .. import api

    store = open_store_from_ctx(ctx)
    version = api.get_artifact(ref, project=project, store=store)
    producer, consumers = lineage(store, version)
    if as_json:
        emit_json({**version.to_dict(), "producer": producer, "consumers": consumers})
        return
    print_fields([
        ("artifact", version.ref),
        ("id", version.id),
        ("kind", version.kind),
        ("digest", version.digest),
        ("uri", version.uri),
        ("size", f"{human_size(version.size)} ({version.size} bytes)"),
        ("storage", f"{version.storage}{', directory' if version.is_directory else ''}"),
        ("aliases", ", ".join(version.aliases) or None),
        ("tainted", "yes" if version.tainted else None),
        ("purged", str(version.purged).removeprefix("purged ") if version.purged else None),
        ("created", f"{local_time(version.created_at)} by {version.created_by}"),
        ("producer", _run_text(producer) if producer else "none (logged outside a run)"),
    ])
    if version.tags:
        print_table("Tags", ("tag", "value"), sorted(version.tags.items()))
    if version.metadata:
        print_table("Metadata", ("key", "value"),
                    [(k, truncate(_compact(v), 100)) for k, v in sorted(version.metadata.items())])
    if consumers:
        print_table("Consumed by", ("run", "name", "kind", "status", "role"),
                    [(c["id"], c.get("name", "(missing)"), c.get("kind", ""), c.get("status", ""),
                      c["role"]) for c in consumers])


@artifacts.command("get", epilog=_REF_HELP)
@click.argument("ref", shell_complete=complete_refs)
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Where to write the content (default: ./NAME). An existing folder receives "
              "it as FOLDER/NAME.")
@click.option("--force", is_flag=True, help="Replace what is already at the destination.")
@_project_option
@click.option("--json", "as_json", is_flag=True,
              help="Print the version and the path written as JSON.")
@click.pass_context
def get_command(
    ctx: click.Context, ref: str, output: Path | None, force: bool, project: str | None,
    as_json: bool,
) -> None:
    """Download a version's content (a file, or a folder for directory artifacts).

    The content is written beside the destination and checked against the version's digest
    while it is copied, then renamed into place: the destination never holds partial or
    corrupt content. Large content shows a progress bar on stderr when it is a terminal.
    """
    from .. import api
    from ..artifacts import fetch

    store = open_store_from_ctx(ctx)
    version = api.get_artifact(ref, project=project, store=store)
    target = _destination(version, output)
    if (target.exists() or target.is_symlink()) and not force:
        raise AlreadyExists(f"{target} already exists", hint="pass --force to replace it, or -o")
    with byte_progress(version.size, f"downloading {version.name}") as advance:
        fetch(store, version, target, progress=advance)
    if as_json:
        emit_json({**version.to_dict(), "path": str(target)})
        return
    say(f"{version.ref} ({human_size(version.size)}) -> {target}")


@artifacts.command("log")
@click.argument("path")
@click.option("--name", help="Artifact name (default: the file or folder name).")
@click.option("--kind", default="file", show_default=True,
              help="Kind of artifact: dataset, model, file, ...")
@click.option("--project", envvar="LINEAL_PROJECT", default="default", show_default=True,
              help="Project to record it in [env: LINEAL_PROJECT].")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Tag the version; repeatable.")
@click.option("--alias", "aliases", multiple=True, help="Point this alias at the version; repeatable.")
@click.option("--reference", is_flag=True,
              help="Record the path or URL (s3://...) with its digest, without copying the bytes.")
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
@click.pass_context
def log_command(
    ctx: click.Context, path: str, name: str | None, kind: str, project: str,
    tags: tuple[str, ...], aliases: tuple[str, ...], reference: bool, as_json: bool,
) -> None:
    """Record the file or folder at PATH (or, with --reference, a path or URL) as a new
    version of an artifact, outside any run.

    Logging content identical to an existing version of the same name records nothing new and
    prints that version.
    """
    from .. import artifacts as artifacts_api
    from ..content import content_size
    from ..entities import datetime_to_us, default_actor, now_us

    tag_map = parse_pairs(tags)
    store = open_store_from_ctx(ctx, create=True)
    started = now_us()
    total = 0 if reference or "://" in path else content_size(Path(path))
    with byte_progress(total, "storing") as advance:
        version = artifacts_api.log_content(
            store, path, name=name, project=project, kind=kind, metadata=None, tags=tag_map,
            aliases=aliases, reference=reference, producer_run_id=None, actor=default_actor(),
            progress=advance,
        )
    if as_json:
        emit_json(version.to_dict())
        return
    verb = "logged" if datetime_to_us(version.created_at) >= started else "already recorded as"
    say(f"{verb} {version.ref} ({short_digest(version.digest)}, "
               f"{human_size(version.size)}, {version.storage})")


# -- helpers -------------------------------------------------------------------------------------
def _destination(version: ArtifactVersion, output: Path | None) -> Path:
    if output is None:
        return Path.cwd() / version.name
    output = output.expanduser()
    return (output / version.name if output.is_dir() else output).absolute()


def lineage(
    store: Store, version: ArtifactVersion
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The run that produced ``version`` and the runs that consumed it (with their role), in
    brief; a run that no longer exists is marked ``missing``."""
    producer = _run_brief(store, version.producer_run_id) if version.producer_run_id else None
    consumers = []
    for edge in store.metadata.list_edges(version_id=version.id):
        if str(edge.direction) == "input":
            consumers.append({**_run_brief(store, edge.run_id), "role": edge.role})
    return producer, consumers


def _run_brief(store: Store, run_id: str) -> dict[str, Any]:
    try:
        run = store.metadata.get_run(run_id)
    except NotFound:
        return {"id": run_id, "missing": True}
    return {"id": run.id, "name": run.name, "kind": run.kind, "status": str(run.status),
            "started_at": run.started_at}


def _run_text(brief: dict[str, Any]) -> str:
    if brief.get("missing"):
        return f"{brief['id']} (missing)"
    return f"{brief['id']} {brief['name']} ({brief['kind']}, {brief['status']})"


def _compact(value: Any) -> str:
    import json

    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)
