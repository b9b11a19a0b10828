"""How lineal's objects show themselves to Python users: a one-line ``repr`` for the console,
HTML for Jupyter (``_repr_html_``: a run card, a version card, a diff table, a lineage graph as
inline SVG) and pandas DataFrames (``to_pandas``).

Entities call into this module lazily, from their ``__repr__``/``_repr_html_``/``to_pandas``,
so ``import lineal`` stays cheap: only the standard library is imported here, and pandas only
inside the functions that build a DataFrame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

    from .entities import (
        ArtifactVersion,
        Closure,
        Deployment,
        Graph,
        MetricPoint,
        ModelVersion,
        Run,
    )
    from .lineage._diff import LineageDiff
    from .lineage._usage import Leaderboard

__all__ = [
    "ArtifactVersions",
    "MetricHistory",
    "ModelVersions",
    "Records",
    "Runs",
    "answer_html",
    "artifact_html",
    "artifact_repr",
    "artifacts_frame",
    "deployment_repr",
    "diff_html",
    "diff_repr",
    "graph_svg",
    "leaderboard_frame",
    "metric_frame",
    "model_version_html",
    "model_version_repr",
    "run_html",
    "run_repr",
    "runs_frame",
    "versions_frame",
]

#: Ids in reprs: a prefix every command and function accepts for a run. Twelve characters, not
#: eight: a ULID's first ten are its millisecond, so runs of one pipeline share their first eight
#: and a list of reprs would show the same id on every line.
SHORT_ID = 12


# -- one-line reprs --------------------------------------------------------------------------------
def run_repr(run: Run) -> str:
    """``<Run 01M8XD5N3KQ2 train finished>``."""
    return f"<Run {run.id[:SHORT_ID]} {run.name} {run.status}>"


def artifact_repr(version: ArtifactVersion) -> str:
    """``<ArtifactVersion default/churn@v3 model 1.2 MiB sha256:3f2a9c4d>``."""
    tainted = " tainted" if version.tainted else ""
    return (f"<ArtifactVersion {version.ref} {version.kind} {_size(version.size)} "
            f"{version.digest[:15]}{tainted}>")


def model_version_repr(version: ModelVersion) -> str:
    """``<ModelVersion default/churn@v4 production approved>``."""
    return f"<ModelVersion {version.ref} {version.stage} {version.status}>"


def deployment_repr(deployment: Deployment) -> str:
    """``<Deployment churn-api in prod default/churn@v4 live>``."""
    return (f"<Deployment {deployment.name} in {deployment.environment} "
            f"{deployment.model_ref} {deployment.status}>")


def diff_repr(diff: LineageDiff) -> str:
    """``<LineageDiff default/m@v1 vs default/m@v2: 2 of 5 steps differ, 1 dataset changed,
    first divergence at train>``: the answer's shape, not its 100 KB of detail."""
    differ = sum(1 for s in diff.steps if s.status != "shared")
    where = f", first divergence at {diff.first_divergence.step}" if diff.first_divergence else ""
    return (f"<LineageDiff {diff.a.label} vs {diff.b.label}: {differ} of {len(diff.steps)} "
            f"steps differ, {_plural(len(diff.data), 'dataset')} changed{where}>")


# -- HTML ------------------------------------------------------------------------------------------
_STYLE = ("font-family: system-ui, sans-serif; font-size: 13px; border: 1px solid #ccc; "
          "border-radius: 6px; padding: 8px 12px; display: inline-block; max-width: 100%")


