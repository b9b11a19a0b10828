"""Searching runs: the filter language (``filter.py``) and the result page (``page.py``).

Neutral on purpose: no store imports, so the SQL store, a future HTTP store and the CLI share
one parser and one page shape. ``lineal.search_runs`` is the entry point users call."""

from __future__ import annotations

from .filter import BoolOp, Node, OrderKey, Term, parse_filter, parse_order_by
from .page import RunPage

__all__ = ["BoolOp", "Node", "OrderKey", "RunPage", "Term", "parse_filter", "parse_order_by"]
