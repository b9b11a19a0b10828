"""The run search language: a small tokenizer and recursive-descent parser producing an AST.

The syntax is MLflow's ``search_runs`` filter, so its users can type what they know::

    metrics.auc > 0.9 and params.C = '0.5' and tags.team = 'ml' and attributes.status = 'finished'
    params.model LIKE 'xgb%'   tags.owner ILIKE '%ALICE%'   attributes.status IN ('failed', 'killed')
    metrics.`my-key` >= 3      attributes.start_time > '2026-11-01'   attributes.created > 1762000000000

plus ``or`` and parentheses, and terms that follow lineage (what the backend resolves):

    inputs.dataset = 'features@v4'    inputs.artifact = 'raw@v2'    outputs.model = 'churn@v1'
    env.torch >= '2.3'    env.numpy = '1.26.*'

This module knows only the language: it checks each term's shape (which operators an entity
takes, a number for metrics) and says where a filter is wrong. Turning the AST into SQL is the
store's job (``store/sql/search.py``), so a future HTTP store can send the same text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InvalidArgument

__all__ = [
    "ATTRIBUTES",
    "BoolOp",
    "Node",
    "OrderKey",
    "Term",
    "conjoin",
    "parse_filter",
    "parse_order_by",
]

Value = str | float | tuple[str | float, ...]

#: Entity prefixes as typed (MLflow's spellings included) -> the canonical entity.
ENTITIES = {
    **dict.fromkeys(("metric", "metrics"), "metrics"),
    **dict.fromkeys(("param", "params", "parameter", "parameters"), "params"),
    **dict.fromkeys(("tag", "tags"), "tags"),
    **dict.fromkeys(("attribute", "attributes", "attr", "run"), "attributes"),
    **dict.fromkeys(("input", "inputs"), "inputs"),
    **dict.fromkeys(("output", "outputs"), "outputs"),
    **dict.fromkeys(("env", "environment", "package", "packages"), "env"),
}

#: Attribute names as typed -> the canonical attribute (a column of runs).
ATTRIBUTES = {
    **dict.fromkeys(("run_id", "id"), "id"),
    **dict.fromkeys(("name", "run_name"), "name"),
    "status": "status",
    "kind": "kind",
    **dict.fromkeys(("experiment", "experiment_name", "experiment_id"), "experiment"),
    "project": "project",
    **dict.fromkeys(("parent_id", "parent"), "parent_id"),
    **dict.fromkeys(("user", "user_id", "created_by"), "user"),
    **dict.fromkeys(("start_time", "started_at", "created", "creation_time"), "start_time"),
    **dict.fromkeys(("end_time", "ended_at"), "end_time"),
}
TIME_ATTRIBUTES = ("start_time", "end_time")
#: What ``inputs.X`` / ``outputs.X`` may name: an artifact of any kind, or of one kind.
LINEAGE_KEYS = ("artifact", "dataset", "model")

_COMPARE = ("=", "!=", "<", "<=", ">", ">=")
_STRING_OPS = (*_COMPARE, "LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE", "IN", "NOT IN")
_OPERATORS = {
    "metrics": (*_COMPARE, "IN", "NOT IN"),
    "params": _STRING_OPS,
    "tags": _STRING_OPS,
    "attributes": _STRING_OPS,
    "inputs": ("=", "!=", "LIKE", "IN", "NOT IN"),
    "outputs": ("=", "!=", "LIKE", "IN", "NOT IN"),
    "env": (*_COMPARE, "LIKE", "IN", "NOT IN"),
}


@dataclass(frozen=True, slots=True)
class Term:
    """One comparison: ``entity.key op value``. ``column`` (1-based) is where it starts."""

    entity: str
    key: str
    op: str
    value: Value
    column: int


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``and``/``or`` over two or more nodes."""

    op: str
    nodes: tuple[Node, ...]


