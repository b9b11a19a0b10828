"""What a flavor is, and the error translation every flavor shares.

A flavor is a module exposing the names of :class:`Flavor`. ``lineal.models.flavors`` lists them
in detection order; ``save_model`` and ``load_model`` only ever talk to this contract.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from ..errors import ModelFormatError, UntrustedModelError
from ..saved_model import SavedModel
from ..signature import infer_signature

__all__ = ["Flavor", "example_signature", "loading", "model_file", "require_trust", "saving"]


class Flavor(Protocol):
    """The names a flavor module defines."""

    NAME: str
    FRAMEWORK: str  # import name of the framework, also recorded in manifests
    INSTALL: str  # what to pip install for it: "lineal[sklearn]", "keras"...
    FORMATS: tuple[str, ...]  # the first is the default, unless the module defines
    # default_format() -> str (pyfunc does: its default depends on what is installed)
    PICKLE_FORMATS: frozenset[str]  # formats whose loading can run arbitrary code
    KNOWN_FILES: dict[str, str]  # file name -> format, for folders that lack a manifest

    def matches(self, model: Any) -> bool:
        """Whether this flavor handles ``model``; must not import the framework."""
        ...

    def save(
        self, model: Any, folder: Path, fmt: str, input_example: Any, options: dict[str, Any]
    ) -> SavedModel:
        """Write ``model`` into the existing empty ``folder``; pop the options it uses."""
        ...

    def load(self, folder: Path, saved: SavedModel, *, trust: bool, options: dict[str, Any]) -> Any:
        """Rebuild the framework object; pop the options it uses."""
        ...

    def signature(self, model: Any, input_example: Any) -> dict[str, Any] | None:
        """Describe inputs and outputs, from the example (run through the model) or the model."""
        ...


def model_file(folder: Path, saved: SavedModel, name: str | None = None) -> Path:
    """The file ``name`` (default: the first one) of the manifest, which must exist.

    Only names listed in ``saved.files`` qualify: those were checked to stay inside the folder.
    """
    if name is None:
        if not saved.files:
            raise ModelFormatError(f"model manifest in {folder} lists no model file")
        name = saved.files[0]
    elif name not in saved.files:
        raise ModelFormatError(f"model manifest in {folder} does not list {name!r} among its files")
    target = folder / name
    if not target.is_file():
        raise ModelFormatError(f"model file {target} is missing")
    return target


def require_trust(target: Path, fmt: str, trust: bool) -> None:
    """Refuse to unpickle ``target`` unless the caller said it trusts it."""
    if not trust:
        raise UntrustedModelError(
            f"refusing to load {target}: the {fmt!r} format unpickles Python objects, and "
            "unpickling can execute arbitrary code. Pass trust=True only for models you trust "
            "(saved by you or by someone you trust, from a store nobody else can write to)."
        )


@contextmanager
def loading(target: Path) -> Iterator[None]:
    """Turn any framework failure while reading ``target`` into a ModelFormatError naming it."""
    try:
        yield
    except ModelFormatError:
        raise
    except Exception as exc:
        raise ModelFormatError(
            f"cannot load model file {target}: {type(exc).__name__}: {exc}"
        ) from exc


@contextmanager
def saving(model: Any, fmt: str) -> Iterator[None]:
    """Turn any framework failure while writing ``model`` into a ModelFormatError."""
    try:
        yield
    except ModelFormatError:
        raise
    except Exception as exc:
        kind = f"{type(model).__module__}.{type(model).__qualname__}"
        raise ModelFormatError(
            f"cannot save {kind} as {fmt!r}: {type(exc).__name__}: {exc}"
        ) from exc


def example_signature(input_example: Any, run: Callable[[], Any] | None) -> dict[str, Any] | None:
    """Signature of ``input_example`` and of what ``run()`` returns for it.

    A model that fails on its own example, or outputs nothing describable, still saves: the
    signature then lacks outputs (or is None), with a warning, because the example is a hint for
    readers of the manifest, not a test the save must pass.
    """
    if input_example is None:
        return None
    try:
        inputs = infer_signature(input_example)["inputs"]
    except TypeError as exc:
        warnings.warn(f"no signature recorded: {exc}", stacklevel=4)
        return None
    outputs: list[dict[str, Any]] = []
    if run is not None:
        try:
            outputs = infer_signature(run())["inputs"]
        except Exception as exc:
            warnings.warn(
                f"signature records no outputs: running the model on input_example failed "
                f"({type(exc).__name__}: {exc})",
                stacklevel=4,
            )
    return {"inputs": inputs, "outputs": outputs}
