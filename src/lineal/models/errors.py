"""Errors raised while saving or loading models, part of lineal's one exception tree.

    lineal.errors.ModelFormatError    a model cannot be saved or loaded in that format
    ├── UnsupportedModelError         no flavor handles this object
    ├── UntrustedModelError           a pickle-based format loaded without trust=True
    └── MissingFrameworkError         the framework a flavor needs is not installed (also ImportError)
"""

from __future__ import annotations

from ..errors import ModelFormatError, UnsupportedModelError, UntrustedModelError

__all__ = [
    "MissingFrameworkError",
    "ModelFormatError",
    "UnsupportedModelError",
    "UntrustedModelError",
]


class MissingFrameworkError(ModelFormatError, ImportError):
    """The framework a flavor needs is not importable.

    Also an ``ImportError`` so that code written as ``except ImportError`` keeps working.
    """