def _e(value: Any) -> str:
    from html import escape  # html.entities is large: only notebooks need it

    return escape("" if value is None else str(value))


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def html_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain HTML table, every cell escaped."""
    head = "".join(f"<th style='text-align:left'>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(title: str, fields: Sequence[tuple[str, Any]],
          sections: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> str:
    rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{_e(k)}</th>"
                   f"<td>{_e(v)}</td></tr>" for k, v in fields if v not in (None, ""))
    parts = [f"<div style='{_STYLE}'><div><b>{_e(title)}</b></div><table>{rows}</table>"]
    for heading, values in sections:
        if values:
            parts.append(f"<div><i>{_e(heading)}</i></div>")
            parts.append(html_table(("key", "value"),
                                    [(k, _number(v)) for k, v in sorted(values.items())]))
    parts.append("</div>")
    return "".join(parts)


#: An HTML answer shows at most this many rows of each list (and says how many it left out).
HTML_ROWS = 50


def answer_html(answer: Any) -> str:
    """A card for any entity or answer with a ``to_dict()``: its one-line repr as the title,
    its plain fields as rows, each list of records as a table and each mapping as a
    key/value table (at most :data:`HTML_ROWS` rows each)."""
    data: Mapping[str, Any] = answer.to_dict()
    fields: list[tuple[str, Any]] = []
    sections: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            pairs = [[str(k), _cell(v)] for k, v in value.items()]
            sections.append(_section(key, ("key", "value"), pairs))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            columns = list(dict.fromkeys(k for record in value for k in record))
            rows = [[_cell(record.get(c)) for c in columns] for record in value]
            sections.append(_section(key, columns, rows))
        elif isinstance(value, list):
            fields.append((key, ", ".join(_cell(v) for v in value)))
        else:
            fields.append((key, _cell(value)))
    return _card(repr(answer), fields)[: -len("</div>")] + "".join(sections) + "</div>"


def _cell(value: Any) -> str:
    """A value in one table cell: numbers short, nested structures as compact JSON."""
    if isinstance(value, (dict, list)):
        import json

        text = json.dumps(value, default=str, sort_keys=True)
        return text if len(text) <= 200 else text[:199] + "…"
    return _number(value) if value is not None else ""


def _section(heading: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    more = len(rows) - HTML_ROWS
    note = f"<div><i>… {_plural(more, 'more row')}</i></div>" if more > 0 else ""
    return (f"<div><i>{_e(heading)}</i></div>" + html_table(columns, rows[:HTML_ROWS]) + note)


def run_html(run: Run) -> str:
    """A run card: who, when, how it ended, its params, metrics and tags."""
    duration = run.duration_s
    return _card(f"Run {run.name} ({run.kind}): {run.status}", [
        ("id", run.id), ("project", run.project), ("experiment", run.experiment),
        ("started", _when(run.started_at)), ("ended", _when(run.ended_at) if run.ended_at else None),
        ("duration", f"{duration:.1f}s" if duration is not None else None),
        ("parent", run.parent_id), ("by", run.created_by),
        ("error", f"{run.error.type}: {run.error.message}" if run.error else None),
    ], [("params", run.params), ("metrics", run.metrics), ("tags", run.tags)])


def artifact_html(version: ArtifactVersion) -> str:
    """An artifact version card: reference, content, origin."""
    return _card(f"{version.ref}" + (" (tainted)" if version.tainted else ""), [
        ("kind", version.kind), ("digest", version.digest),
        ("size", f"{_size(version.size)} ({version.size} bytes)"), ("storage", version.storage),
        ("aliases", ", ".join(version.aliases)), ("produced by run", version.producer_run_id),
        ("created", f"{_when(version.created_at)} by {version.created_by}"),
    ], [("tags", version.tags)])


def model_version_html(version: ModelVersion) -> str:
    """A registered model version card: registry state and the artifact it links."""
    return _card(f"{version.ref}: {version.stage}", [
        ("status", version.status), ("artifact", version.artifact_ref),
        ("digest", version.artifact_digest), ("aliases", ", ".join(version.aliases)),
        ("run", version.run_id), ("created", f"{_when(version.created_at)} by {version.created_by}"),
        ("description", version.description),
    ], [("tags", version.tags)])


def diff_html(diff: LineageDiff) -> str:
    """What differs between two lineages: one row per changed step and key, then the data."""
    rows: list[tuple[str, str, str, str, str]] = []
    for what, changes in (("param", diff.params), ("metric", diff.metrics), ("code", diff.code)):
        for step, change in changes.items():
            for key, (a, b) in _pairs(change):
                rows.append((step, what, key, _number(a), _number(b)))
    for step, env in diff.environment.items():
        for package, (a, b) in sorted(env.get("changed", {}).items()):
            rows.append((step, "package", package, a, b))
        for package, version in sorted(env.get("added", {}).items()):
            rows.append((step, "package", package, "-", version))
        for package, version in sorted(env.get("removed", {}).items()):
            rows.append((step, "package", package, version, "-"))
    data = [(d.name, d.a.ref if d.a else "-", d.b.ref if d.b else "-") for d in diff.data]
    parts = [f"<div style='{_STYLE}'><div><b>{_e(diff.a.label)} vs {_e(diff.b.label)}</b></div>"]
    if diff.first_divergence:
        parts.append(f"<div>first divergence: {_e(diff.first_divergence.step)} "
                     f"({_e('; '.join(diff.first_divergence.reasons))})</div>")
    parts.append(html_table(("step", "what", "key", "a", "b"), rows))
    if data:
        parts.append("<div><i>data</i></div>" + html_table(("dataset", "a", "b"), data))
    parts.append("</div>")
    return "".join(parts)


def _pairs(change: Any) -> list[tuple[str, tuple[Any, Any]]]:
    """``{"changed": {k: [a, b]}, "only_a": {...}, "only_b": {...}}`` (or a plain mapping of
    ``k -> [a, b]``) as ``(key, (a, b))`` pairs."""
    if not isinstance(change, Mapping):
        return [("", ("-", change))]
    if {"changed", "only_a", "only_b"} & set(change):
        out = [(k, (v[0], v[1])) for k, v in sorted(change.get("changed", {}).items())]
        out += [(k, (v, "-")) for k, v in sorted(change.get("only_a", {}).items())]
        out += [(k, ("-", v)) for k, v in sorted(change.get("only_b", {}).items())]
        return out
    return [(str(k), (v[0], v[1]) if isinstance(v, (list, tuple)) and len(v) == 2 else ("-", v))
            for k, v in sorted(change.items())]


# -- the lineage graph as SVG ------------------------------------------------------------------------
_FILL = {"artifact": "#e8f0fe", "run": "#fef7e0", "model_version": "#e6f4ea",
         "deployment": "#fce8e6"}
_BOX_W, _BOX_H, _GAP_X, _GAP_Y = 180, 30, 60, 14


def _layers(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's column: the longest path reaching it from a node nothing flows into
    (a simple layered layout; a cycle, which lineage does not have, just stops deepening)."""
    layer = dict.fromkeys(ids, 0)
    for _ in range(len(ids)):
        changed = False
        for source, target in edges:
            if source in layer and target in layer and layer[target] < layer[source] + 1:
                layer[target] = layer[source] + 1
                changed = True
        if not changed:
            break
    # A source (code, an environment, raw data) sits just left of what first used it rather
    # than in the first column, so its arrow is short.
    targets = {t for _, t in edges}
    for node in ids:
        after = [layer[t] for s, t in edges if s == node and t in layer]
        if node not in targets and after:
            layer[node] = max(0, min(after) - 1)
    return layer


