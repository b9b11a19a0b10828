"""The questions about a model, one command each: ``lineal trained-on``, ``params``,
``pipeline``, ``env``, ``runs-using``, ``why-failed``, ``last-deployed``, ``leaderboard`` and
``diff``. Each makes one :mod:`lineal.lineage` call and prints a table, or JSON with ``--json``.

A MODEL_REF is a registered model version (``churn@v3``, ``churn@prod``, ``churn``), a model
artifact version (``churn-model@v2``) or a run (``run:01J...``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .complete import complete_refs
from .render import (
    LIMIT,
    PROJECT_OPTION,
    emit_json,
    human_duration,
    local_time,
    number,
    open_store_from_ctx,
    print_fields,
    print_table,
    say,
    short_digest,
    wide_option,
)

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
_PROJECT = PROJECT_OPTION


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _short(value: Any, width: int = 40) -> str:
    text = number(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


def _run_label(run: Any) -> str:
    return f"{run.name} {run.id}" if run is not None else "-"


def _ref(ref: str) -> str:
    """A reference for a table: always with its project, ``default/`` too (one rule for every
    command, and what is printed can be pasted back whatever the current project)."""
    return ref


def _run_short(run: Any) -> str:
    """``train 01M874CB8G``: a run id prefix long enough for ``lineal runs show``."""
    return f"{run.name} {run.id[:10]}" if run is not None else "-"


# -- 1 -------------------------------------------------------------------------------------------
@click.command("trained-on")
@click.argument("model_ref", shell_complete=complete_refs)
@click.option("--kind", "kinds", multiple=True, default=("dataset",), show_default=True,
              help="Artifact kinds to list; repeat for several (dataset, file, ...).")
@_PROJECT
@_JSON
@wide_option
@click.pass_context
def trained_on_command(ctx: click.Context, model_ref: str, kinds: tuple[str, ...],
                       project: str | None, as_json: bool) -> None:
    """Which dataset versions MODEL_REF was trained on: names, versions, digests, the role and
    step that consumed each, through the whole pipeline to the sources.

    \b
    lineal trained-on churn@v3
    lineal trained-on churn-model@v2 --json
    """
    from ..lineage.questions import trained_on

    report = trained_on(model_ref, kinds=kinds, project=project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(report.to_dict())
        return
    s = report.subject
    say(f"{s.label}" + (f" ({s.artifact.ref})" if s.model_version and s.artifact else "")
               + f" was trained on {len(report)} dataset version(s):")
    print_table(None, ("dataset", "digest", "role", "step", "depth", "direct", "rows", "tainted"),
                [(_ref(d.ref), short_digest(d.digest), d.role, d.step, d.depth, _yes(d.direct),
                  d.rows if d.rows is not None else "-", "TAINTED" if d.tainted else "")
                 for d in report.datasets],
                empty="  (no dataset upstream: was the data logged with kind='dataset'?)")


# -- 2 -------------------------------------------------------------------------------------------
@click.command("params")
@click.argument("model_ref", shell_complete=complete_refs)
@_PROJECT
@_JSON
@click.pass_context
def params_command(ctx: click.Context, model_ref: str, project: str | None, as_json: bool) -> None:
    """The hyperparameters behind MODEL_REF: its training run's params, those of the pipeline
    run it belongs to, and those of every step upstream, labelled by step.

    \b
    lineal params churn@v3
    """
    from ..lineage.questions import params

    report = params(model_ref, project=project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(report.to_dict())
        return
    pipe = f" in pipeline {_run_label(report.pipeline)}" if report.pipeline else ""
    say(f"{report.subject.label}: produced by run {_run_label(report.run)}{pipe}")
    print_table(None, ("scope", "step", "param", "value"),
                [(scope, step, key, _short(value, 60)) for scope, step, key, value in report.rows()],
                empty="  (no params were logged)")


# -- 3 -------------------------------------------------------------------------------------------
@click.command("pipeline")
@click.argument("model_ref", shell_complete=complete_refs)
@_PROJECT
@_JSON
@click.pass_context
def pipeline_command(ctx: click.Context, model_ref: str, project: str | None, as_json: bool) -> None:
    """Which pipeline produced MODEL_REF: the parent run, its steps in order with status and
    duration, and the code (git commit, branch, dirty flag, entry point and its hash).

    \b
    lineal pipeline churn@v3
    """
    from ..lineage.questions import pipeline

    report = pipeline(model_ref, project=project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(report.to_dict())
        return
    p = report.pipeline
    code = report.code
    dirty = code.get("dirty")
    git_unknown = report.not_captured.get("git")
    entry_unknown = report.not_captured.get("entry_point")
    print_fields([
        ("model", report.subject.label),
        ("produced by", f"run {_run_label(report.run)} ({report.run.kind})"),
        ("pipeline", f"{_run_label(p)} ({p.status}, {human_duration(p.duration_s)})" if p
         else "none (the run has no parent run)"),
        ("commit", _not_captured(git_unknown) if git_unknown
         else code.get("commit") or "none (not a git checkout, or no commit yet)"),
        ("branch", code.get("branch")),
        ("dirty", None if dirty is None else ("yes, diff " + (code.get("diff_digest") or "?")
                                               if dirty else "no")),
        ("remote", code.get("remote_url")),
        ("entry point", _not_captured(entry_unknown) if entry_unknown
         else f"{code.get('entry_point')} ({code.get('entry_point_kind')})"
         if code.get("entry_point") else None),
        ("entry sha256", code.get("entry_point_sha256")),
    ])
    say("")
    print_table("steps (* produced the model)",
                ("#", "step", "kind", "status", "duration", "run", "commit", "outputs"),
                [(i + 1, ("* " if s.produced_subject else "") + s.run.name, s.run.kind,
                  str(s.run.status), human_duration(s.run.duration_s), s.run.id,
                  "not captured" if s.commit_not_captured else (s.commit or "-")[:8],
                  "\n".join(_ref(o) for o in s.outputs))
                 for i, s in enumerate(report.steps)])
    if report.upstream_elsewhere:
        print_table("upstream runs outside this pipeline", ("step", "kind", "status", "run"),
                    [(r.name, r.kind, str(r.status), r.id) for r in report.upstream_elsewhere])


# -- 4 -------------------------------------------------------------------------------------------
@click.command("env")
@click.argument("model_ref", shell_complete=complete_refs)
@click.option("--package", "packages", multiple=True,
              help="Only packages whose name contains this (or matches this glob); repeatable.")
@_PROJECT
@_JSON
@click.pass_context
def env_command(ctx: click.Context, model_ref: str, packages: tuple[str, ...],
                project: str | None, as_json: bool) -> None:
    """Which Python, OS, ML framework and library versions MODEL_REF was trained with.

    \b
    lineal env churn@v3
    lineal env churn@v3 --package torch --package numpy
    """
    from ..lineage.questions import environment

    report = environment(model_ref, package=list(packages) or None, project=project,
                         store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(report.to_dict())
        return
    py, os_ = report.python, report.os
    unknown = report.not_captured
    print_fields([
        ("model", report.subject.label),
        ("run", _run_label(report.run)),
        ("python", _not_captured(unknown["python"]) if "python" in unknown
         else f"{py.get('version')} ({py.get('implementation')})" if py else "not recorded"),
        ("os", _not_captured(unknown["os"]) if "os" in unknown
         else " ".join(str(v) for v in (os_.get("system"), os_.get("release"), os_.get("machine"))
                       if v) + (f", {os_['distribution']}" if os_.get("distribution") else "")
         if os_ else "not recorded"),
        ("container", _not_captured(unknown["container"]) if "container" in unknown
         else (report.container or {}).get("image")),
        ("hardware", _not_captured(unknown["hardware"]) if "hardware" in unknown else None),
        ("gpus", _not_captured(unknown["gpus"]) if "gpus" in unknown else None),
        ("frameworks", ", ".join(f"{k} {v}" for k, v in report.frameworks.items()) or "none imported"),
        ("environment", f"{report.environment_ref} {short_digest(report.environment_digest or '')}"),
    ])
    say("")
    if report.package_count is None:
        say(f"packages: {_not_captured(unknown.get('packages'))}")
        return
    shown = f"{len(report.packages)} of {report.package_count}" if packages else str(report.package_count)
    print_table(f"packages ({shown})", ("package", "version"), list(report.packages.items()),
                empty=f"no installed package matches {', '.join(packages)}")


@click.command("runs-using")
@click.argument("requirement")
@click.option("--project", help="Only runs of this project.")
@click.option("-n", "--limit", type=LIMIT, default=100, show_default=True,
              help="At most this many runs, newest first.")
@_JSON
@wide_option
@click.pass_context
def runs_using_command(ctx: click.Context, requirement: str, project: str | None, limit: int,
                       as_json: bool) -> None:
    """Which runs ran with a package version: REQUIREMENT is a name (any version), name==1.2.3,
    name==2.3.* or a range such as 'torch>=2.3,<3'.

    \b
    lineal runs-using torch==2.3.1
    lineal runs-using 'scikit-learn>=1.5'
    """
    from ..lineage._usage import runs_using
    from ..requirements import parse_requirement

    name, spec = parse_requirement(requirement)
    report = runs_using(name, spec, project=project, limit=limit, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(report.to_dict())
        return
    versions = ", ".join(f"{v} ({n} run{'s' if n != 1 else ''})" for v, n in report.versions.items())
    say(f"{report.total} run(s) used {requirement}" + (f": {versions}" if versions else ""))
    print_table(None, ("run", "name", "kind", "status", "started", "version", "user"),
                [(u.run.id, u.run.name, u.run.kind, str(u.run.status), local_time(u.run.started_at),
                  u.version, u.run.tags.get("lineal.user") or u.run.created_by) for u in report.runs])
    if report.truncated:
        say(f"... {report.total - len(report)} more (raise --limit)")
    if report.not_captured_total:
        say("")
        print_table(f"{report.not_captured_total} run(s) whose packages were not captured: "
                    "unknown whether they used it",
                    ("run", "name", "kind", "status", "started", "reason"),
                    [(u.run.id, u.run.name, u.run.kind, str(u.run.status),
                      local_time(u.run.started_at), u.reason) for u in report.not_captured])
        if report.not_captured_total > len(report.not_captured):
            say(f"... {report.not_captured_total - len(report.not_captured)} more "
                       "(raise --limit)")


# -- 5 -------------------------------------------------------------------------------------------
@click.command("why-failed")
@click.argument("run_or_ref", shell_complete=complete_refs)
@click.option("--tail", type=click.IntRange(min=0), default=12, show_default=True,
              help="Lines of the traceback to show.")
@_PROJECT
@_JSON
@click.pass_context
def why_failed_command(ctx: click.Context, run_or_ref: str, tail: int, project: str | None,
                       as_json: bool) -> None:
    """What made a run fail, and what differs from the last good run of the same step.

    RUN_OR_REF is a run id (run:01J...), a run name (its newest failed run), or a model (the
    newest failed run of the step that produces it). A failed pipeline is explained by its
    first failed step.

    \b
    lineal why-failed train-logreg
    lineal why-failed run:01J2ZK8Q...
    """
    from ..lineage._failure import why_failed

    report = why_failed(run_or_ref, tail=tail, project=project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(report.to_dict())
        return
    r = report.run
    inside = f" (step of pipeline {_run_label(report.pipeline)})" if report.pipeline else ""
    say(f"run {_run_label(r)} {r.status} at {local_time(r.ended_at)}{inside}")
    say(f"error: {report.error.type}: {report.error.message}")
    if report.traceback_tail:
        say(f"traceback (last {len(report.traceback_tail)} lines):")
        for line in report.traceback_tail:
            say(f"  {line}")
    say("")
    if report.last_good is None or report.comparison is None:
        say(f"no earlier run of {r.name} ({r.kind}) finished: nothing to compare with")
        return
    c = report.comparison
    unknown = f" (not captured, so unknown: {', '.join(c.not_captured)})" if c.not_captured else ""
    say(f"compared with the last good run {_run_label(report.last_good)} "
               f"({local_time(report.last_good.started_at)}): "
               + (f"differs in {', '.join(c.differs_in)}" if c.differs_in
                  else "same params, inputs, code and environment") + unknown)
    rows = comparison_rows(c.to_dict(), ("params", "inputs", "code", "environment",
                                         "not_captured"))
    print_table(None, ("what", "key", "last good", "failed"), rows)


def comparison_rows(d: dict[str, Any], sections: tuple[str, ...],
                    step: str | None = None) -> list[tuple[Any, ...]]:
    """Rows ``(what, key, a, b)`` (``(step, what, key, a, b)`` with ``step``) of a run
    comparison's dict."""
    rows: list[tuple[Any, ...]] = []

    def add(what: str, key: str, a: Any, b: Any) -> None:
        rows.append(((step,) if step is not None else ()) + (what, key, _cell(a), _cell(b)))

    for section in sections:
        change = d[section]
        if section == "not_captured":
            for part, (a, b) in change.items():
                add("not captured", part, _captured_cell(a), _captured_cell(b))
            continue
        if section == "environment":
            for key, (a, b) in change["changed"].items():
                add("package", key, a, b)
            for key, value in change["removed"].items():
                add("package", key, value, "(removed)")
            for key, value in change["added"].items():
                add("package", key, "(absent)", value)
            if change.get("python"):
                add("python", "version", *change["python"])
            continue
        what = section.rstrip("s") if section != "code" else "code"
        for key, (a, b) in change["changed"].items():
            add(what, key, a, b)
        for key, value in change["only_a"].items():
            add(what, key, value, "(absent)")
        for key, value in change["only_b"].items():
            add(what, key, "(absent)", value)
    return rows