Node = Term | BoolOp


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One sort key: ``metrics.auc DESC``. Attributes use their canonical name."""

    entity: str
    key: str
    descending: bool

    def __str__(self) -> str:
        return f"{self.entity}.{self.key} {'DESC' if self.descending else 'ASC'}"


# -- tokens --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ident, string, number, op, lparen, rparen, comma, dot, quoted_ident, end
    text: str
    value: str | float
    column: int


_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_OPERATOR = re.compile(r"==|!=|<>|<=|>=|=|<|>")


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(text):
        if match := _SPACE.match(text, i):
            i = match.end()
            continue
        col = i + 1
        char = text[i]
        if char in "'\"`":
            value, end = _quoted(text, i)
            kind = "quoted_ident" if char == "`" else "string"
            out.append(_Token(kind, text[i:end], value, col))
            i = end
        elif match := _OPERATOR.match(text, i):
            op = {"==": "=", "<>": "!="}.get(match[0], match[0])
            out.append(_Token("op", match[0], op, col))
            i = match.end()
        elif (char.isdigit() or char in "-+." and i + 1 < len(text) and
              (text[i + 1].isdigit() or text[i + 1] == ".")) and (match := _NUMBER.match(text, i)):
            if char == "." and out and out[-1].kind in ("ident", "quoted_ident"):
                out.append(_Token("dot", ".", ".", col))  # metrics.1st: a key, not a number
                i += 1
                continue
            out.append(_Token("number", match[0], float(match[0]), col))
            i = match.end()
        elif match := _IDENT.match(text, i):
            out.append(_Token("ident", match[0], match[0], col))
            i = match.end()
        elif char in "(),.":
            kind = {"(": "lparen", ")": "rparen", ",": "comma", ".": "dot"}[char]
            out.append(_Token(kind, char, char, col))
            i += 1
        else:
            raise _bad(col, f"unexpected character {char!r}")
    out.append(_Token("end", "", "", len(text) + 1))
    return out


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The value of the quoted string at ``start`` and the index after it. A quote is escaped
    by doubling it (SQL) or with a backslash."""
    quote, i, parts = text[start], start + 1, []
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            parts.append(text[i + 1])
            i += 2
        elif char == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                parts.append(quote)
                i += 2
            else:
                return "".join(parts), i + 1
        else:
            parts.append(char)
            i += 1
    raise _bad(start + 1, f"unterminated {quote}...{quote}: close it with {quote}")


def _bad(column: int, what: str) -> InvalidArgument:
    return InvalidArgument(
        f"bad filter at column {column}: {what}",
        hint="e.g. metrics.auc > 0.9 and params.C = '0.5' and tags.team = 'ml' "
        "(quote strings; backticks around keys with odd characters: metrics.`my-key`)",
    )


def _shown(token: _Token) -> str:
    return "the end of the filter" if token.kind == "end" else repr(token.text)


# -- parser --------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.token
        return token.kind == "ident" and token.text.lower() in words

    def expect(self, kind: str, what: str, after: str) -> _Token:
        if self.token.kind != kind:
            raise _bad(self.token.column, f"expected {what} after {after!r}, found {_shown(self.token)}")
        return self.take()

    def expression(self) -> Node:
        nodes = [self.conjunction()]
        while self.keyword("or"):
            self.take()
            nodes.append(self.conjunction())
        return nodes[0] if len(nodes) == 1 else BoolOp("or", tuple(nodes))

    def conjunction(self) -> Node:
        nodes = [self.primary()]
        while self.keyword("and"):
            self.take()
            nodes.append(self.primary())
        return nodes[0] if len(nodes) == 1 else BoolOp("and", tuple(nodes))

    def primary(self) -> Node:
        if self.token.kind == "lparen":
            opening = self.take()
            node = self.expression()
            if self.token.kind != "rparen":
                raise _bad(self.token.column, f"expected ')' to close the '(' at column "
                           f"{opening.column}, found {_shown(self.token)}")
            self.take()
            return node
        return self.term()

    def identifier(self) -> tuple[str, str, int]:
        """``entity.key`` (or a bare attribute name): the canonical entity, key, column."""
        token = self.token
        if token.kind != "ident" or self.keyword("and", "or"):
            raise _bad(token.column, f"expected a key such as metrics.auc, found {_shown(token)}")
        self.take()
        if self.token.kind != "dot":
            name = token.text.lower()
            if name in ATTRIBUTES:  # `status = 'failed'`: attributes need no prefix
                return "attributes", ATTRIBUTES[name], token.column
            raise _bad(token.column, f"unknown key {token.text!r}: prefix it with metrics., "
                       "params., tags., attributes., inputs., outputs. or env.")
        entity = ENTITIES.get(token.text.lower())
        if entity is None:
            raise _bad(token.column, f"unknown entity {token.text!r}: use metrics, params, tags, "
                       "attributes, inputs, outputs or env")
        dot = self.take()
        key_token = self.token
        if key_token.kind in ("string", "quoted_ident"):
            key = str(self.take().value)
        elif key_token.kind in ("ident", "number"):
            # A bare key runs to the next space or operator: dots and dashes belong to it.
            parts = [self.take().text]
            while self.token.kind in ("dot", "ident", "number") and self.token.column == (
                    self.tokens[self.at - 1].column + len(self.tokens[self.at - 1].text)):
                parts.append(self.take().text)
            key = "".join(parts)
        else:
            raise _bad(key_token.column, f"expected a key after '{token.text}{dot.text}', "
                       f"found {_shown(key_token)}")
        if not key:
            raise _bad(key_token.column, "empty key")
        if entity == "attributes":
            if key.lower() not in ATTRIBUTES:
                raise _bad(key_token.column, f"unknown attribute {key!r}: use one of "
                           f"{', '.join(sorted(set(ATTRIBUTES.values())))}")
            key = ATTRIBUTES[key.lower()]
        if entity in ("inputs", "outputs") and key.lower() not in LINEAGE_KEYS:
            raise _bad(key_token.column, f"unknown {entity} key {key!r}: use "
                       f"{entity}.artifact, {entity}.dataset or {entity}.model")
        if entity in ("inputs", "outputs"):
            key = key.lower()
        return entity, key, token.column

    def operator(self) -> tuple[str, _Token]:
        token = self.token
        if token.kind == "op":
            self.take()
            return str(token.value), token
        if self.keyword("not"):
            self.take()
            if self.keyword("like", "ilike", "in"):
                return "NOT " + self.take().text.upper(), token
            raise _bad(self.token.column, f"expected LIKE, ILIKE or IN after 'not', "
                       f"found {_shown(self.token)}")
        if self.keyword("like", "ilike", "in"):
            return self.take().text.upper(), token
        raise _bad(token.column, f"expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN) "
                   f"after the key, found {_shown(token)}")

    def scalar(self, after: str) -> str | float:
        token = self.token
        if token.kind in ("string", "number"):
            self.take()
            return token.value
        raise _bad(token.column, f"expected a value after {after!r}, found {_shown(token)}")

    def term(self) -> Term:
        entity, key, column = self.identifier()
        op, op_token = self.operator()
        value: Value
        if op in ("IN", "NOT IN"):
            self.expect("lparen", "'('", op_token.text if op == "IN" else "not in")
            items = [self.scalar("(")]
            while self.token.kind == "comma":
                comma = self.take()
                items.append(self.scalar(comma.text))
            self.expect("rparen", "',' or ')'", str(items[-1]))
            value = tuple(items)
        else:
            value = self.scalar(op_token.text if op_token.kind == "op" else op.lower())
        allowed = _OPERATORS[entity]
        if entity == "attributes" and key in TIME_ATTRIBUTES:
            allowed = (*_COMPARE,)
        if op not in allowed:
            raise _bad(op_token.column, f"{entity}.{key} does not take {op}: use "
                       f"{', '.join(allowed)}")
        values = value if isinstance(value, tuple) else (value,)
        if entity == "metrics" and any(isinstance(v, str) for v in values):
            raise _bad(op_token.column, f"metrics.{key} compares with a number, not a string")
        if op.endswith("LIKE") and not isinstance(value, str):
            raise _bad(op_token.column, f"{op} takes a quoted pattern such as 'xgb%'")
        return Term(entity, key, op, value, column)