def graph_svg(nodes: Sequence[Any], edges: Sequence[tuple[str, str]],
              start: str | None = None) -> str:
    """Lineage nodes (anything with ``id``, ``type`` and ``label``) and ``(source, target)``
    edges in data-flow order, drawn left to right as inline SVG: one column per layer, a box per
    node, an arrow per edge. The start node is outlined."""
    ids = [n.id for n in nodes]
    layer = _layers(ids, edges)
    rows: dict[int, int] = {}
    pos: dict[str, tuple[int, int]] = {}
    for node in sorted(nodes, key=lambda n: (layer[n.id], str(n.type), n.label)):
        column = layer[node.id]
        row = rows.get(column, 0)
        rows[column] = row + 1
        pos[node.id] = (10 + column * (_BOX_W + _GAP_X), 10 + row * (_BOX_H + _GAP_Y))
    width = 20 + (max(layer.values(), default=0) + 1) * (_BOX_W + _GAP_X) - _GAP_X
    height = 20 + max(rows.values(), default=1) * (_BOX_H + _GAP_Y) - _GAP_Y
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"font-family='sans-serif' font-size='11'>",
           "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='6' "
           "markerHeight='6' orient='auto-start-reverse'><path d='M 0 0 L 10 5 L 0 10 z' "
           "fill='#666'/></marker></defs>"]
    for source, target in edges:
        if source in pos and target in pos:
            (x1, y1), (x2, y2) = pos[source], pos[target]
            out.append(f"<line x1='{x1 + _BOX_W}' y1='{y1 + _BOX_H // 2}' x2='{x2}' "
                       f"y2='{y2 + _BOX_H // 2}' stroke='#666' marker-end='url(#arrow)'/>")
    for node in nodes:
        x, y = pos[node.id]
        label = node.label if len(node.label) <= 28 else node.label[:27] + "…"
        stroke = "#d93025" if getattr(node, "tainted", False) else (
            "#000" if node.id == start else "#999")
        out.append(f"<g><title>{_e(node.label)}</title>"
                   f"<rect x='{x}' y='{y}' width='{_BOX_W}' height='{_BOX_H}' rx='4' "
                   f"fill='{_FILL.get(str(node.type), '#eee')}' stroke='{stroke}'/>"
                   f"<text x='{x + 6}' y='{y + 19}'>{_e(label)}</text></g>")
    out.append("</svg>")
    return "".join(out)


