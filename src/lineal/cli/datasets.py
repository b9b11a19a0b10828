"""``lineal datasets``: list dataset versions, show one's schema and profile, diff two versions.

Everything here reads only the metadata store: descriptions are recorded when a dataset is
logged (``run.log_dataset``/``run.use_dataset``), so no data is read back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .render import (
    LIMIT,
    emit_json,
    human_size,
    local_time,
    number,
    open_store_from_ctx,
    print_fields,
    print_table,
    say,
    short_digest,
    truncate,
    wide_option,
)

if TYPE_CHECKING:
    from ..datasets import DatasetDiff, DatasetVersion
    from ..datasets.profile import ColumnProfile

_REF_HELP = ("REF, REF_A and REF_B are name, name@v3, name@latest, name@ALIAS or "
             "name@sha256:PREFIX (of the stored artifact), optionally prefixed by PROJECT/.")
_project_option = click.option(
    "--project", envvar="LINEAL_PROJECT", default=None,
    help="Project for a REF that names none [env: LINEAL_PROJECT; default: default].",
)


@click.group()
def datasets() -> None:
    """Dataset versions: content digest, schema and profile of each, and what changed between
    two of them (schema, rows, per-column distribution shifts such as a silent unit change)."""


@datasets.command("list")
@click.option("--project", help="Only datasets in this project.")
@click.option("--name", help="Only versions of this dataset name.")
@click.option("--kind", default="dataset", show_default=True,
              help="Artifact kind the datasets were logged with.")
@click.option("-n", "--limit", type=LIMIT, default=50, show_default=True,
              help="At most this many versions, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@wide_option
@click.pass_context
def list_command(ctx: click.Context, project: str | None, name: str | None, kind: str,
                 limit: int, as_json: bool) -> None:
    """List dataset versions, newest first: reference, rows, columns, dataset digest, storage,
    context and creation time."""
    from ..datasets import list_datasets

    store = open_store_from_ctx(ctx)
    found = list_datasets(project=project, name=name, kind=kind, limit=limit, store=store)
    if as_json:
        emit_json([_summary(d) for d in found])
        return
    print_table(
        None,
        ("dataset", "rows", "cols", "digest", "storage", "context", "created"),
        [(d.ref, f"{d.description.num_rows:,}", d.description.num_columns,
          short_digest(d.digest), d.artifact.storage, d.context or "", local_time(d.artifact.created_at))
         for d in found],
        empty="no dataset versions match",
    )


def _summary(dataset: DatasetVersion) -> dict[str, Any]:
    return {
        "ref": dataset.ref,
        "name": dataset.artifact.name,
        "version": dataset.artifact.version,
        "rows": dataset.description.num_rows,
        "columns": dataset.description.num_columns,
        "digest": dataset.digest,
        "storage": str(dataset.artifact.storage),
        "size": dataset.artifact.size,
        "context": dataset.context,
        "source": dataset.source,
        "created_at": dataset.artifact.created_at,
        "producer_run_id": dataset.artifact.producer_run_id,
    }


@datasets.command("show", epilog=_REF_HELP)
@click.argument("ref")
@_project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def show_command(ctx: click.Context, ref: str, project: str | None, as_json: bool) -> None:
    """Show the dataset version REF: its digest, storage, source and context, then its schema
    (with column tags) and its profile as tables."""
    from ..datasets import get_dataset

    store = open_store_from_ctx(ctx)
    dataset = get_dataset(ref, project=project, store=store)
    if as_json:
        emit_json(dataset.to_dict())
        return
    desc, version = dataset.description, dataset.artifact
    user_tags = {k: v for k, v in version.tags.items() if not k.startswith("lineal.")}
    print_fields([
        ("dataset", version.ref),
        # Two digests: the data's (rows and columns, independent of file layout) and the
        # artifact's (its bytes, what `name@sha256:` references and trained-on show).
        ("digest", f"{dataset.digest} (data)"),
        ("artifact", f"{version.digest} (bytes)"),
        ("rows", f"{desc.num_rows:,}"),
        ("columns", desc.num_columns),
        ("memory", human_size(desc.nbytes)),
        ("storage", f"{version.storage} ({dataset.format or 'in memory'}, {human_size(version.size)})"
         if dataset.stored or dataset.format else f"{version.storage} (no copy held)"),
        ("uri", version.uri),
        ("source", dataset.source),
        ("context", dataset.context),
        ("targets", ", ".join(dataset.targets)),
        ("predictions", ", ".join(dataset.predictions)),
        ("produced by", version.producer_run_id),
        ("created", local_time(version.created_at)),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(user_tags.items()))),
        ("aliases", ", ".join(version.aliases)),
        ("purged", str(version.purged).removeprefix("purged ") if version.purged else None),
    ])
    roles = {c: "target" for c in dataset.targets} | {c: "prediction" for c in dataset.predictions}
    print_table(
        "Schema",
        ("column", "type", "nullable", "role", "tags"),
        [(c.name, c.type, "yes" if c.nullable else "no", roles.get(c.name, ""),
          ", ".join(dataset.column_tags.get(c.name, []))) for c in desc.schema],
    )
    if desc.columns:
        print_table(
            "Profile",
            ("column", "nulls", "distinct", "min", "max", "mean", "std", "top values"),
            [_profile_row(p, desc.num_rows) for p in desc.columns],
            no_wrap=("column",),
        )
        notes = []
        if any(p.distinct_is_estimate for p in desc.columns):
            notes.append("~ distinct counts are estimates (K-minimum-values sketch, about 1% error)")
        if any(p.quantiles_estimated for p in desc.columns):
            notes.append("quantiles of long numeric columns come from a fixed 1 Mi-row sample")
        for note in notes:
            say(note)


def _profile_row(p: ColumnProfile, rows: int) -> tuple[Any, ...]:
    nulls = f"{p.null_count:,}" + (f" ({p.null_count / rows:.1%})" if rows and p.null_count else "")
    if p.distinct_count is None:
        distinct = "-"
    else:
        distinct = ("~" if p.distinct_is_estimate else "") + f"{p.distinct_count:,}"
    # Values seen once each say nothing about frequency (an id or an e-mail column).
    values = p.top_values if p.top_values and p.top_values[0][1] > 1 else []
    top = ", ".join(f"{_cell(v)} ({c:,})" for v, c in values[:3])
    if len(values) > 3:
        top += ", …"
    return (p.name, nulls, distinct, _cell(p.min), _cell(p.max), _cell(p.mean), _cell(p.std),
            truncate(top, 60))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return truncate(number(value), 32)


@datasets.command("diff", epilog=_REF_HELP)
@click.argument("ref_a")
@click.argument("ref_b")
@_project_option
@click.option("--threshold", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="Shift score (a standardised effect size: 0.2 small, 0.5 medium, 0.8 large) "
              "from which a column is flagged.")
@click.option("--all", "show_all", is_flag=True,
              help="List every column whose statistics changed, not only the flagged ones.")
@click.option("--check", is_flag=True,
              help="Exit with code 1 when the schema changed or a column is flagged (for CI).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def diff_command(ctx: click.Context, ref_a: str, ref_b: str, project: str | None,
                 threshold: float, show_all: bool, check: bool, as_json: bool) -> None:
    """Compare dataset version REF_A (old) with REF_B (new) from their recorded descriptions:
    columns added, removed and retyped, row counts, and per-column distribution shifts, flagged
    when their score reaches --threshold, with the reason (e.g. a unit or scale change)."""
    from ..datasets import diff, get_dataset

    store = open_store_from_ctx(ctx)
    old = get_dataset(ref_a, project=project, store=store)
    new = get_dataset(ref_b, project=project, store=store)
    result = diff(old.description, new.description, threshold=threshold)
    if as_json:
        emit_json({"a": old.ref, "b": new.ref, "threshold": threshold, **result.to_dict()})
    else:
        _print_diff(old, new, result, show_all)
    changed = bool(result.added_columns or result.removed_columns or result.retyped_columns
                   or result.flagged)
    if check and changed:
        # SystemExit rather than ctx.exit: lineal's main() runs click with standalone_mode=False,
        # where ctx.exit's code is returned instead of exiting (lost under `python -m lineal.cli`).
        raise SystemExit(1)


def _print_diff(old: DatasetVersion, new: DatasetVersion, result: DatasetDiff, show_all: bool) -> None:
    rows_a, rows_b = result.row_count
    change = rows_b - rows_a
    pct = f", {change / rows_a:+.1%}" if rows_a else ""
    print_fields([
        ("old", f"{old.ref} ({short_digest(old.digest)})"),
        ("new", f"{new.ref} ({short_digest(new.digest)})"),
        ("content", "identical" if result.same_content else "different"),
        ("rows", f"{rows_a:,} -> {rows_b:,} ({change:+,}{pct})"),
    ])
    schema = ([(name, "added", "", _type_of(new, name)) for name in result.added_columns]
              + [(name, "removed", _type_of(old, name), "") for name in result.removed_columns]
              + [(name, "retyped", before, after) for name, before, after in result.retyped_columns])
    print_table("Schema changes", ("column", "change", "old type", "new type"), schema,
                empty="\nSchema: no columns added, removed or retyped")
    shifts = result.column_shifts if show_all else result.flagged
    shifts = sorted(shifts, key=lambda s: (not s.flagged, -s.score))
    if not shifts:
        quiet = len(result.column_shifts)
        say("\nNo column shifted past the threshold"
                   + (f" ({quiet} changed a little: --all lists them)" if quiet else ""))
        return
    _print_shifts(shifts)


def _type_of(dataset: DatasetVersion, name: str) -> str:
    return next((c.type for c in dataset.description.schema if c.name == name), "")


def _print_shifts(shifts: list[Any]) -> None:
    """The shifts as a table fitted to the terminal, like every other table."""
    print_table("Column shifts", ("column", "score", "flagged", "mean", "std", "reason"), [
        (shift.name, f"{shift.score:.2f}", "FLAGGED" if shift.flagged else "",
         _move(shift.changes.get("mean")), _move(shift.changes.get("std")), shift.reason)
        for shift in shifts])


def _move(change: tuple[Any, Any] | None) -> str:
    if change is None:
        return ""
    before, after = change
    return f"{_cell(before)} -> {_cell(after)}"
