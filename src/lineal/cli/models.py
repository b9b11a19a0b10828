"""``lineal models``: logged model versions with their format, framework, signature, size, and
the run that produced them with its metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..errors import NotFound
from .complete import complete_refs
from .render import (
    LIMIT,
    emit_json,
    human_size,
    local_time,
    metric_summary,
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
    from ..models.listing import ModelVersionInfo
    from ..store import Store

@click.group()
def models() -> None:
    """Model versions logged with run.log_model: format, framework, signature, size, and the
    run that trained them with its metrics. (Registered models, stages and aliases are under
    `lineal registry`.)"""


@models.command("list")
@click.option("--project", help="Only models of this project.")
@click.option("--name", help="Only versions of this model name.")
@click.option("--framework", help="Only models of this framework (sklearn, torch, xgboost, ...).")
@click.option("--flavor", help="Only models saved by this flavor (sklearn, torch, onnx, pyfunc, ...).")
@click.option("--run", "run_id", metavar="RUN_ID",
              help="Only models this run produced (full id or unique prefix).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
              help="Only versions with this tag; repeat to require several.")
@click.option("--since", help="Only versions logged at or after this time: ISO-8601 or an age "
              "(3d, 12h, 30m).")
@click.option("--until", help="Only versions logged before this time (same forms as --since).")
@click.option("-n", "--limit", type=LIMIT, default=50, show_default=True,
              help="At most this many versions, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@wide_option
@click.pass_context
def list_command(
    ctx: click.Context, project: str | None, name: str | None, framework: str | None,
    flavor: str | None, run_id: str | None, tags: tuple[str, ...], since: str | None,
    until: str | None, limit: int, as_json: bool,
) -> None:
    """List model versions, newest first: format, framework and version, input signature,
    size, and the producing run with its metrics."""
    from ..models.listing import list_models
    from .runs import find_run

    tag_map = parse_pairs(tags)
    after, before = parse_time(since, "--since"), parse_time(until, "--until")
    store = open_store_from_ctx(ctx)
    producer = find_run(store, run_id).id if run_id else None
    found = list_models(
        project=project, name=name, flavor=flavor, framework=framework,
        producer_run_id=producer, tags=tag_map, created_after=after, created_before=before,
        limit=limit, store=store,
    )
    if as_json:
        emit_json([m.to_dict() for m in found])
        return
    print_table(
        None,
        ("model", "format", "framework", "inputs", "size", "run", "metrics", "created"),
        [(m.ref, m.format or "-", _framework_text(m), signature_text(m.signature, "inputs"),
          human_size(m.version.size), _run_text(m), metric_summary(m.run.metrics) if m.run else "",
          local_time(m.version.created_at)) for m in found],
        empty="no model versions match",
    )
    note_limit(len(found), limit, "model versions")


@models.command("show", epilog="REF is an artifact reference (iris@v3, iris@latest, "
                "iris@sha256:PREFIX, PROJECT/iris) or a registry one (churn@prod).")
@click.argument("ref", shell_complete=complete_refs)
@click.option("--project", envvar="LINEAL_PROJECT", default=None,
              help="Project for a REF that names none [env: LINEAL_PROJECT; default: default].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def show_command(ctx: click.Context, ref: str, project: str | None, as_json: bool) -> None:
    """Show one model version: format, framework, whether loading it needs trust, its
    signature, files and input example; the run that trained it with its params, metrics and
    inputs; and the runs that loaded it."""
    from ..models.listing import get_model
    from .artifacts import lineage

    store = open_store_from_ctx(ctx)
    model = get_model(ref, project=project, store=store)
    producer_inputs = _run_inputs(store, model.run.id) if model.run else []
    _, consumers = lineage(store, model.version)
    if as_json:
        emit_json({**model.to_dict(), "run_inputs": producer_inputs, "consumers": consumers})
        return
    _print_model(model, producer_inputs, consumers)


# -- helpers -------------------------------------------------------------------------------------
def signature_text(signature: dict[str, Any] | None, side: str = "inputs") -> str:
    """One side of a signature in a few words: ``float64[-1, 4]`` for one tensor,
    ``age:int64, city:string (+4)`` for named columns, ``-`` when unknown."""
    if not signature or not signature.get(side):
        return "-"
    entries = signature[side]

    def one(entry: dict[str, Any]) -> str:
        text = str(entry.get("type", "?"))
        if entry.get("name"):  # a named column: its name says more than its shape
            return f"{entry['name']}:{text}"
        shape = entry.get("shape")
        return text + ("[" + ", ".join(str(n) for n in shape) + "]" if shape else "")

    if len(entries) > 2 and all(e.get("name") for e in entries):
        # Many named columns do not fit a table cell; their count and types do.
        types = sorted({str(e.get("type", "?")) for e in entries})
        return f"{len(entries)} columns: {'/'.join(types[:3])}" + ("/..." if len(types) > 3 else "")
    shown = ", ".join(one(e) for e in entries[:2])
    return shown + (f" (+{len(entries) - 2})" if len(entries) > 2 else "")


def _framework_text(model: ModelVersionInfo) -> str:
    if model.framework is None:
        return "-"
    text = f"{model.framework} {model.framework_version or ''}".strip()
    if model.flavor and model.flavor != model.framework:
        text += f" ({model.flavor})"
    return text


def _run_text(model: ModelVersionInfo) -> str:
    if model.run is not None:
        return f"{model.run.id} {model.run.name}"
    if model.version.producer_run_id:
        return f"{model.version.producer_run_id} (missing)"
    return "-"


def _run_inputs(store: Store, run_id: str) -> list[dict[str, Any]]:
    """What the producing run consumed (data, code, environment): what made this model."""
    out = []
    for edge in store.metadata.list_edges(run_id=run_id):
        if str(edge.direction) != "input":
            continue
        try:
            version = store.metadata.get_artifact_version(edge.artifact_id)
        except NotFound:  # a dangling edge: `lineal verify` reports it; show what is known
            out.append({"role": edge.role, "id": edge.artifact_id, "ref": None})
            continue
        out.append({"role": edge.role, "ref": version.ref, "id": version.id,
                    "kind": version.kind, "digest": version.digest})
    return out


def _print_model(
    model: ModelVersionInfo, inputs: list[dict[str, Any]], consumers: list[dict[str, Any]]
) -> None:
    version = model.version
    trust = None
    if model.pickle_based is not None:
        trust = ("yes: pickle-based, loading it runs code (load_model needs trust=True)"
                 if model.pickle_based else "no")
    print_fields([
        ("model", version.ref),
        ("id", version.id),
        ("format", model.format or "unknown (not logged with run.log_model)"),
        ("framework", _framework_text(model)),
        ("needs trust", trust),
        ("digest", version.digest),
        ("size", f"{human_size(version.size)} ({version.size} bytes)"),
        ("files", ", ".join(model.files) if model.files else None),
        ("aliases", ", ".join(version.aliases) or None),
        ("tainted", "yes" if version.tainted else None),
        ("purged", str(version.purged).removeprefix("purged ") if version.purged else None),
        ("created", f"{local_time(version.created_at)} by {version.created_by}"),
        ("run", _run_text(model) if version.producer_run_id else "none (logged outside a run)"),
    ])
    if model.signature:
        for side in ("inputs", "outputs"):
            entries = model.signature.get(side) or []
            if entries:
                print_table(f"Signature {side}", ("name", "type", "shape"), [
                    (e.get("name") or "-", e.get("type", "?"),
                     str(e["shape"]) if e.get("shape") is not None else "-")
                    for e in entries[:50]
                ])
    if model.input_example is not None:
        import json

        say(f"\ninput example: {truncate(json.dumps(model.input_example), 160)}")
    if version.tags:
        print_table("Tags", ("tag", "value"), sorted(version.tags.items()))
    run = model.run
    if run is not None:
        if run.params:
            print_table(f"Params of run {run.id}", ("param", "value"),
                        [(k, truncate(str(v))) for k, v in sorted(run.params.items())])
        if run.metrics:
            print_table(f"Metrics of run {run.id}", ("metric", "value"),
                        [(k, v) for k, v in sorted(run.metrics.items())])
    if inputs:
        print_table("Trained from (the run's inputs)", ("role", "artifact", "kind", "digest"), [
            (i["role"], i["ref"] or f"{i['id']} (missing)", i.get("kind", ""),
             short_digest(i["digest"]) if i.get("digest") else "") for i in inputs
        ])
    if consumers:
        print_table("Loaded by", ("run", "name", "kind", "status", "role"),
                    [(c["id"], c.get("name", "(missing)"), c.get("kind", ""), c.get("status", ""),
                      c["role"]) for c in consumers])