def graph_html(graph: Graph) -> str:
    """A lineage graph answer: its edges already point the way data flowed."""
    return graph_svg(graph.nodes, [(e.source, e.target) for e in graph.edges], graph.start.id)


def closure_html(closure: Closure) -> str:
    """An upstream/downstream answer: each node hangs off the one it was reached from (its
    ``via`` run in between); upstream answers are turned around so data flows left to right."""
    nodes = {closure.start.id: closure.start, **{n.id: n for n in closure.nodes}}
    edges: list[tuple[str, str]] = []
    for node in closure.nodes:
        hops = [h for h in (node.parent, node.via) if h in nodes] + [node.id]
        edges += list(zip(hops, hops[1:], strict=False))
    if str(closure.direction) == "up":
        edges = [(b, a) for a, b in edges]
    return graph_svg(list(nodes.values()), sorted(set(edges)), closure.start.id)


# -- pandas ------------------------------------------------------------------------------------------
def _pandas() -> Any:
    try:
        import pandas
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "to_pandas() needs pandas: pip install 'lineal[data]'", name="pandas") from exc
    return pandas


def frame(records: list[dict[str, Any]], columns: Sequence[str]) -> pandas.DataFrame:
    """``records`` as a DataFrame with exactly ``columns`` (in that order, even when empty)."""
    return _pandas().DataFrame.from_records(records, columns=list(columns))


def runs_frame(runs: Iterable[Run]) -> pandas.DataFrame:
    """Runs shaped like MLflow's ``search_runs`` result: ``run_id``, ``name``, ``status``,
    ``start_time``, ``end_time``, ``experiment``, ``project``, ``kind``, then one
    ``metrics.X``, ``params.X`` and ``tags.X`` column per key any run has."""
    records: list[dict[str, Any]] = []
    for run in runs:
        record: dict[str, Any] = {
            "run_id": run.id, "name": run.name, "status": str(run.status),
            "start_time": run.started_at, "end_time": run.ended_at,
            "experiment": run.experiment, "project": run.project, "kind": run.kind,
        }
        record.update({f"metrics.{k}": v for k, v in run.metrics.items()})
        record.update({f"params.{k}": v for k, v in run.params.items()})
        record.update({f"tags.{k}": v for k, v in run.tags.items()})
        records.append(record)
    base = ["run_id", "name", "status", "start_time", "end_time", "experiment", "project", "kind"]
    extra = sorted({k for r in records for k in r if k not in base},
                   key=lambda k: ({"metrics": 0, "params": 1, "tags": 2}[k.split(".")[0]], k))
    return frame(records, [*base, *extra])


ARTIFACT_COLUMNS = ("ref", "project", "name", "version", "kind", "digest", "size", "storage",
                    "aliases", "tainted", "producer_run_id", "created_at", "created_by")


def artifacts_frame(versions: Iterable[ArtifactVersion]) -> pandas.DataFrame:
    """One row per artifact version; ``aliases`` as a comma-separated string."""
    return frame([{
        "ref": v.ref, "project": v.project, "name": v.name, "version": v.version,
        "kind": v.kind, "digest": v.digest, "size": v.size, "storage": str(v.storage),
        "aliases": ", ".join(v.aliases), "tainted": v.tainted,
        "producer_run_id": v.producer_run_id, "created_at": v.created_at,
        "created_by": v.created_by,
    } for v in versions], ARTIFACT_COLUMNS)


VERSION_COLUMNS = ("ref", "project", "model", "version", "stage", "status", "aliases",
                   "artifact_ref", "artifact_digest", "run_id", "created_at", "created_by")


def versions_frame(versions: Iterable[ModelVersion]) -> pandas.DataFrame:
    """One row per registered model version."""
    return frame([{
        "ref": v.ref, "project": v.project, "model": v.model, "version": v.version,
        "stage": str(v.stage), "status": v.status, "aliases": ", ".join(v.aliases),
        "artifact_ref": v.artifact_ref, "artifact_digest": v.artifact_digest,
        "run_id": v.run_id, "created_at": v.created_at, "created_by": v.created_by,
    } for v in versions], VERSION_COLUMNS)


