"""``lineal store`` (info, upgrade) and ``lineal verify``: the store itself rather than what is
in it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..errors import IntegrityError
from .render import (
    byte_progress,
    emit_json,
    human_size,
    open_store_from_ctx,
    plural,
    print_fields,
    print_table,
    say,
)

if TYPE_CHECKING:
    from ..store import Store

_SHOWN_PROBLEMS = 100


@click.group()
def store() -> None:
    """The store: where lineal keeps metadata and bytes, and its database schema."""


@store.command("init")
@click.option("--json", "as_json", is_flag=True, help="Print the location as JSON.")
@click.pass_context
def init_command(ctx: click.Context, as_json: bool) -> None:
    """Create a store at --uri (default: .lineal/ at the git root or here); an existing store is
    left as it is. Commands that only read never create one."""
    from ..store import resolve_location, store_exists

    obj = ctx.find_root().obj or {}
    existed = store_exists(resolve_location(obj.get("uri"), obj.get("artifacts")))
    opened = open_store_from_ctx(ctx, create=True)
    try:
        if as_json:
            emit_json({"location": opened.location, "created": not existed})
        else:
            say(f"{'store already at' if existed else 'created a lineal store at'} "
                       f"{opened.location}")
    finally:
        opened.close()


@store.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def info_command(ctx: click.Context, as_json: bool) -> None:
    """Show the store's location, backend, schema revision, database size, row counts, blob
    store, and (for local blob folders) the number and total size of blobs."""
    opened = open_store_from_ctx(ctx)
    info = store_info(opened)
    if as_json:
        emit_json(info)
        return
    database = info["database_file"]
    blobs = info["blobs"]
    schema = info["schema_revision"]
    print_fields([
        ("location", info["location"]),
        ("backend", info["backend"]),
        ("database", info["database_url"]),
        ("schema", f"{schema} (latest)" if schema == info["schema_head"]
         else f"{schema}; this lineal expects {info['schema_head']}"),
        ("database file", None if database is None else
         f"{human_size(database['bytes'])} + {human_size(database['wal_bytes'])} write-ahead log"),
        ("database size", None if database is not None or info["database_bytes"] is None
         else human_size(info["database_bytes"])),
        ("blob store", info["blob_store"]),
        ("blobs", None if blobs is None else f"{blobs['count']} ({human_size(blobs['bytes'])})"),
    ])
    print_table("Rows", ("table", "rows"), sorted(info["counts"].items()))


def store_info(opened: Store) -> dict[str, Any]:
    """Everything ``lineal store info`` prints, as a dict."""
    from ..store.blobs.local import LocalBlobStore
    from ..verify import list_blobs

    meta = opened.metadata.info()
    blobs = None
    if isinstance(opened.blobs, LocalBlobStore):
        # Listing an object store means paging through every key: only done by `lineal verify`.
        sizes = list_blobs(opened)
        blobs = {"count": len(sizes), "bytes": sum(sizes.values())}
    return {
        "location": opened.location,
        "backend": meta["backend"],
        "database_url": meta["url"],
        "schema_revision": meta["schema_revision"],
        "schema_head": meta["schema_head"],
        "counts": meta["counts"],
        "database_file": meta["database_file"],
        "database_bytes": meta["database_bytes"],
        "blob_store": opened.blobs.root_uri,
        "blobs": blobs,
    }


@store.command("upgrade")
@click.option("--json", "as_json", is_flag=True,
              help="Print the database URL and the schema before and after as JSON.")
@click.pass_context
def upgrade_command(ctx: click.Context, as_json: bool) -> None:
    """Migrate the metadata database at --uri to the schema this lineal needs.

    SQLite stores upgrade themselves when opened; a PostgreSQL or MySQL database shared by a
    team is upgraded only by this command, once every client has been updated.
    """
    from ..store import upgrade_database

    obj = ctx.find_root().obj or {}
    before, after, url = upgrade_database(obj.get("uri"))
    if as_json:
        emit_json({"url": url, "before": before, "after": after, "upgraded": before != after})
    elif before == after:
        say(f"{url}: already at schema {after} (the latest)")
    else:
        origin = f"schema {before}" if before else "an empty database"
        say(f"{url}: upgraded from {origin} to schema {after}")


@click.command("verify")
@click.option("--no-blobs", is_flag=True,
              help="Check that blobs exist and have the recorded sizes, without re-hashing them.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def verify(ctx: click.Context, no_blobs: bool, as_json: bool) -> None:
    """Check stored content against the metadata; exit non-zero if anything is wrong.

    Re-hashes every blob; checks that every stored artifact version has its blob (for folders:
    the manifest and every file it names) with the recorded size; and that edges, parents,
    producers and aliases point at runs and versions that exist. The audit ledger is checked by
    `lineal audit verify`.
    """
    from ..verify import list_blobs, verify_store

    opened = open_store_from_ctx(ctx)
    inventory = list_blobs(opened)
    total = 0 if no_blobs else sum(inventory.values())
    with byte_progress(total, "verifying") as advance:
        report = verify_store(opened, check_blobs=not no_blobs, progress=advance,
                              inventory=inventory)
    if as_json:
        emit_json(report.to_dict())
    else:
        for problem in report.problems[:_SHOWN_PROBLEMS]:
            say(str(problem))
        if len(report.problems) > _SHOWN_PROBLEMS:
            say(f"... and {len(report.problems) - _SHOWN_PROBLEMS} more (--json lists all)")
        for leftover in report.leftovers[:_SHOWN_PROBLEMS]:
            say(f"leftover {leftover.kind}: {leftover.name} ({human_size(leftover.size)})")
        for digest in report.unreferenced[:_SHOWN_PROBLEMS]:
            say(f"unreferenced blob: {digest}")
        if report.leftovers_unlisted:
            say(f"leftovers not listed: {report.leftovers_unlisted}")
        if report.leftovers or report.unreferenced:
            say(f"{plural(len(report.leftovers), 'leftover')} and "
                       f"{plural(len(report.unreferenced), 'unreferenced blob')} "
                       f"({human_size(report.unreferenced_bytes + sum(x.size for x in report.leftovers))}"
                       "): not problems; `lineal gc` removes them")
        blob_text = (f"{report.blobs} blobs re-hashed ({human_size(report.blob_bytes)})"
                     if report.blobs_checked else f"{len(inventory)} blobs listed, not re-hashed")
        status = "OK" if report.ok else f"FAILED, {plural(len(report.problems), 'problem')}"
        say(
            f"{status}: {report.versions} artifact versions ({report.stored_versions} stored, "
            f"{report.reference_versions} by reference"
            f"{f', {report.purged_versions} purged' if report.purged_versions else ''}), {blob_text}, "
            f"{report.unreferenced_blobs} unused; {report.runs} runs, {report.edges} edges, "
            f"{report.references} references checked"
        )
    if not report.ok:
        raise IntegrityError(f"store verification failed: {plural(len(report.problems), 'problem')}")
