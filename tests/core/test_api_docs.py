"""docs/api.md is generated from the code: it must list every public name with its current
signature, so a change to the API that forgets the reference fails here."""

from __future__ import annotations

import importlib
from pathlib import Path

from lineal.apidoc import MODULES, REGENERATE, render_markdown

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_api_reference_is_current() -> None:
    assert API_MD.read_text() == render_markdown(), f"docs/api.md is stale: run {REGENERATE}"


def test_every_public_name_is_documented() -> None:
    text = API_MD.read_text()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in [n for n in module.__all__ if not n.startswith("_")]:
            if module_name == "lineal" and f"lineal.{name}" in MODULES:
                continue  # a submodule: documented in its own section
            documented = (f"### `{module_name}.{name}`" in text
                          or f"### `{module_name}.{name}()`" in text)
            assert documented, f"{module_name}.{name} is not in docs/api.md"