METRIC_COLUMNS = ("key", "step", "value", "timestamp")


def metric_frame(points: Iterable[MetricPoint]) -> pandas.DataFrame:
    """One row per logged point: ``key``, ``step``, ``value``, ``timestamp`` (UTC)."""
    return frame([{
        "key": p.key, "step": p.step, "value": p.value,
        "timestamp": datetime.fromtimestamp(p.timestamp_us / 1e6, UTC),
    } for p in points], METRIC_COLUMNS)


def leaderboard_frame(board: Leaderboard) -> pandas.DataFrame:
    """One row per model, best first: ``rank``, ``model``, the metric's value under the
    metric's own name, the runs, the user, when, and what it is registered as."""
    return frame([{
        "rank": e.rank, "model": e.model.ref, board.metric: e.value,
        "run_id": e.run.id if e.run else None,
        "metric_run_id": e.metric_run.id if e.metric_run else None,
        "user": e.user, "created_at": e.model.created_at, "depth": e.depth,
        "registered": ", ".join(e.registered),
    } for e in board.entries],
        ("rank", "model", board.metric, "run_id", "metric_run_id", "user", "created_at", "depth",
         "registered"))


# -- list answers --------------------------------------------------------------------------------------
class _Listing(list[Any]):
    """A list answer (still a plain ``list`` to every caller) that also converts to a
    DataFrame and shows as a table in a notebook."""

    _columns: tuple[str, ...] = ()

    def _rows(self) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return html_table(self._columns, self._rows())


class Runs(_Listing):
    """What ``lineal.list_runs`` returns."""

    _columns = ("id", "name", "kind", "status", "started", "metrics")

    def to_pandas(self) -> pandas.DataFrame:
        return runs_frame(self)

    def _rows(self) -> list[tuple[Any, ...]]:
        return [(r.id, r.name, r.kind, r.status, _when(r.started_at),
                 " ".join(f"{k}={_number(v)}" for k, v in sorted(r.metrics.items())))
                for r in self]


class ArtifactVersions(_Listing):
    """What ``lineal.list_artifacts`` returns."""

    _columns = ("ref", "kind", "size", "digest", "aliases", "created")

    def to_pandas(self) -> pandas.DataFrame:
        return artifacts_frame(self)

    def _rows(self) -> list[tuple[Any, ...]]:
        return [(v.ref, v.kind, _size(v.size), v.digest[:19], ", ".join(v.aliases),
                 _when(v.created_at)) for v in self]


class ModelVersions(_Listing):
    """What ``lineal.registry.list_versions`` returns."""

    _columns = ("version", "stage", "status", "aliases", "artifact", "created")

    def to_pandas(self) -> pandas.DataFrame:
        return versions_frame(self)

    def _rows(self) -> list[tuple[Any, ...]]:
        return [(v.ref, v.stage, v.status, ", ".join(v.aliases), v.artifact_ref,
                 _when(v.created_at)) for v in self]


class MetricHistory(_Listing):
    """What ``lineal.metric_history`` returns: the points of one metric, in step order."""

    _columns = ("step", "value", "time")

    def to_pandas(self) -> pandas.DataFrame:
        return metric_frame(self)

    def _rows(self) -> list[tuple[Any, ...]]:
        return [(p.step, _number(p.value),
                 _when(datetime.fromtimestamp(p.timestamp_us / 1e6, UTC))) for p in self]


class Records(_Listing):
    """A list of entities with ``to_dict()`` (deployments, registry events, models, taints,
    tokens, dataset versions): one row each, in a DataFrame and in a notebook."""

    def _dicts(self) -> list[dict[str, Any]]:
        return [record.to_dict() for record in self]

    def to_pandas(self) -> pandas.DataFrame:
        dicts = self._dicts()
        return frame(dicts, list(dict.fromkeys(k for d in dicts for k in d)))

    def _repr_html_(self) -> str:
        dicts = self._dicts()
        columns = list(dict.fromkeys(k for d in dicts for k in d))
        rows = [[_cell(d.get(c)) for c in columns] for d in dicts]
        return (html_table(columns, rows[:HTML_ROWS])
                + (f"<div><i>… {_plural(len(rows) - HTML_ROWS, 'more row')}</i></div>"
                   if len(rows) > HTML_ROWS else ""))
