"""PyTorch modules: the state dict plus a TorchScript program that loads without the class.

Formats and files:
    torch_state_dict (default): ``model.safetensors`` (``state_dict.pt`` via ``torch.save`` when
        safetensors is not installed) and ``model.torchscript.pt``.
    torchscript: ``model.torchscript.pt`` only.

Saving scripts the module with ``torch.jit.script``; modules that do not script (data-dependent
Python control flow, unsupported types) are traced with ``torch.jit.trace`` on ``input_example``
instead. A traced program replays the operations of that one example, so control flow that
depends on the input is frozen; script what you can.

``input_example`` should be a tensor, or a tuple of tensors for a multi-input ``forward``, of
the dtype the module expects (a float64 numpy array does not feed a float32 module).

Options when saving:
    torchscript (bool, default True): with torch_state_dict, also write the TorchScript program.
    torchscript_method ("auto" | "script" | "trace"): "auto" scripts, then falls back to tracing.

Options when loading:
    model_class, model_kwargs: rebuild ``model_class(**model_kwargs)`` and load the state dict.
    model_factory: a zero-argument callable returning the module to load the state dict into.
    map_location (default "cpu"): device to load tensors onto.
Without model_class or model_factory, loading returns the TorchScript module (in eval mode).

None of these formats is pickle-based: safetensors is raw tensors, ``torch.load`` runs with
``weights_only=True`` (an unpickler restricted to tensors and containers), and TorchScript
archives are programs in TorchScript's own language, deserialised by its own loader, which can
only call TorchScript operators, not arbitrary Python.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ModelFormatError
from ..frameworks import class_path, has_base, require
from ..saved_model import SavedModel
from .base import example_signature, loading, model_file, saving

NAME = "torch"
FRAMEWORK = "torch"
INSTALL = "lineal[torch]"
FORMATS: tuple[str, ...] = ("torch_state_dict", "torchscript")
PICKLE_FORMATS: frozenset[str] = frozenset()
SAFETENSORS_FILE = "model.safetensors"
TORCH_SAVE_FILE = "state_dict.pt"
TORCHSCRIPT_FILE = "model.torchscript.pt"
KNOWN_FILES = {TORCHSCRIPT_FILE: "torchscript"}


def matches(model: Any) -> bool:
    """Instances of ``torch.nn.Module`` (scripted modules included)."""
    return has_base(model, "torch", ("Module",))


def save(
    model: Any, folder: Path, fmt: str, input_example: Any, options: dict[str, Any]
) -> SavedModel:
    """Write the state dict and/or the TorchScript program."""
    torch = require("torch", flavor=NAME, install=INSTALL)
    with_script = bool(options.pop("torchscript", True)) or fmt == "torchscript"
    method = options.pop("torchscript_method", "auto")
    if method not in ("auto", "script", "trace"):
        raise ValueError(f"torchscript_method must be 'auto', 'script' or 'trace', not {method!r}")
    files: list[str] = []
    extra: dict[str, Any] = {"class": class_path(type(model)), "torchscript_file": None}
    if fmt == "torch_state_dict":
        with saving(model, fmt):
            state_file, state_format = _save_state_dict(torch, model, folder)
        files.append(state_file)
        extra.update(state_dict_file=state_file, state_dict_format=state_format)
    if with_script:
        scripted_by = _save_torchscript(
            torch,
            model,
            folder / TORCHSCRIPT_FILE,
            input_example,
            method,
            required=fmt == "torchscript",
        )
        if scripted_by is not None:
            files.append(TORCHSCRIPT_FILE)
            extra.update(torchscript_file=TORCHSCRIPT_FILE, torchscript_method=scripted_by)
    return SavedModel(
        flavor=NAME,
        format=fmt,
        framework=FRAMEWORK,
        framework_version=torch.__version__,
        files=files,
        pickle_based=False,
        extra=extra,
    )


def load(folder: Path, saved: SavedModel, *, trust: bool, options: dict[str, Any]) -> Any:
    """The TorchScript module, or ``model_class``/``model_factory`` filled with the state dict."""
    torch = require("torch", flavor=NAME, install=INSTALL)
    map_location = options.pop("map_location", "cpu")
    model_class = options.pop("model_class", None)
    model_kwargs = options.pop("model_kwargs", None) or {}
    factory: Callable[[], Any] | None = options.pop("model_factory", None)
    if model_class is not None and factory is not None:
        raise ValueError("pass model_class= or model_factory=, not both")
    if model_class is not None:
        factory = lambda: model_class(**model_kwargs)  # noqa: E731
    if factory is not None:
        return _load_into(torch, folder, saved, factory(), map_location)
    # A folder without manifest (flavor_hint="torch") has only its file list to go by.
    fallback = TORCHSCRIPT_FILE if TORCHSCRIPT_FILE in saved.files else None
    script_name = saved.extra.get("torchscript_file", fallback)
    if not script_name:
        raise ModelFormatError(
            f"{folder} holds only a state dict of {saved.extra.get('class', 'a torch module')} "
            "(it was saved without TorchScript): pass model_class= (and model_kwargs=) or "
            "model_factory= to rebuild the module"
        )
    return _load_torchscript(torch, model_file(folder, saved, script_name), map_location)


def signature(model: Any, input_example: Any) -> dict[str, Any] | None:
    """Inputs from the example, outputs from the forward pass on it (without gradients)."""
    torch = require("torch", flavor=NAME, install=INSTALL)

    def forward() -> Any:
        with torch.no_grad():
            return model(*_as_inputs(torch, input_example))

    return example_signature(input_example, forward)


def _save_state_dict(torch: Any, model: Any, folder: Path) -> tuple[str, str]:
    try:
        from safetensors.torch import save_model
    except ImportError:
        torch.save(model.state_dict(), folder / TORCH_SAVE_FILE)
        return TORCH_SAVE_FILE, "torch"
    # save_model (not save_file) because it de-duplicates tied weights, which save_file rejects.
    save_model(model, str(folder / SAFETENSORS_FILE))
    return SAFETENSORS_FILE, "safetensors"


def _save_torchscript(
    torch: Any, model: Any, target: Path, example: Any, method: str, *, required: bool
) -> str | None:
    failures: list[str] = []
    program, used = None, ""
    # TorchScript is deprecated in favour of torch.export, but it is still the format that loads
    # without the Python class on every torch release we support; the warning is expected here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if method in ("auto", "script"):
            try:
                program, used = torch.jit.script(model), "script"
            except Exception as exc:
                failures.append(f"torch.jit.script: {type(exc).__name__}: {exc}")
        if program is None and method in ("auto", "trace"):
            if example is None:
                failures.append("torch.jit.trace: needs input_example=")
            else:
                try:
                    program, used = _trace(torch, model, example), "trace"
                except Exception as exc:
                    failures.append(f"torch.jit.trace: {type(exc).__name__}: {exc}")
    if program is None:
        message = f"cannot convert {class_path(type(model))} to TorchScript; " + "; ".join(failures)
        if required:
            raise ModelFormatError(message)
        warnings.warn(message + ". Loading will need model_class= or model_factory=.", stacklevel=4)
        return None
    with saving(model, "torchscript"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(program, str(target))
    return used


def _trace(torch: Any, model: Any, example: Any) -> Any:
    # Trace in eval mode so that dropout and batch-norm record inference behaviour.
    was_training = model.training
    model.eval()
    try:
        return torch.jit.trace(model, _as_inputs(torch, example))
    finally:
        model.train(was_training)


def _as_inputs(torch: Any, example: Any) -> tuple[Any, ...]:
    items = example if isinstance(example, tuple) else (example,)
    return tuple(
        torch.as_tensor(item) if not isinstance(item, torch.Tensor) else item for item in items
    )


def _load_torchscript(torch: Any, target: Path, map_location: Any) -> Any:
    with loading(target), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        program = torch.jit.load(str(target), map_location=map_location)
    return program.eval()


def _load_into(torch: Any, folder: Path, saved: SavedModel, module: Any, map_location: Any) -> Any:
    if not isinstance(module, torch.nn.Module):
        raise TypeError(
            f"model_class/model_factory returned {type(module).__name__}, not a torch.nn.Module"
        )
    state_name = saved.extra.get("state_dict_file")
    if state_name is None:
        # A torchscript-only folder still carries the weights, inside the program.
        script = model_file(folder, saved, TORCHSCRIPT_FILE)
        program = _load_torchscript(torch, script, map_location)
        with loading(script):
            module.load_state_dict(program.state_dict())
        return module.eval()
    target = model_file(folder, saved, state_name)
    if saved.extra.get("state_dict_format") == "safetensors":
        safetensors_torch = require("safetensors.torch", flavor=NAME, install=INSTALL)
        with loading(target):
            safetensors_torch.load_model(module, str(target), strict=True, device=str(map_location))
    else:
        with loading(target):
            state = torch.load(target, map_location=map_location, weights_only=True)
            module.load_state_dict(state)
    return module.eval()
