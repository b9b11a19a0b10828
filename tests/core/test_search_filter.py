"""The run search language on its own: tokens, precedence, keys, values and the errors that
name a column. (What a filter matches is tested on real stores in tests/store/test_search.py.)"""

from __future__ import annotations

import pytest

from lineal.errors import InvalidArgument
from lineal.search.filter import BoolOp, OrderKey, Term, conjoin, parse_filter, parse_order_by


def test_mlflow_filter_parses_to_terms() -> None:
    node = parse_filter("metrics.auc > 0.9 and params.C = '0.5' and tags.team = 'ml' "
                        "and attributes.status = 'finished'")
    assert node == BoolOp("and", (
        Term("metrics", "auc", ">", 0.9, 1), Term("params", "C", "=", "0.5", 23),
        Term("tags", "team", "=", "ml", 44), Term("attributes", "status", "=", "finished", 65),
    ))


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    node = parse_filter("metrics.a > 1 or metrics.b > 2 and metrics.c > 3")
    assert isinstance(node, BoolOp) and node.op == "or"
    assert isinstance(node.nodes[1], BoolOp) and node.nodes[1].op == "and"
    grouped = parse_filter("(metrics.a > 1 OR metrics.b > 2) AND metrics.c > 3")
    assert isinstance(grouped, BoolOp) and grouped.op == "and"


@pytest.mark.parametrize(("text", "entity", "key"), [
    ("metrics.`my-key` > 1", "metrics", "my-key"),
    ('metrics."odd key" > 1', "metrics", "odd key"),
    ("metrics.val.loss < 1", "metrics", "val.loss"),
    ("metrics.val-loss < 1", "metrics", "val-loss"),
    ("metric.1st > 1", "metrics", "1st"),
    ("params.`it``s` = 'x'", "params", "it`s"),
    ("attr.run_name = 'x'", "attributes", "name"),
    ("attributes.created > 1", "attributes", "start_time"),
    ("status = 'failed'", "attributes", "status"),
    ("env.scikit-learn >= '1.4'", "env", "scikit-learn"),
    ("inputs.DATASET = 'x'", "inputs", "dataset"),
])
def test_keys(text: str, entity: str, key: str) -> None:
    node = parse_filter(text)
    assert isinstance(node, Term) and (node.entity, node.key) == (entity, key)


@pytest.mark.parametrize(("text", "op", "value"), [
    ("params.a = 'it''s'", "=", "it's"),
    ("params.a == \"x\\\"y\"", "=", 'x"y'),
    ("params.a <> 'x'", "!=", "x"),
    ("metrics.a >= -1.5e3", ">=", -1500.0),
    ("metrics.a < .5", "<", 0.5),
    ("params.a not like 'x%'", "NOT LIKE", "x%"),
    ("tags.a ILIKE 'X%'", "ILIKE", "X%"),
    ("tags.a in ('x', 'y')", "IN", ("x", "y")),
    ("tags.a NOT IN ('x')", "NOT IN", ("x",)),
])
def test_operators_and_values(text: str, op: str, value: object) -> None:
    node = parse_filter(text)
    assert isinstance(node, Term) and (node.op, node.value) == (op, value)


@pytest.mark.parametrize(("text", "message"), [
    ("metrics.auc > and params.C = 1", "column 15: expected a value after '>', found 'and'"),
    ("metrics.auc >", "column 14: expected a value after '>', found the end of the filter"),
    ("metrics.auc = 'x'", "column 13: metrics.auc compares with a number"),
    ("foo.bar = 1", "column 1: unknown entity 'foo'"),
    ("colour = 'red'", "column 1: unknown key 'colour'"),
    ("metrics.auc 3", "column 13: expected an operator"),
    ("params.a = 'open", "column 12: unterminated"),
    ("(metrics.a > 1", "column 15: expected ')' to close the '(' at column 1"),
    ("metrics.a > 1 params.b = 'x'", "column 15: expected 'and', 'or' or the end"),
    ("params.a IN 'x'", "column 13: expected '(' after 'IN'"),
    ("params.a IN ('x' 'y')", "column 18: expected ',' or ')'"),
    ("params.a LIKE 3", "column 10: LIKE takes a quoted pattern"),
    ("metrics.a LIKE '1%'", "column 11: metrics.a does not take LIKE"),
    ("params.a = 'x' and", "column 19: expected a key such as metrics.auc"),
    ("params.a = 'x' ; drop table runs", "column 16: unexpected character ';'"),
    ("metrics. > 1", "column 10: expected a key after 'metrics.'"),
])
def test_errors_name_the_column_and_the_token(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_filter(text)
    assert caught.value.message.startswith("bad filter at " + message), caught.value.message


def test_empty_filter_is_none() -> None:
    assert parse_filter(None) is None and parse_filter("   ") is None


def test_order_by() -> None:
    assert parse_order_by(["metrics.auc DESC", "params.C, attributes.created asc"]) == [
        OrderKey("metrics", "auc", True), OrderKey("params", "C", False),
        OrderKey("attributes", "start_time", False),
    ]
    assert parse_order_by(None) == []
    with pytest.raises(InvalidArgument, match="column 1: cannot order by inputs"):
        parse_order_by("inputs.dataset")
    with pytest.raises(InvalidArgument, match="column 13: expected ASC, DESC or ','"):
        parse_order_by("metrics.auc sideways")


def test_conjoin_quotes_values_and_keeps_the_users_columns() -> None:
    text = conjoin("metrics.auc > 0.9 or metrics.f1 > 0.9", [("attributes.project", "=", "it's")])
    node = parse_filter(text)
    assert isinstance(node, BoolOp) and node.op == "and"
    assert node.nodes[0] == Term("attributes", "project", "=", "it's", 1)
    assert conjoin(None, []) is None
    with pytest.raises(InvalidArgument, match="column 15"):
        conjoin("metrics.auc > and", [("attributes.project", "=", "x")])
