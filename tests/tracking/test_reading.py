"""Reading runs back through the SDK: ``lineal.get_run`` by full id or unique id prefix."""

from __future__ import annotations

import os

import pytest

import lineal
from lineal.store import Store


def test_get_run_takes_a_unique_prefix_in_any_case(store: Store) -> None:
    with lineal.run("a", capture=False) as a, lineal.run("b", capture=False) as b:
        pass
    assert lineal.get_run(a.id).id == a.id
    assert lineal.get_run(f"  {a.id[:20].lower()} ").id == a.id  # as copied from a table
    common = os.path.commonprefix([a.id, b.id])
    if len(common) >= 6:  # same millisecond prefix: ambiguous, and says which runs match
        with pytest.raises(lineal.InvalidArgument, match="ambiguous") as caught:
            lineal.get_run(common)
        assert a.id in caught.value.message and b.id in caught.value.message
    with pytest.raises(lineal.NotFound, match="no run with id"):
        lineal.get_run(a.id[:5])  # too short to be taken as a prefix
    with pytest.raises(lineal.NotFound, match="no run with id or id prefix"):
        lineal.get_run("7ZZZZZZZ")
