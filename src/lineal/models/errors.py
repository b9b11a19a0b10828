"""Errors raised while saving or loading models.

    ModelFormatError              a model cannot be saved or loaded in that format
    ├── UnsupportedModelError     no flavor handles this object
    ├── UntrustedModelError       a pickle-based format loaded without trust=True
    └── MissingFrameworkError     the framework a flavor needs is not installed (also ImportError)

These live here, rooted on ``Exception``, so that ``lineal.models`` stands alone; the core team
re-parents them onto ``lineal.errors`` (which declares the same names) when the two meet.
"""

from __future__ import annotations

__all__ = [
    "MissingFrameworkError",
    "ModelFormatError",
    "UnsupportedModelError",
    "UntrustedModelError",
]


class ModelFormatError(Exception):
    """A model cannot be saved or loaded in the requested format (corrupt file, bad manifest...)."""


class UnsupportedModelError(ModelFormatError):
    """No flavor knows how to save this object."""


class UntrustedModelError(ModelFormatError):
    """Loading this format can run arbitrary code, and the caller did not pass ``trust=True``."""


class MissingFrameworkError(ModelFormatError, ImportError):
    """The framework a flavor needs is not importable.

    Also an ``ImportError`` so that code written as ``except ImportError`` keeps working.
    """
