"""The flavors, in detection order.

Each flavor module follows :class:`lineal.models.flavors.base.Flavor` and imports its framework
only inside functions, so importing this package is cheap whatever is installed.

Order matters where classes overlap: safetensors dicts first; XGBoost and LightGBM wrappers
before scikit-learn (they subclass its BaseEstimator); Keras before torch (Keras 3 models are
torch modules under the torch backend); pyfunc, the catch-all for anything with ``predict`` or
``__call__``, last.
"""

from __future__ import annotations

from . import keras, lightgbm, onnx, pyfunc, safetensors, sklearn, torch, xgboost
from .base import Flavor

__all__ = ["FLAVORS", "Flavor", "default_format", "get_flavor"]

_DETECTION_ORDER: tuple[Flavor, ...] = (
    safetensors,
    onnx,
    xgboost,
    lightgbm,
    keras,
    torch,
    sklearn,
    pyfunc,
)
FLAVORS: dict[str, Flavor] = {flavor.NAME: flavor for flavor in _DETECTION_ORDER}


def get_flavor(name: str) -> Flavor:
    """The flavor module called ``name``; ValueError listing the known names otherwise."""
    try:
        return FLAVORS[name]
    except KeyError:
        raise ValueError(
            f"unknown model flavor {name!r}; known flavors: {', '.join(sorted(FLAVORS))}"
        ) from None


def default_format(flavor: Flavor) -> str:
    """The format a flavor writes when ``save_model`` gets no ``format=``."""
    dynamic = getattr(flavor, "default_format", None)
    return str(dynamic()) if callable(dynamic) else str(flavor.FORMATS[0])
