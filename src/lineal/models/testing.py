"""Check that saved models load and predict in a fresh Python process.

A model that loads in the session that trained it can still fail elsewhere: a pickled class from
``__main__``, a custom layer nobody registered. :func:`predict_in_fresh_process` loads saved
folders in a new interpreter, with nothing but the packages installed, and returns what they
predict, so tests (lineal's and yours) can compare it with the original model's output.

    >>> [proba] = predict_in_fresh_process(                              # doctest: +SKIP
    ...     FreshLoad("out/iris", X_test, method="predict_proba"))
    >>> numpy.testing.assert_allclose(proba, model.predict_proba(X_test))  # doctest: +SKIP

Not imported by ``lineal.models``; it needs numpy (and pandas for DataFrame inputs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FreshLoad", "predict_in_fresh_process"]

# Runs in the child. Methods: a method name of the loaded object ("predict", "predict_proba"),
# "__call__" (torch modules and callables, under no_grad), "onnx" (an onnxruntime session on the
# folder, first output), "tensors" (the loaded dict itself, for safetensors).
_CHILD = r"""
import json, sys
import numpy as np
from lineal.models import load_model

def as_numpy(value):
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)

def run(job):
    if job["inputs"].endswith(".npy"):
        X = np.load(job["inputs"], allow_pickle=False)
    else:
        import pandas
        X = pandas.read_pickle(job["inputs"])
    method = job["method"]
    if method == "onnx":
        from lineal.models.flavors.onnx import inference_session
        session = inference_session(job["folder"])
        return as_numpy(session.run(None, {session.get_inputs()[0].name: X})[0])
    model = load_model(job["folder"], trust=job["trust"], **job["options"])
    if method == "tensors":
        return {name: as_numpy(tensor) for name, tensor in model.items()}
    if method == "__call__":
        if hasattr(model, "parameters"):
            import torch
            with torch.no_grad():
                return as_numpy(model(torch.from_numpy(X)))
        return as_numpy(model(X))
    if type(model).__module__.startswith("xgboost") and type(model).__name__ == "Booster":
        import xgboost
        X = xgboost.DMatrix(X)
    return as_numpy(getattr(model, method)(X))

for job in json.loads(sys.argv[1]):
    result = run(job)
    if isinstance(result, dict):
        np.savez(job["output"][: -len(".npy")] + ".npz", **result)
    else:
        np.save(job["output"], result, allow_pickle=False)
"""


@dataclass(frozen=True)
class FreshLoad:
    """One saved folder to load in the child process, and what to run on it.

    ``options`` go to ``load_model`` and must be JSON values (no classes: a fresh process
    has none of the caller's objects, which is the point).
    """

    folder: Path | str
    inputs: Any = None
    method: str = "predict"
    trust: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def predict_in_fresh_process(*loads: FreshLoad, timeout: float = 120.0) -> list[Any]:
    """Load each folder in one new interpreter, run its method on its inputs, return results.

    Results are numpy arrays, or dicts of arrays for ``method="tensors"``. Raises RuntimeError
    with the child's stderr when anything in it fails.
    """
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="lineal-fresh-") as scratch:
        jobs = [_write_job(Path(scratch), index, load) for index, load in enumerate(loads)]
        completed = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(jobs)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_child_environment(),
            cwd=scratch,  # so nothing importable from the caller's working directory leaks in
        )
        if completed.returncode != 0:
            raise RuntimeError(f"loading in a fresh process failed:\n{completed.stderr}")
        results: list[Any] = []
        for job in jobs:
            output = Path(job["output"])
            if output.with_suffix(".npz").exists():
                with np.load(output.with_suffix(".npz"), allow_pickle=False) as archive:
                    results.append({name: archive[name] for name in archive.files})
            else:
                results.append(np.load(output, allow_pickle=False))
        return results


def _write_job(scratch: Path, index: int, load: FreshLoad) -> dict[str, Any]:
    import numpy as np

    if isinstance(load.inputs, np.ndarray) or load.inputs is None:
        inputs = scratch / f"inputs-{index}.npy"
        np.save(inputs, np.asarray(load.inputs if load.inputs is not None else []))
    else:
        inputs = scratch / f"inputs-{index}.pkl"
        load.inputs.to_pickle(inputs)  # a DataFrame this process just built
    return {
        "folder": str(Path(load.folder).resolve()),
        "inputs": str(inputs),
        "method": load.method,
        "trust": load.trust,
        "options": load.options,
        "output": str(scratch / f"output-{index}.npy"),
    }


def _child_environment() -> dict[str, str]:
    # The child must import this very copy of lineal, installed or not (src layout in a checkout).
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env
