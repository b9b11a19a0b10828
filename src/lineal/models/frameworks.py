"""Recognise and import ML frameworks without importing them up front.

Detection looks at the module names of an object's class hierarchy, so asking "is this a torch
module?" never imports torch: ``import lineal.models`` and ``detect_flavor`` stay cheap and work
when only some frameworks are installed.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from .errors import MissingFrameworkError, ModelFormatError

__all__ = ["class_path", "has_base", "import_class", "require"]


def class_path(cls: type) -> str:
    """``module.QualName`` of a class, the form stored in manifests."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _root(module: str) -> str:
    return module.split(".", 1)[0]


def has_base(obj: Any, package: str, names: tuple[str, ...] | None = None) -> bool:
    """True if ``type(obj)`` or one of its bases is defined in ``package`` (a top-level name).

    With ``names``, the base must also be called one of them. ``has_base(m, "torch", ("Module",))``
    answers "is m a torch.nn.Module?" without importing torch.
    """
    for cls in type(obj).__mro__:
        if _root(cls.__module__) == package and (names is None or cls.__name__ in names):
            return True
    return False


def require(module: str, *, flavor: str, install: str) -> ModuleType:
    """Import ``module`` or explain what to install (``install``, a pip requirement)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingFrameworkError(
            f"the {flavor} flavor needs {module!r}, which is not importable ({exc}); "
            f"install it with: pip install '{install}'"
        ) from exc


def import_class(path: str, *, package: str, base: type | tuple[type, ...]) -> type:
    """Import the class ``path`` recorded in a manifest, refusing anything outside ``package``.

    Manifests are data, and importing plus instantiating an arbitrary class named by data is code
    execution; so only subclasses of ``base`` that live in the framework's own package qualify.
    """
    module_name, _, name = path.rpartition(".")
    if _root(module_name) != package:
        raise ModelFormatError(f"refusing to rebuild {path!r}: it is not a {package} class")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ModelFormatError(f"cannot import model class {path!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, base)):
        bases = base if isinstance(base, tuple) else (base,)
        expected = " or ".join(class_path(b) for b in bases)
        raise ModelFormatError(f"refusing to rebuild {path!r}: it is not a {expected}")
    return cls
