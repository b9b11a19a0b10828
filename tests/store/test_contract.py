"""The metadata contract is one type, implemented whole, and callers stay inside it.

``Store.metadata`` is typed as :class:`lineal.store.base.MetadataStore`; an implementation that
left a method out would make callers test ``isinstance`` again (the registry skipped silently
when the check failed). These tests need no database: they read classes and source text.
"""

from __future__ import annotations

import ast
import inspect
import re
import typing
from pathlib import Path

import lineal
from lineal.store import Store
from lineal.store.base import MetadataStore, TrackingStore
from lineal.store.lineage_base import LineageStore
from lineal.store.registry_base import RegistryStore
from lineal.store.sql import SqlMetadataStore
from lineal.store.webhooks_base import WebhookStore

SRC = Path(lineal.__file__).parent


def test_the_contract_is_the_four_parts_together() -> None:
    for part in (TrackingStore, RegistryStore, LineageStore, WebhookStore):
        assert issubclass(MetadataStore, part)
    parts = (TrackingStore.__abstractmethods__ | RegistryStore.__abstractmethods__
             | LineageStore.__abstractmethods__ | WebhookStore.__abstractmethods__)
    assert parts <= MetadataStore.__abstractmethods__


def test_store_metadata_is_typed_as_the_whole_contract() -> None:
    hints = typing.get_type_hints(Store)
    assert hints["metadata"] is MetadataStore


def test_sql_store_implements_every_contract_method() -> None:
    assert issubclass(SqlMetadataStore, MetadataStore)
    assert not SqlMetadataStore.__abstractmethods__
    for name in sorted(MetadataStore.__abstractmethods__):
        implementation = getattr(SqlMetadataStore, name)
        assert not getattr(implementation, "__isabstractmethod__", False), name
        contract = inspect.signature(getattr(MetadataStore, name))
        actual = inspect.signature(implementation)
        # Every parameter the contract names is accepted under the same name and kind.
        for param in contract.parameters.values():
            assert param.name in actual.parameters, f"{name}: no parameter {param.name}"
            assert actual.parameters[param.name].kind == param.kind, f"{name}: {param.name}"


def test_every_contract_method_is_documented() -> None:
    for name in sorted(MetadataStore.__abstractmethods__):
        assert inspect.getdoc(getattr(MetadataStore, name)), f"MetadataStore.{name} has no docstring"


def _sources_outside_sql() -> list[tuple[Path, str]]:
    return [(path, path.read_text()) for path in sorted(SRC.rglob("*.py"))
            if SRC / "store" / "sql" not in path.parents]


def test_no_caller_tests_what_the_store_is() -> None:
    pattern = re.compile(
        r"isinstance\([^)]*,\s*\(?\s*(MetadataStore|RegistryStore|LineageStore|SqlMetadataStore)")
    found = [f"{path.relative_to(SRC)}: {m.group(0)}"
             for path, text in _sources_outside_sql() for m in pattern.finditer(text)]
    assert found == []


def test_no_caller_reaches_past_the_contract_into_sql() -> None:
    """Outside ``store/sql`` nothing touches the database, its connections or raw SQL."""
    pattern = re.compile(r"\.metadata\.db\b|\bsa\.text\(|^\s*import sqlalchemy|\.db\.(read|write)\(",
                         re.M)
    found = [f"{path.relative_to(SRC)}: {m.group(0).strip()}"
             for path, text in _sources_outside_sql() for m in pattern.finditer(text)]
    assert found == []
    ignored = [f"{path.relative_to(SRC)}" for path, text in _sources_outside_sql()
               if re.search(r"metadata\.\w+\(.*# type: ignore\[attr-defined\]", text)]
    assert ignored == []


_SQL_REACH = re.compile(r"\.db\b|sqlalchemy|\bsa\.|store\.sql|exec_driver_sql|SqlMetadataStore")
CONFORMANCE = ("test_metadata_*.py", "test_search.py", "test_blob_contract.py")


def _marked_sql(node: ast.AST) -> bool:
    return any(ast.unparse(d).startswith("pytest.mark.sql")
               for d in getattr(node, "decorator_list", ()))


def test_conformance_tests_use_only_the_contract_unless_marked_sql() -> None:
    """The conformance suite must run unchanged against another MetadataStore: a test that
    reaches into the SQL implementation is marked ``sql`` (run on the SQL backends only), and
    so is every test calling a helper that does."""
    folder = Path(__file__).parent
    unmarked = []
    for pattern in CONFORMANCE:
        for path in sorted(folder.glob(pattern)):
            tree = ast.parse(path.read_text())
            if any(isinstance(n, ast.Assign) and ast.unparse(n).startswith("pytestmark = pytest.mark.sql")
                   for n in tree.body):
                continue
            functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
            reaching = {name for name, n in functions.items() if _SQL_REACH.search(ast.unparse(n))}
            for name, node in functions.items():
                if not name.startswith("test_") or _marked_sql(node):
                    continue
                called = {c.id for c in ast.walk(node) if isinstance(c, ast.Name)}
                if name in reaching or called & reaching:
                    unmarked.append(f"{path.name}::{name}")
    assert unmarked == []
