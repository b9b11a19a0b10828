"""Lazy exports (PEP 562) for lineal's packages: each public name is imported on first use, so
``import lineal`` (and ``import lineal.lineage``...) imports nothing heavy.

    _EXPORTS = {"upstream": "lineal.lineage.api", ...}
    __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(namespace: dict[str, Any], exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for ``exports`` (public name -> the module
    that defines it). A name that is itself a submodule (``lineal.audit``) exports the module.
    The value found is kept in the package's namespace, so each name is looked up once."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:  # noqa: N807 - PEP 562's name
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(module)
        value = imported if module == f"{package}.{name}" else getattr(imported, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return list(namespace["__all__"])

    return __getattr__, __dir__