def _not_captured(reason: str | None) -> str:
    return f"not captured ({reason})" if reason else "not captured"


def _captured_cell(reason: str | None) -> str:
    """A side of a ``not_captured`` entry: the reason, or that this side was captured."""
    return _not_captured(reason) if reason else "captured"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict) and "ref" in value:
        return f"{value['ref']} {short_digest(value.get('digest') or '', 10)}"
    if isinstance(value, str) and value.startswith("sha256:"):
        return short_digest(value)
    return _short(value, 48)


# -- 6 -------------------------------------------------------------------------------------------
@click.command("last-deployed")
@click.argument("model", shell_complete=complete_refs)
@click.option("--env", "environment", help="Only deployments to this environment.")
@_PROJECT
@_JSON
@click.pass_context
def last_deployed_command(ctx: click.Context, model: str, environment: str | None,
                          project: str | None, as_json: bool) -> None:
    """Which version of MODEL was deployed last (to --env), and whether it is still live.

    MODEL is a registered model (churn), one of its versions (churn@v3), or the name of a model
    artifact. `lineal deploy last` is the same command under another name.

    \b
    lineal last-deployed churn --env prod
    """
    from ..lineage._usage import last_deployed

    found = last_deployed(model, environment, project=project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(found.to_dict())
        return
    d = found.deployment
    print_fields([
        ("model version", d.model_ref),
        ("artifact", f"{found.artifact.ref} {short_digest(found.artifact.digest)}"),
        ("deployment", f"{d.name} in {d.environment} ({d.id})"),
        ("target", d.target),
        ("started", local_time(d.started_at)),
        ("status", "live" if found.live else f"{d.status}, ended {local_time(d.ended_at)}"),
        ("by", d.created_by),
    ])


# -- 7 -------------------------------------------------------------------------------------------
@click.command("leaderboard")
@click.argument("dataset_ref", shell_complete=complete_refs)
@click.option("--metric", required=True, help="The metric to rank by, e.g. accuracy.")
@click.option("--lower-is-better", is_flag=True, help="Rank the lowest value first (losses).")
@click.option("--kind", "kinds", multiple=True, default=("model",), show_default=True,
              help="Artifact kinds to rank; repeatable.")
@_PROJECT
@_JSON
@wide_option
@click.pass_context
def leaderboard_command(ctx: click.Context, dataset_ref: str, metric: str, lower_is_better: bool,
                        kinds: tuple[str, ...], project: str | None, as_json: bool) -> None:
    """Every model trained on DATASET_REF (directly or on data made from it), who trained it,
    when, and its METRIC, best first; models without the metric come last.

    \b
    lineal leaderboard churn-train@v2 --metric auc
    lineal leaderboard churn-train@v2 --metric loss --lower-is-better
    """
    from ..lineage._usage import leaderboard

    board = leaderboard(dataset_ref, metric, lower_is_better=lower_is_better, kinds=kinds,
                        project=project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(board.to_dict())
        return
    order = "lower is better" if lower_is_better else "higher is better"
    say(f"models downstream of {board.subject.label} by {metric} ({order}):")
    print_table(None, ("#", "model", metric, "run", "user", "created", "registered"),
                [(e.rank or "-", _ref(e.model.ref), e.value if e.value is not None else "-",
                  _run_short(e.metric_run or e.run), e.user or "-", local_time(e.model.created_at),
                  ", ".join(_ref(r) for r in e.registered)) for e in board.entries],
                empty="  (no model downstream of it)")


# -- diff ----------------------------------------------------------------------------------------
@click.command("diff")
@click.argument("a", shell_complete=complete_refs)
@click.argument("b", shell_complete=complete_refs)
@click.option("--all", "show_all", is_flag=True, help="Also list unchanged datasets and steps.")
@_PROJECT
@_JSON
@click.pass_context
def diff_command(ctx: click.Context, a: str, b: str, show_all: bool, project: str | None,
                 as_json: bool) -> None:
    """What changed from A to B across their whole upstream graphs: data, params, code,
    environment and metrics, step by step, and the first step where the lineages diverge.

    A and B are artifact versions, registry refs (churn@v3 churn@v4) or runs (run:01J...).

    \b
    lineal diff churn@v3 churn@v4
    """
    from ..lineage._diff import diff

    d = diff(a, b, project=project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(d.to_dict())
        return
    say(f"a: {d.a.label}" + (f" (run {_run_label(d.a.run)})" if d.a.run and not d.a.is_run else ""))
    say(f"b: {d.b.label}" + (f" (run {_run_label(d.b.run)})" if d.b.run and not d.b.is_run else ""))
    if d.same_content:
        say("same content: the two versions are the same bytes")
    first = d.first_divergence
    unknown = d.not_captured
    if first is None:
        say("the two lineages do not diverge: same steps, inputs, params, code, environment"
                   + (" (except what was not captured, which is unknown)" if unknown else ""))
    else:
        say(f"first divergence: step {first.step}")
        for reason in first.reasons:
            say(f"  - {reason}")
    data = [x for x in d.data if x.changed or show_all]
    if data:
        say("")
        print_table("data", ("dataset", "a", "b", "rows", "schema"),
                    [(x.name, _side(x.a), _side(x.b),
                      f"{x.rows[0]} -> {x.rows[1]}" if x.rows else "", _schema_text(x))
                     for x in data])
    _section("params", d.params, lambda step, c: _pairs(step, "", c))
    _section("code", d.code, lambda step, c: _pairs(step, "", c))
    _section("environment", d.environment, _env_rows)
    _section("metrics", d.metrics, lambda step, c: _pairs(step, "", c))
    _section("not captured (unknown, not compared)", unknown,
             lambda step, parts: [(step, part, _captured_cell(a), _captured_cell(b))
                                  for part, (a, b) in parts.items()])
    statuses = [(s.step, s.status, s.a.run.id if s.a else "-", s.b.run.id if s.b else "-")
                for s in d.steps if show_all or s.status != "same"]
    if statuses:
        say("")
        print_table("steps (from the sources down)", ("step", "status", "a run", "b run"), statuses)


def _side(version: Any) -> str:
    return f"v{version.version} {short_digest(version.digest, 10)}" if version else "(absent)"


def _schema_text(x: Any) -> str:
    parts = [f"+{c}" for c in x.columns_added] + [f"-{c}" for c in x.columns_removed]
    parts += [f"{c}: {a} -> {b}" for c, (a, b) in x.columns_retyped.items()]
    if x.profile:
        flagged = [s["name"] for s in x.profile.get("column_shifts", []) if s.get("flagged")]
        if flagged:
            parts.append("shifted: " + ", ".join(flagged))
    return "; ".join(parts)


def _pairs(step: str, prefix: str, change: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = [(step, prefix + str(k), _cell(a), _cell(b)) for k, (a, b) in change["changed"].items()]
    rows += [(step, prefix + str(k), _cell(v), "(absent)") for k, v in change["only_a"].items()]
    rows += [(step, prefix + str(k), "(absent)", _cell(v)) for k, v in change["only_b"].items()]
    return rows


def _env_rows(step: str, env: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = [(step, k, a, b) for k, (a, b) in env["changed"].items()]
    rows += [(step, k, v, "(removed)") for k, v in env["removed"].items()]
    rows += [(step, k, "(absent)", v) for k, v in env["added"].items()]
    if env.get("python"):
        rows.append((step, "python", *env["python"]))
    return rows


def _section(title: str, by_step: dict[str, Any],
             rows_of: Callable[[str, Any], list[tuple[Any, ...]]]) -> None:
    rows = [row for step, change in by_step.items() for row in rows_of(step, change)]
    if rows:
        say("")
        print_table(title, ("step", "key", "a", "b"), rows)