def parse_filter(text: str | None) -> Node | None:
    """The AST of a filter, None when it is empty; InvalidArgument naming the column and the
    token where it is wrong.

    >>> parse_filter("metrics.auc > 0.9")
    Term(entity='metrics', key='auc', op='>', value=0.9, column=1)
    """
    if text is None or not text.strip():
        return None
    parser = _Parser(text)
    node = parser.expression()
    if parser.token.kind != "end":
        token = parser.token
        raise _bad(token.column, f"expected 'and', 'or' or the end of the filter, found {_shown(token)}")
    return node


def parse_order_by(clauses: Sequence[str] | str | None) -> list[OrderKey]:
    """Sort keys from ``["metrics.auc DESC", "params.C"]`` (a comma-separated string works too).

    Attributes, metrics and params sort; ascending unless ``DESC``."""
    if not clauses:
        return []
    if isinstance(clauses, str):
        clauses = [clauses]
    keys: list[OrderKey] = []
    for clause in clauses:
        parser = _Parser(clause)
        while True:
            entity, key, column = parser.identifier()
            if entity not in ("attributes", "metrics", "params", "tags"):
                raise _bad(column, f"cannot order by {entity}: use attributes, metrics, params or tags")
            descending = False
            if parser.keyword("asc", "desc"):
                descending = parser.take().text.lower() == "desc"
            keys.append(OrderKey(entity, key, descending))
            if parser.token.kind == "comma":
                parser.take()
                continue
            if parser.token.kind != "end":
                raise _bad(parser.token.column, f"expected ASC, DESC or ',' after the key, "
                           f"found {_shown(parser.token)}")
            break
    return keys


def conjoin(text: str | None, terms: Sequence[tuple[str, str, str]]) -> str | None:
    """``text`` and ``key op 'value'`` for each of ``terms``, values quoted for the language:
    how a caller adds fixed conditions (``--project churn``) to a filter a user typed.

    >>> conjoin("metrics.auc > 0.9", [("attributes.project", "=", "it's")])
    "attributes.project = 'it''s' and (metrics.auc > 0.9)"
    """
    parse_filter(text)  # errors name columns of the text as the user typed it
    parts = [f"{key} {op} '{value.replace(chr(39), chr(39) * 2)}'" for key, op, value in terms]
    if text and text.strip():
        parts.append(f"({text})")
    return " and ".join(parts) or None
