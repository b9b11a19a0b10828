"""Which index drives a run search: chosen from what the store holds, on SQLite.

A filtered, sorted page can be found two ways, with the same rows:

- **walk**: read runs in the order asked for, from an index that holds that order
  (``runs(started_at, id)`` for start time, ``latest_metrics(key, value, run_id)`` for a
  metric), check the filter on each, and stop when the page is full. It reads about
  ``limit / selectivity`` runs: the best plan for a broad filter, the worst for a rare one.
- **drive**: read the runs that match the filter's most selective term from its index range
  (a ``(key, value, run_id)`` index, or an index of ``runs`` for an attribute), probe the other
  indexable terms' ranges (``run_id IN (...)``), check the rest, and sort what matched. It reads
  the terms' ranges and the matches, whatever the order.

SQLite has no statistics here (lineal runs no ANALYZE, which would go stale as the store grows)
and never drives a query from an EXISTS term, so on its own it sorted the whole table for a
metric order, or picked the index of a term that matches most runs (``status = 'finished'``).
So on SQLite the search counts each indexable top-level term in its index (a covering range
count, capped at :data:`COUNT_CAP`: 1-3 ms for a capped one), estimates the two plans' costs
assuming independent terms, and writes the query so that SQLite can only take the chosen one (a unary ``+`` keeps an index from serving a column). PostgreSQL and MySQL/MariaDB
plan EXISTS as semi-joins with their own statistics; the query is left to their planners.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from ...search.filter import TIME_ATTRIBUTES, BoolOp, Node, OrderKey, Term
from . import tables as t

__all__ = ["COUNT_CAP", "Plan", "choose_plan", "conjuncts", "forced_plan", "index_match",
           "no_index", "short_enough"]

#: Index entries counted at most per term: past it a term is too broad to drive a query anyway.
COUNT_CAP = 20_000
#: Attributes whose column leads an index of ``runs`` (an equality term on them can drive).
_INDEXED_ATTRIBUTES = ("id", "status", "kind", "experiment", "project", "parent_id")
#: Relative costs: reading one index entry of a range (covering) against checking one run
#: against a term (a primary-key lookup), and placing one match in the sort.
_RANGE_ENTRY, _LOOKUP, _SORTED = 0.3, 1.0, 3.0
#: Bytes of key + value that a PostgreSQL (key, value, run_id) index entry may hold (0010).
_SHORT_BYTES = 2000


_FORCED: ContextVar[str | None] = ContextVar("lineal_search_plan", default=None)


@contextlib.contextmanager
def forced_plan(kind: str) -> Iterator[None]:
    """Within the block, SQLite searches take plan ``kind`` ('walk' or 'drive') whatever the
    counts say: tests check with it that both plans return the same pages."""
    if kind not in ("walk", "drive"):
        raise ValueError(f"no plan {kind!r}")
    reset = _FORCED.set(kind)
    try:
        yield
    finally:
        _FORCED.reset(reset)


@dataclass
class Plan:
    """``walk``: read runs in sort order from its index. Else the query is driven by ``driver``
    (the term with the fewest matches: its index range is the query's first table) and probes
    the other ``probes`` (``runs.id IN`` their index ranges). ``hinted``: the query is written
    so that SQLite can take no other plan."""

    walk: bool = True
    driver: Term | None = None
    probes: list[Term] = field(default_factory=list)
    hinted: bool = False
    #: The attribute whose index the walk reads (start_time), or None: a term on it may narrow
    #: the walk's range; every other attribute term is only checked on the runs read.
    walked: str | None = None

    def indexes(self, term: Term) -> bool:
        """Whether an attribute term may use an index of ``runs`` in this plan."""
        if not self.hinted:
            return True
        return term is self.driver or (self.walk and term.key == self.walked)

    def drives(self, term: Term) -> bool:
        return term is self.driver

    def probes_with(self, term: Term) -> bool:
        return any(term is p for p in self.probes)


def conjuncts(node: Node | None) -> list[Node]:
    """The terms a filter ANDs together at its top level."""
    if node is None:
        return []
    if isinstance(node, BoolOp) and node.op == "and":
        return [part for child in node.nodes for part in conjuncts(child)]
    return [node]


def no_index(expr: Any) -> Any:
    """``+expr``: the same value, which SQLite will not look up or order through an index."""
    return UnaryExpression(expr, operator=operators.custom_op("+"), type_=expr.type)


def short_enough(key: str, values: Sequence[str]) -> bool:
    """Whether rows holding ``key`` and any of ``values`` are all in PostgreSQL's partial
    (key, value, run_id) indexes."""
    size = len(key.encode())
    return all(size + len(v.encode()) < _SHORT_BYTES for v in values)


def index_match(term: Term, row: Any, dialect: str) -> list[Any] | None:
    """Conditions on ``row`` (an alias of the term's table) that its ``(key, value, run_id)``
    index serves and that every matching row meets (the exact test is added apart), or None
    when the index cannot find the term's rows."""
    from .search import param_candidates  # the one definition of how a param value is stored

    if term.op not in ("=", "<", "<=", ">", ">=", "IN"):
        return None
    values = term.value if isinstance(term.value, tuple) else (term.value,)
    if term.entity == "metrics":
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in values):
            return None
        value = list(values) if term.op == "IN" else values[0]
        compare = {"=": row.c.value == value, "<": row.c.value < value,
                   "<=": row.c.value <= value, ">": row.c.value > value,
                   ">=": row.c.value >= value}
        cond = row.c.value.in_(value) if term.op == "IN" else compare[term.op]
        return [row.c.key == term.key, cond]
    if term.entity not in ("params", "tags") or term.op not in ("=", "IN"):
        return None
    texts = [str(v) for v in values]
    stored = param_candidates(texts) if term.entity == "params" else texts
    conditions = [row.c.key == term.key, row.c.value.in_(stored)]
    if dialect == "postgresql":
        if not short_enough(term.key, stored):
            return None
        # The partial index's own condition, written out (PostgreSQL matches it as is).
        size = sa.func.octet_length(row.c.key) + sa.func.octet_length(row.c.value)
        conditions.append(size < sa.literal_column(str(_SHORT_BYTES)))
    return conditions


def _attribute_match(term: Term) -> list[Any] | None:
    from .search import COLUMNS, attribute_value

    if term.entity != "attributes" or term.key not in _INDEXED_ATTRIBUTES:
        return None
    if term.op == "=":
        return [COLUMNS[term.key] == attribute_value(term.key, term.value)]
    if term.op == "IN" and isinstance(term.value, tuple):
        return [COLUMNS[term.key].in_([attribute_value(term.key, v) for v in term.value])]
    return None


def _count(conn: Connection, table: Any, match: list[Any]) -> int:
    """The entries of ``table`` (their index range) that meet ``match``, at most
    :data:`COUNT_CAP`. First whether the range has a COUNT_CAP-th entry (SQLite steps over the
    skipped ones), then, only if not, the count itself: a count through a ``LIMIT`` subquery
    takes SQLite about three times as many steps per entry."""
    past = (sa.select(sa.literal(1)).select_from(table).where(*match)
            .limit(1).offset(COUNT_CAP - 1))
    if conn.execute(past).first() is not None:
        return COUNT_CAP
    count = sa.select(sa.func.count()).select_from(table).where(*match)
    return int(conn.execute(count).scalar_one())


def choose_plan(conn: Connection, node: Node | None, order: Sequence[OrderKey],
                limit: int) -> Plan:
    """The plan for one search (see the module docstring)."""
    if conn.dialect.name != "sqlite":
        return Plan(walk=True, hinted=False)
    first = order[0]
    ordered_index = (first.entity == "metrics"
                     or (first.entity == "attributes" and first.key == "start_time"))
    terms = conjuncts(node)
    counted: list[tuple[int, Term]] = []
    for term in terms:
        if not isinstance(term, Term):
            continue
        if term.entity in ("metrics", "params", "tags"):
            table = {"metrics": t.latest_metrics, "params": t.run_params,
                     "tags": t.run_tags}[term.entity]
            match = index_match(term, table, "sqlite")
            if match is not None:
                counted.append((_count(conn, table, match), term))
        elif term.key not in TIME_ATTRIBUTES:
            match = _attribute_match(term)
            if match is not None:
                counted.append((_count(conn, t.runs, match), term))
    counted.sort(key=lambda item: item[0])
    walk = Plan(walk=True, hinted=True, walked=first.key if first.entity == "attributes" else None)
    drive = Plan(walk=False, hinted=True, driver=counted[0][1] if counted else None,
                 probes=[term for _n, term in counted[1:] if term.entity != "attributes"])
    forced = _FORCED.get()
    if forced is not None:
        return walk if forced == "walk" and ordered_index else drive
    if not counted:
        return walk if ordered_index else Plan(walk=False, hinted=False)
    if not ordered_index:
        return drive
    # max(rowid) bounds the number of runs without reading them (deleted runs leave gaps).
    total = int(conn.execute(sa.select(sa.func.max(sa.literal_column("rowid")))
                             .select_from(t.runs)).scalar() or 0)
    if total == 0:
        return walk
    selectivity = math.prod(min(1.0, n / total) for n, _t in counted)
    matches = total * selectivity
    walk_cost = min(total, (limit + 1) / max(selectivity, 1 / total)) * _LOOKUP * (1 + len(terms))
    drive_cost = (counted[0][0] * _LOOKUP * len(drive.probes)
                  + sum(n for n, _t in counted) * _RANGE_ENTRY
                  + matches * (_SORTED + _LOOKUP * len(terms)))
    return walk if walk_cost <= drive_cost else drive
