"""Run search in SQL: the filter AST (``lineal.search.filter``) compiled to SQLAlchemy Core.

Each term is one indexed lookup per candidate run, never a scan of a child table:

- ``metrics.X``: EXISTS on ``latest_metrics`` (primary key run_id, key);
- ``params.X`` / ``tags.X``: EXISTS on ``run_params`` / ``run_tags`` (primary keys). Params are
  canonical JSON; they compare as the text a user sees (a string without its quotes), so
  ``params.C = '0.5'`` matches both the string "0.5" and the number 0.5, as in MLflow;
  ``=`` and ``IN`` also name the stored forms that can match (``value IN ('"0.5"', '0.5')``),
  which the (key, value, run_id) indexes serve;
- ``inputs.X`` / ``outputs.X``: EXISTS on ``edges`` (primary key starts with run_id) joined to
  ``artifact_versions``; ``outputs.model`` also matches the artifact a registered model version
  links;
- ``env.PKG``: the environment artifacts (one per distinct environment, content-addressed) whose
  package version matches are resolved first in one query, with ``packaging`` semantics; the
  term is then EXISTS on ``edges`` into those ids.

Sorting joins ``latest_metrics`` / ``run_params`` / ``run_tags`` once per sort key (outer joins:
a run without the metric sorts last, in either direction). Pages are keyset pages: the token holds
the last row's sort values and id, and the next page starts strictly after them, so a page is
stable under inserts. The default order (start time, newest first, then id) is served by the
index runs(started_at, id) with no sort; a sort by a metric reads latest_metrics(key, value,
run_id) in order, then the runs without that metric (two queries, one page token).

Which index drives the query, the order's or the filter's most selective term's, is chosen in
``search_plan.py`` (on SQLite from counts in the indexes; elsewhere by the database's planner):
a top-level term that drives becomes the query's first table, the others probe
(``runs.id IN ...``) or stay EXISTS.

LIKE is case-sensitive and ILIKE is not, on every backend (SQLite's LIKE ignores case, so a
case-sensitive LIKE runs as GLOB there; MySQL compares LIKE BINARY). Plain ``=`` on strings
of params and tags is case-sensitive everywhere too; on attributes (name, experiment...) it
follows the column's collation, case-insensitive on MySQL/MariaDB by default, so that their
indexes serve it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...errors import InvalidArgument
from ...requirements import version_matcher
from ...search.filter import (
    TIME_ATTRIBUTES,
    BoolOp,
    Node,
    OrderKey,
    Term,
    parse_filter,
    parse_order_by,
)
from ...search.page import RunPage, decode_page_token, encode_page_token, query_digest
from ...times import parse_when
from . import tables as t
from . import tables_registry as tr
from .database import Database
from .search_plan import Plan, choose_plan, index_match, no_index

MAX_PAGE = 10_000

COLUMNS = {
    "id": t.runs.c.id,
    "name": t.runs.c.name,
    "status": t.runs.c.status,
    "kind": t.runs.c.kind,
    "experiment": t.runs.c.experiment,
    "project": t.runs.c.project,
    "parent_id": t.runs.c.parent_id,
    "user": t.runs.c.created_by,
    "start_time": t.runs.c.started_at,
    "end_time": t.runs.c.ended_at,
}
_CHILD_TABLES = {"metrics": t.latest_metrics, "params": t.run_params, "tags": t.run_tags}
_DEFAULT_ORDER = [OrderKey("attributes", "start_time", True)]


class SearchMixin:
    db: Database

    def search_runs(
        self,
        filter: str | None = None,  # noqa: A002 - the name MLflow users know
        order_by: Sequence[str] | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> RunPage:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidArgument(f"limit must be between 1 and {MAX_PAGE}, got {limit!r}")
        node = parse_filter(filter)
        order = parse_order_by(order_by) or _DEFAULT_ORDER
        columns = _named_columns(node, order)
        digest = query_digest(filter, [str(k) for k in order])
        with self.db.read() as conn:
            plan = choose_plan(conn, node, order, limit)
            compiler = _Compiler(conn, plan)
            where = compiler.compile(node) if node is not None else None
            source = compiler.source
            count = len(order) + sum(1 for k in order if _nullable(k))
            cursor = None
            if page_token:
                values, run_id = decode_page_token(page_token, digest, count)
                cursor = [*values, run_id]
            if order[0].entity == "metrics" and (plan.walk or not plan.hinted):
                rows = _metric_first(conn, plan, where, order, limit, cursor)
            else:
                query = _page_query(plan, where, order, cursor, source=source, lead=[],
                                    tie=order[-1].descending,
                                    narrow=None if plan.walk else limit + 1)
                rows = list(conn.execute(query.limit(limit + 1)).mappings())
            more = len(rows) > limit
            rows = rows[:limit]
            runs = self._hydrate(conn, rows)  # type: ignore[attr-defined]
        token = None
        if more and rows:
            last = rows[-1]
            token = encode_page_token(digest, [last[f"sort_{i}"] for i in range(count)],
                                      last["id"])
        return RunPage(runs, token, columns)


def _nullable(key: OrderKey) -> bool:
    return key.entity != "attributes" or bool(COLUMNS[key.key].nullable)


def _page_query(plan: Plan, where: Any, order: Sequence[OrderKey], cursor: list[Any] | None, *,
                source: Any, lead: Sequence[Any], tie: bool, metric: Any = None,
                narrow: int | None = None) -> Any:
    """The query of one page in ``order`` then id (``tie``: descending), after ``cursor`` (its
    sort values, then the id). ``lead``: labelled values the caller puts first in each row's
    sort values (a segment's constants); ``metric``: an inner-joined latest_metrics alias whose
    value is the first key (never missing in that segment).

    ``narrow``: the page's size, for a query that sorts every match (a driven one): the matches
    are then sorted as (id, sort values) only, and the page's ``narrow`` runs read after, rather
    than every matching run's whole row (error tracebacks included) being read and sorted."""
    r = t.runs
    sort: list[tuple[Any, bool]] = []  # (expression, descending); nullable ones flagged
    nullable: bool | None
    for index, key in enumerate(order):
        if index == 0 and metric is not None:
            expr, nullable = metric.c.value, False
        else:
            expr, nullable, source = _sort_expression(key, source, index + len(lead))
        if nullable:  # missing values last, whichever the direction
            sort.append((sa.case((expr.is_(None), 1), else_=0), False))
        sort.append((expr, key.descending))
    # The run id breaks ties; in a metric segment, as the metric's row holds it, so that the
    # walk over latest_metrics(key, value, run_id) needs no sort at all.
    sort.append((r.c.id if metric is None else metric.c.run_id, tie))
    if plan.hinted and not plan.walk:
        # Driven from the filter's index ranges: keep SQLite from walking an order index.
        sort = [(no_index(e), d) for e, d in sort]
    labels = [e.label(f"sort_{len(lead) + i}") for i, (e, _) in enumerate(sort[:-1])]
    columns = [r.c.id] if narrow is not None else [r]
    query = sa.select(*columns, *lead, *labels).select_from(source)
    if where is not None:
        query = query.where(where)
    if cursor is not None:
        query = query.where(*_after(sort, cursor))
    query = query.order_by(*[e.desc() if d else e.asc() for e, d in sort])
    if narrow is None:
        return query
    page = query.limit(narrow).subquery("page")
    names = [label.name for label in [*lead, *labels]]
    again = [(page.c[name], d) for name, (_e, d) in zip(names[len(lead):], sort[:-1], strict=True)]
    again.append((page.c.id, sort[-1][1]))
    return (sa.select(r, *[page.c[name] for name in names])
            .select_from(page.join(r, r.c.id == page.c.id))
            .order_by(*[e.desc() if d else e.asc() for e, d in again]))


def _metric_first(conn: Connection, plan: Plan, where: Any, order: Sequence[OrderKey],
                  limit: int, cursor: list[Any] | None) -> list[Any]:
    """A page sorted first by a metric, in two segments: the runs with a value for it (read in
    order from latest_metrics(key, value, run_id), or sorted when the filter drives), then the
    runs without one, which sort last in either direction. Rows and page tokens are those of
    one query sorted by (value is missing, value, ..., id)."""
    r, first, tie = t.runs, order[0], order[-1].descending
    rows: list[Any] = []
    if cursor is None or cursor[0] == 0:
        lm = t.latest_metrics.alias("order_0")
        query = _page_query(plan, where, order, cursor[1:] if cursor else None,
                            source=lm.join(r, r.c.id == lm.c.run_id),
                            lead=[sa.literal(0).label("sort_0")], tie=tie, metric=lm)
        query = query.where(lm.c.key == first.key, lm.c.value.is_not(None))
        rows = list(conn.execute(query.limit(limit + 1)).mappings())
        if len(rows) > limit:
            return rows
    gone = t.latest_metrics.alias()
    missing = ~sa.exists().where(gone.c.run_id == r.c.id, gone.c.key == first.key,
                                 gone.c.value.is_not(None))
    lead = [sa.literal(1).label("sort_0"), sa.null().label("sort_1")]
    query = _page_query(plan, where, order[1:], cursor[2:] if cursor and cursor[0] == 1 else None,
                        source=r, lead=lead, tie=tie)
    query = query.where(missing).limit(limit + 1 - len(rows))
    return rows + list(conn.execute(query).mappings())


def _named_columns(node: Node | None, order: Sequence[OrderKey]) -> tuple[str, ...]:
    names: list[str] = []

    def visit(item: Node) -> None:
        if isinstance(item, BoolOp):
            for child in item.nodes:
                visit(child)
        elif item.entity in ("metrics", "params", "tags"):
            names.append(f"{item.entity}.{item.key}")

    if node is not None:
        visit(node)
    names += [f"{k.entity}.{k.key}" for k in order if k.entity in ("metrics", "params", "tags")]
    return tuple(dict.fromkeys(names))


def _sort_expression(key: OrderKey, source: Any, index: int) -> tuple[Any, bool | None, Any]:
    """The expression a key sorts by, whether it can be NULL, and ``source`` with its join."""
    r = t.runs
    if key.entity == "attributes":
        column = COLUMNS[key.key]
        return column, column.nullable, source
    table = {"metrics": t.latest_metrics, "params": t.run_params, "tags": t.run_tags}[key.entity]
    joined = table.alias(f"order_{index}")
    source = source.outerjoin(joined, sa.and_(joined.c.run_id == r.c.id, joined.c.key == key.key))
    value = _param_text(joined.c.value) if key.entity == "params" else joined.c.value
    return value, True, source


def _after(sort: list[tuple[Any, bool]], cursor: list[Any]) -> list[Any]:
    """Conditions selecting the rows strictly after ``cursor`` in the order ``sort``: the
    row-value comparison written out, plus a leading range on the first key so that an index on
    it is searched rather than scanned."""
    branches = []
    equal: list[Any] = []
    for (expr, descending), value in zip(sort, cursor, strict=True):
        if value is not None:
            branches.append(sa.and_(*equal, expr < value if descending else expr > value))
            equal.append(expr == value)
        else:  # NULLs (missing values) sort last and are all equal
            equal.append(expr.is_(None))
    conditions = [sa.or_(*branches) if branches else sa.false()]
    (first, descending), value = sort[0], cursor[0]
    if value is not None:
        conditions.insert(0, first <= value if descending else first >= value)
    return conditions


def _param_text(value: Any) -> Any:
    """A param as text a user compares with: a JSON string without its quotes, else the JSON."""
    return sa.case(
        (sa.func.substr(value, 1, 1) == '"',
         sa.func.substr(value, 2, sa.func.char_length(value) - 2)),
        else_=value,
    )


class _Compiler:
    """Compiles a filter AST against one read connection (env terms query it first)."""

    def __init__(self, conn: Connection, plan: Plan) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.plan = plan
        #: What the query reads runs from: ``runs``, or the driving term's index range joined
        #: to ``runs``, which SQLite then reads first.
        self.source: Any = t.runs
        #: The driving term's row, when a child term drives: other terms are checked against
        #: its run_id before ``runs`` is read.
        self.driver_row: Any = None
        driver = plan.driver
        if driver is not None and driver.entity in _CHILD_TABLES:
            self.driver_row = _CHILD_TABLES[driver.entity].alias("driver")
            self.source = self.driver_row.join(t.runs, t.runs.c.id == self.driver_row.c.run_id)

    def compile(self, node: Node) -> Any:
        if isinstance(node, BoolOp):
            parts = [self.compile(child) for child in node.nodes]
            return sa.and_(*parts) if node.op == "and" else sa.or_(*parts)
        entity = node.entity
        if entity == "attributes":
            return self.attribute(node)
        if entity in ("metrics", "params", "tags"):
            return self.child_value(node)
        if entity in ("inputs", "outputs"):
            return self.lineage(node)
        return self.env(node)

    # -- comparisons -------------------------------------------------------------------------
    def compare(self, expr: Any, op: str, value: Any) -> Any:
        if op in ("IN", "NOT IN"):
            return expr.in_(list(value)) if op == "IN" else expr.not_in(list(value))
        if op.endswith("LIKE"):
            match = self.like(expr, value, insensitive=op.endswith("ILIKE"))
            return sa.not_(match) if op.startswith("NOT") else match
        return {
            "=": expr == value, "!=": expr != value, "<": expr < value,
            "<=": expr <= value, ">": expr > value, ">=": expr >= value,
        }[op]

    def like(self, expr: Any, pattern: str, insensitive: bool) -> Any:
        if insensitive:
            return sa.func.lower(expr).like(pattern.lower())
        if self.dialect == "sqlite":
            return expr.op("GLOB", is_comparison=True)(_glob(pattern))
        if self.dialect in ("mysql", "mariadb"):
            return expr.op("LIKE BINARY", is_comparison=True)(pattern)
        return expr.like(pattern)

    def attribute(self, term: Term) -> Any:
        column = COLUMNS[term.key]
        nullable = column.nullable
        if not self.plan.indexes(term):
            column = no_index(column)  # runs are read in order, or found by the driving term
        if term.key in TIME_ATTRIBUTES:
            return self.time(column, term)
        value: Any = term.value
        if isinstance(value, tuple):
            value = tuple(attribute_value(term.key, v) for v in value)
        else:
            value = attribute_value(term.key, value)
        condition = self.compare(column, term.op, value)
        if nullable and term.op in ("!=", "NOT IN", "NOT LIKE", "NOT ILIKE"):
            condition = sa.or_(condition, column.is_(None))  # a run with no experiment is not 'x'
        return condition

    def time(self, column: Any, term: Term) -> Any:
        value = term.value
        if isinstance(value, float):  # epoch milliseconds, as MLflow takes them
            start, end = int(value * 1000), None
        else:
            when = parse_when(str(value))
            start, end = when.start_us, when.end_us
        if end is None:
            return self.compare(column, term.op, start)
        # A day is a span: > the day means after it, = the day means during it.
        return {
            "=": sa.and_(column >= start, column < end),
            "!=": sa.or_(column < start, column >= end),
            "<": column < start, "<=": column < end,
            ">": column >= end, ">=": column >= start,
        }[term.op]

    def child_value(self, term: Term) -> Any:
        row = self.driver_row if self.plan.drives(term) else _CHILD_TABLES[term.entity].alias()
        if term.entity == "metrics":
            value: Any = term.value
            expr: sa.ColumnElement[Any] = row.c.value
        else:
            value = _as_text(term.value)
            expr = _param_text(row.c.value) if term.entity == "params" else row.c.value
            if self.dialect in ("mysql", "mariadb") and not term.op.endswith("LIKE"):
                # Values compare case-sensitively, as on the other backends (MySQL's default
                # collation ignores case); the index condition below still narrows by value.
                expr = sa.type_coerce(sa.cast(expr, sa.LargeBinary), sa.Text)
        # What the (key, value, run_id) index can find; exact keeps only the true matches,
        # and is left out where the index conditions already are exact: it was evaluated on
        # every row of the range (the most work of a driving term's range).
        match = index_match(_as_text_term(term), row, self.dialect)
        indexed = match or [row.c.key == term.key]
        if match is None or not _index_is_exact(term, self.dialect):
            indexed = [*indexed, self.compare(expr, term.op, value)]
        if self.plan.drives(term):
            return sa.and_(*indexed)
        if self.plan.probes_with(term):
            run_id = t.runs.c.id if self.driver_row is None else self.driver_row.c.run_id
            return run_id.in_(sa.select(row.c.run_id).where(*indexed))
        return sa.exists().where(row.c.run_id == t.runs.c.id, *indexed)

    # -- lineage -----------------------------------------------------------------------------
    def lineage(self, term: Term) -> Any:
        values = term.value if isinstance(term.value, tuple) else (term.value,)
        matches = [self.consumed_or_produced(term, str(v)) for v in values]
        found = sa.or_(*matches)
        return sa.not_(found) if term.op in ("!=", "NOT IN") else found

    def consumed_or_produced(self, term: Term, text: str) -> Any:
        from ...refs import SelectorKind, parse_ref

        e, av = t.edges.alias(), t.artifact_versions.alias()
        direction = "input" if term.entity == "inputs" else "output"
        conditions = [e.c.run_id == t.runs.c.id, e.c.direction == direction]
        if term.key != "artifact":
            conditions.append(av.c.kind == term.key)
        if term.op == "LIKE":
            conditions.append(self.like(av.c.name, text, insensitive=False))
            return sa.exists().select_from(e.join(av, av.c.id == e.c.version_id)).where(*conditions)
        ref = parse_ref(text.strip())
        explicit_project = "/" in text.partition("@")[0]
        any_version = "@" not in text
        named = [av.c.name == ref.name]
        if explicit_project:
            named.append(av.c.project == ref.project)
        selector: list[Any] = []
        if not any_version:
            if ref.kind is SelectorKind.VERSION:
                selector.append(av.c.version == ref.value)
            elif ref.kind is SelectorKind.LATEST:
                selector.append(av.c.version == sa.select(t.artifacts.c.latest_version)
                                .where(t.artifacts.c.id == av.c.artifact_id).scalar_subquery())
            elif ref.kind is SelectorKind.DIGEST:
                selector.append(av.c.digest.like(f"sha256:{ref.value}%"))
            else:
                aa = t.artifact_aliases
                selector.append(sa.exists().where(aa.c.version_id == av.c.id,
                                                  aa.c.alias == ref.value))
        artifact_match = sa.and_(*named, *selector)
        if term.key == "model":
            # A registered model's version names the artifact version it links.
            mv, rm = tr.model_versions, tr.registered_models
            registered = [rm.c.name == ref.name]
            if explicit_project:
                registered.append(rm.c.project == ref.project)
            if not any_version and ref.kind is SelectorKind.VERSION:
                registered.append(mv.c.version == ref.value)
            elif not any_version and ref.kind is SelectorKind.ALIAS:
                ma = tr.model_aliases
                registered.append(sa.exists().where(ma.c.version_id == mv.c.id,
                                                    ma.c.alias == ref.value))
            elif not any_version and ref.kind is SelectorKind.LATEST:
                registered.append(mv.c.version == rm.c.latest_version)
            elif not any_version:
                registered.append(sa.false())
            linked = sa.select(mv.c.artifact_version_id).join(rm, rm.c.id == mv.c.model_id)
            artifact_match = sa.or_(artifact_match, av.c.id.in_(linked.where(*registered)))
        conditions.append(artifact_match)
        return sa.exists().select_from(e.join(av, av.c.id == e.c.version_id)).where(*conditions)

    # -- environments ------------------------------------------------------------------------
    def env(self, term: Term) -> Any:
        package = _normalise(term.key)
        values = [str(v) if not isinstance(v, float) else _number_text(v)
                  for v in (term.value if isinstance(term.value, tuple) else (term.value,))]
        if term.op == "LIKE":
            pattern = values[0].replace("%", "*").replace("_", "?")
            matches = [version_matcher("==" + pattern)]
        elif term.op in ("IN", "NOT IN", "="):
            matches = [version_matcher("==" + v) for v in values]
        else:
            matches = [version_matcher(term.op + values[0])]
        negate = term.op == "NOT IN"
        av = t.artifact_versions
        # Narrow in SQL to environments that mention the package ('_' matches any of - _ .),
        # then decide on the version in Python: one row per distinct environment.
        like = "%" + re.sub(r"[-_.]", "_", package) + "%"
        query = sa.select(av.c.id, av.c.metadata).where(
            av.c.kind == "environment", sa.func.lower(av.c.metadata).like(like)
        )
        ids = []
        for version_id, metadata in self.conn.execute(query):
            try:
                packages = json.loads(metadata).get("packages") or {}
            except (ValueError, AttributeError):
                continue
            for name, version in packages.items():
                if _normalise(str(name)) == package:
                    hit = any(m(str(version)) for m in matches)
                    if hit != negate:
                        ids.append(version_id)
                    break
        if not ids:
            return sa.false()
        e = t.edges.alias()
        return sa.exists().where(e.c.run_id == t.runs.c.id, e.c.direction == "input",
                                 e.c.version_id.in_(ids))


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() and math.isfinite(value) else repr(value)


def _as_text(value: Any) -> Any:
    """Param and tag values are text: an unquoted number compares as it was written."""
    if isinstance(value, tuple):
        return tuple(_as_text(v) for v in value)
    return _number_text(value) if isinstance(value, float) else value


def attribute_value(key: str, value: Any) -> Any:
    value = _as_text(value)
    if key == "status":
        return str(value).lower()  # MLflow spells them FINISHED
    if key in ("id", "parent_id") and len(str(value)) == 26:
        return str(value).upper()
    return value


def param_candidates(texts: Sequence[str]) -> list[str]:
    """The stored forms of params whose text is one of ``texts``: a JSON string (its text between
    the quotes, as :func:`_param_text` shows it) or a JSON number, boolean, null... written as is."""
    return [form for text in texts for form in (f'"{text}"', text)]


def _index_is_exact(term: Term, dialect: str) -> bool:
    """Whether the conditions :func:`index_match` gives for ``term`` (when it gives some) select
    exactly its matching rows. For a metric they are the comparison itself. For a tag, ``value
    IN (texts)``, and for a param ``value IN`` their stored forms (``param_candidates``), whose
    text is the one asked for unless that text starts with a quote (the bare form ``"x"`` is
    then a JSON string of text ``x``). Not on MySQL/MariaDB, whose default collation ignores
    case and trailing spaces where params and tags compare case-sensitively."""
    if term.entity == "metrics":
        return True
    if dialect in ("mysql", "mariadb"):
        return False
    values = term.value if isinstance(term.value, tuple) else (term.value,)
    return term.entity == "tags" or not any(str(v).startswith('"') for v in _as_text(values))


def _as_text_term(term: Term) -> Term:
    """``term`` with its values as param and tag text (numbers as they were written)."""
    if term.entity == "metrics":
        return term
    return dataclasses.replace(term, value=_as_text(term.value))


def _glob(pattern: str) -> str:
    """A LIKE pattern as a GLOB pattern (SQLite's case-sensitive match)."""
    out = []
    for char in pattern:
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)
