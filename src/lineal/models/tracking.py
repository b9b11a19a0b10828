"""Models in the store: ``run.log_model`` and ``lineal.load_model``.

A model version is a directory artifact of kind ``model`` holding the flavor's files and
``lineal-model.json``; its metadata repeats the manifest (flavor, format, framework and version,
signature, whether it is pickle-based) plus a small input example, so listing and comparing
models never needs their bytes.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import ArtifactVersion, EdgeDirection
from ..errors import InvalidArgument
from ..store import Store, default_store

if TYPE_CHECKING:
    from ..tracking import ActiveRun

EXAMPLE_ROWS = 5
EXAMPLE_MAX_BYTES = 16_384


def log_model(
    run: ActiveRun,
    model: Any,
    name: str,
    *,
    flavor: str = "auto",
    format: str | None = None,  # noqa: A002 - the user-facing word
    input_example: Any = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    aliases: Iterable[str] = (),
    **options: Any,
) -> ArtifactVersion:
    """Serialise ``model`` in its framework's format and log it as a version of ``name``.

    ``flavor="auto"`` detects scikit-learn, PyTorch, ONNX, XGBoost, LightGBM, Keras, safetensors
    dicts, and any object with ``predict`` (pickled: loading it needs ``trust=True``). The
    signature is inferred from ``input_example``.
    """
    from . import save_model

    with tempfile.TemporaryDirectory(prefix="lineal-model-") as tmp:
        folder = Path(tmp) / "model"
        saved = save_model(model, folder, flavor=flavor, format=format,
                           input_example=input_example, **options)
        info = saved.to_dict()
        example = example_json(input_example)
        if example is not None:
            info["input_example"] = example
        return run.log_artifact(
            folder,
            name=name,
            kind="model",
            metadata={**info, **(metadata or {})},
            tags=tags,
            aliases=aliases,
        )


def example_json(example: Any) -> Any:
    """A few rows of the input example as JSON, or None when it is too large or opaque."""
    if example is None:
        return None
    try:
        if hasattr(example, "head") and hasattr(example, "to_dict"):  # pandas
            value: Any = example.head(EXAMPLE_ROWS).to_dict(orient="records")
        elif hasattr(example, "to_dicts"):  # polars
            value = example.head(EXAMPLE_ROWS).to_dicts()
        elif hasattr(example, "tolist"):  # numpy, torch
            value = example[:EXAMPLE_ROWS].tolist()
        else:
            value = example
        text = json.dumps(value, default=str)
    except Exception:  # an example we cannot render is simply not shown
        return None
    return json.loads(text) if len(text) <= EXAMPLE_MAX_BYTES else None


def resolve_model(ref: str | ArtifactVersion, store: Store, project: str | None = None) -> ArtifactVersion:
    """The model artifact version ``ref`` names, by the one reference rule
    (:mod:`lineal.resolve`): a registered model's version when a registered model has the name
    (``churn@prod``), else an artifact reference."""
    from ..resolve import resolve

    version = resolve(ref, store, project=project).require_artifact()
    if version.kind != "model":
        raise InvalidArgument(f"{version.ref} is a {version.kind}, not a model")
    return version


def load_model(
    ref: str | ArtifactVersion,
    *,
    trust: bool = False,
    store: Store | None = None,
    project: str | None = None,
    **options: Any,
) -> Any:
    """Load a logged model back into its framework, after checking its bytes against the digest.

    ``ref`` is an artifact reference (``churn-model@v3``) or a registry one (``churn@prod``).
    Pickle-based formats (joblib, pickle, generic Python models) can run arbitrary code when
    loaded, so they need ``trust=True``. Inside a run, the run records the model as an input.
    """
    from ..artifacts import local_path
    from ..tracking import active_run
    from . import load_model as load_folder

    run = active_run()
    store = store or (run.store if run else default_store())
    version = resolve_model(ref, store, project or (run.project if run else None))
    path = local_path(store, version)  # checked against the recorded digests
    model = load_folder(path, trust=trust, **options)
    if run is not None:
        store.metadata.add_edge(run.id, version.id, EdgeDirection.INPUT, "model", run.actor)
        run.inputs.append(version)
    return model
