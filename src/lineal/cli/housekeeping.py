"""``lineal gc`` and ``lineal purge``: removing bytes, each one call to
:mod:`lineal.housekeeping`."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from .render import emit_json, human_size, open_store_from_ctx, plural, say, short_digest

_JSON = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--older-than", default="1h", show_default=True, metavar="AGE",
              help="Only remove what was last written longer ago than this (30m, 1h, 2d): "
              "younger temporary files may belong to a writer still running.")
@_JSON
@click.pass_context
def gc_command(ctx: click.Context, dry_run: bool, older_than: str, as_json: bool) -> None:
    """Remove what interrupted writes left in the blob store: temporary files, unfinished S3
    multipart uploads, and blobs no artifact version, manifest or registry entry uses.

    Never removes a blob anything references. `lineal verify` lists the same leftovers.

    \b
    lineal gc --dry-run
    lineal gc --older-than 1d
    """
    from ..housekeeping import gc

    report = gc(dry_run=dry_run, older_than=older_than, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(report.to_dict())
        return
    verb = "would remove" if dry_run else "removed"
    for leftover in report.leftovers:
        say(f"{verb} {leftover.kind} {leftover.name} ({human_size(leftover.size)})")
    for digest, size in sorted(report.blobs.items()):
        say(f"{verb} unreferenced blob {digest} ({human_size(size)})")
    young = report.young_leftovers + report.young_blobs
    kept = (f"; kept {plural(young, 'item')} written since "
            f"{datetime.fromtimestamp(report.cutoff, UTC):%Y-%m-%d %H:%M:%S} UTC" if young else "")
    say(f"{verb.capitalize()} {plural(len(report.leftovers), 'leftover')} and "
               f"{plural(len(report.blobs), 'unreferenced blob')}, "
               f"{human_size(report.bytes_freed)}{kept}")


@click.command("purge")
@click.argument("ref")
@click.option("--reason", required=True, help="Why the bytes must go (kept in the record).")
@click.option("--project", help="Project of a reference that names none "
              "[default: LINEAL_PROJECT or 'default'].")
@_JSON
@click.pass_context
def purge_command(ctx: click.Context, ref: str, reason: str, project: str | None,
                  as_json: bool) -> None:
    """Delete the bytes of the dataset or model version REF (right to erasure), keeping its
    metadata, lineage, and a record of when, by whom and why.

    Reads of its content then fail saying so. Content another version still uses is kept, and
    the report names those versions.

    \b
    lineal purge customers@v3 --reason "GDPR erasure request #1234"
    """
    from ..housekeeping import purge

    report = purge(ref, reason=reason, project=project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(report.to_dict())
        return
    version = report.version
    head = "purged" if report.recorded else "already recorded as purged"
    say(f"{version.ref} {head}: {version.purged}")
    say(f"deleted {plural(len(report.deleted), 'blob')} ({human_size(report.bytes_freed)})"
               + (f", {len(report.already_gone)} already gone" if report.already_gone else ""))
    for digest, users in report.shared.items():
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        say(f"kept {short_digest(digest)}: also used by {shown}")
