"""scikit-learn estimators and pipelines: skops by default, joblib or pickle on request.

Files: ``model.skops`` | ``model.joblib`` | ``model.pkl``, plus ``model.onnx`` with
``export_onnx=True`` (needs skl2onnx and an ``input_example``).

Options when saving:
    export_onnx (bool): also convert to ONNX with skl2onnx. float64 inputs are converted as
        float32, the type ONNX runtimes support for every operator, so feed float32 to the session.
    onnx_options (dict): skl2onnx converter options; default disables ZipMap on the final
        classifier so that probabilities come out as a tensor instead of a list of dicts.
    onnx_target_opset (int): ONNX opset to target.
"""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Any

from ..errors import ModelFormatError, UntrustedModelError
from ..frameworks import class_path, has_base, require
from ..saved_model import SavedModel
from .base import example_signature, loading, model_file, require_trust, saving

NAME = "sklearn"
FRAMEWORK = "sklearn"
INSTALL = "lineal[sklearn]"
FORMATS: tuple[str, ...] = ("skops", "joblib", "pickle")
PICKLE_FORMATS = frozenset({"joblib", "pickle"})
_FILES = {"skops": "model.skops", "joblib": "model.joblib", "pickle": "model.pkl"}
KNOWN_FILES = {file: fmt for fmt, file in _FILES.items()}
ONNX_FILE = "model.onnx"

# skops refuses, by default, some types that fitted scikit-learn estimators hold (the Tree inside
# every forest, kernels, loss objects...). Those are trusted here by exact name, beside the public
# estimator classes (those of ``sklearn.utils.all_estimators()``): never a whole package, because numpy
# and scipy also hold classes with side effects (``numpy.lib._datasource.DataSource`` deletes a
# folder of the file's choosing when it is garbage collected). The list was derived by fitting
# every estimator scikit-learn ships with its defaults, plus the documented non-default options
# (distance metrics, kernels, losses), and asking skops which types it reports as untrusted.
# Functions are listed only when they are scikit-learn's own defaults and compute on data.
_LOSSES = ("HalfSquaredError", "AbsoluteError", "PinballLoss", "HuberLoss", "HalfPoissonLoss",
           "HalfGammaLoss", "HalfTweedieLoss", "HalfTweedieLossIdentity", "HalfBinomialLoss",
           "HalfMultinomialLoss", "ExponentialLoss")
_KERNELS = ("CompoundKernel", "Sum", "Product", "Exponentiation", "ConstantKernel", "WhiteKernel",
            "RBF", "Matern", "RationalQuadratic", "ExpSineSquared", "DotProduct", "PairwiseKernel",
            "Hyperparameter")
_METRICS = ("Euclidean", "SEuclidean", "Manhattan", "Chebyshev", "Minkowski", "Mahalanobis",
            "Hamming", "Canberra", "BrayCurtis", "Jaccard", "Matching", "Dice", "Kulsinski",
            "RogersTanimoto", "RussellRao", "SokalMichener", "SokalSneath", "Haversine")
TRUSTED_TYPES: frozenset[str] = frozenset({
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.cluster._bisect_k_means._BisectingTree",
    "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
    "sklearn.linear_model._sgd_fast.Hinge",
    "sklearn.linear_model._sgd_fast.ModifiedHuber",
    "sklearn.linear_model._sgd_fast.EpsilonInsensitive",
    "sklearn.linear_model._sgd_fast.SquaredEpsilonInsensitive",
    "sklearn.linear_model._sgd_fast.SquaredHinge",
    *(f"sklearn._loss.loss.{name}" for name in _LOSSES),
    *(f"sklearn.gaussian_process.kernels.{name}" for name in _KERNELS),
    *(f"sklearn.metrics._dist_metrics.{name}Distance{bits}"
      for name in _METRICS for bits in (64, 32)),
    "numpy.dtype", "numpy.ndarray", "numpy.ma.core.MaskedArray",
    "numpy.random.mtrand.RandomState", "numpy.random._generator.Generator",
    "numpy.random._pcg64.PCG64", "numpy.random._mt19937.MT19937",
    "numpy.random.bit_generator.SeedSequence",
    "scipy.interpolate._bsplines.BSpline",
    *(f"scipy.sparse._{kind}.{kind}_{shape}" for kind in ("csr", "csc", "coo", "lil", "dok", "bsr", "dia")
      for shape in ("matrix", "array")),
    # Functions that are scikit-learn defaults (score_func, pooling_func, the k-means kernels).
    "numpy.mean",
    "sklearn.feature_selection._univariate_selection.f_classif",
    "sklearn.feature_selection._univariate_selection.f_regression",
    "sklearn.feature_selection._univariate_selection.chi2",
    "sklearn.cluster._kmeans._kmeans_single_lloyd",
    "sklearn.cluster._kmeans._kmeans_single_elkan",
})


def matches(model: Any) -> bool:
    """Any object whose class or a base class comes from scikit-learn."""
    return has_base(model, "sklearn")


def save(
    model: Any, folder: Path, fmt: str, input_example: Any, options: dict[str, Any]
) -> SavedModel:
    """Write the estimator as ``fmt``, and optionally an ONNX export beside it."""
    sklearn = require("sklearn", flavor=NAME, install=INSTALL)
    export_onnx = bool(options.pop("export_onnx", False))
    onnx_options = options.pop("onnx_options", None)
    onnx_opset = options.pop("onnx_target_opset", None)
    target = folder / _FILES[fmt]
    extra: dict[str, Any] = {"class": class_path(type(model))}
    with saving(model, fmt):
        if fmt == "skops":
            skops_io = require("skops.io", flavor=NAME, install=INSTALL)
            skops_io.dump(model, target)
            canonical_skops(target)
            extra["skops_version"] = require("skops", flavor=NAME, install=INSTALL).__version__
        elif fmt == "joblib":
            require("joblib", flavor=NAME, install=INSTALL).dump(model, target)
        else:
            with target.open("wb") as handle:
                pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
    files = [target.name]
    if export_onnx:
        extra["onnx"] = _export_onnx(
            model, folder / ONNX_FILE, input_example, onnx_options, onnx_opset
        )
        files.append(ONNX_FILE)
    return SavedModel(
        flavor=NAME,
        format=fmt,
        framework=FRAMEWORK,
        framework_version=sklearn.__version__,
        files=files,
        pickle_based=fmt in PICKLE_FORMATS,
        extra=extra,
    )


def canonical_skops(path: Path) -> None:
    """Rewrite a skops file so that the same model always gives the same bytes.

    skops names array members and ``__id__`` fields after ``id()`` of the objects and stamps
    members with the current time, so every save of one model differs: no dedup, and a
    reproduced run could never match its recorded digest. Ids are renumbered in schema order
    (consistently, so shared references stay shared) and timestamps fixed; the loader only
    uses ids to match references within the file.
    """
    import json
    import zipfile

    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
        members = {name: archive.read(name) for name in archive.namelist() if name != "schema.json"}
    ids: dict[int, int] = {}
    files: dict[str, str] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int):
                    value = ids.setdefault(value, len(ids) + 1)
                elif key == "file" and isinstance(value, str) and value in members:
                    value = files.setdefault(value, f"{len(files)}{Path(value).suffix}")
                else:
                    value = walk(value)
                out[key] = value
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    schema = walk(schema)
    if set(files) != set(members):  # a member the schema does not name: leave the file alone
        return
    tmp = path.with_name(path.name + ".canonical")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for old, new in sorted(files.items(), key=lambda item: item[1]):
            archive.writestr(zipfile.ZipInfo(new, date_time=(1980, 1, 1, 0, 0, 0)), members[old])
        text = json.dumps(schema, indent=2).encode()
        archive.writestr(zipfile.ZipInfo("schema.json", date_time=(1980, 1, 1, 0, 0, 0)), text)
    tmp.replace(path)


def load(folder: Path, saved: SavedModel, *, trust: bool, options: dict[str, Any]) -> Any:
    """Rebuild the estimator; skops files load without trust when every type is vouched for."""
    target = model_file(folder, saved)
    if saved.format in PICKLE_FORMATS:
        require_trust(target, saved.format, trust)
        with loading(target):
            if saved.format == "joblib":
                return require("joblib", flavor=NAME, install=INSTALL).load(target)
            with target.open("rb") as handle:
                return pickle.load(handle)
    if saved.format != "skops":
        raise ModelFormatError(f"unknown {NAME} format {saved.format!r} in {folder}")
    skops_io = require("skops.io", flavor=NAME, install=INSTALL)
    with loading(target):
        untrusted = skops_io.get_untrusted_types(file=target)
    rejected = sorted(n for n in untrusted if n not in TRUSTED_TYPES and not _public_estimator(n))
    if rejected and not trust:
        raise UntrustedModelError(
            f"refusing to load {target}: it references {', '.join(rejected)}, which are not "
            "scikit-learn estimators nor types lineal trusts in a fitted estimator. Loading "
            "would import and call them, which can execute arbitrary code. "
            "Pass trust=True only for models you trust."
        )
    with loading(target):
        return skops_io.load(target, trusted=list(untrusted))


def signature(model: Any, input_example: Any) -> dict[str, Any] | None:
    """Inputs from the example, outputs from ``model.predict`` on it."""
    run = (lambda: model.predict(input_example)) if hasattr(model, "predict") else None
    return example_signature(input_example, run)


def _public_estimator(type_name: str) -> bool:
    """Whether ``type_name`` is one of ``sklearn.utils.all_estimators()``: a concrete
    ``BaseEstimator`` subclass with a public name, outside tests and vendored code. Checked per
    name because listing them all imports every scikit-learn module (seconds)."""
    import inspect

    module_name, _, attribute = type_name.rpartition(".")
    parts = module_name.split(".")
    if parts[0] != "sklearn" or attribute.startswith("_"):
        return False
    if any(part in ("tests", "externals", "_testing", "_build_utils") for part in parts):
        return False
    from sklearn.base import BaseEstimator

    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return False
    return (isinstance(found, type) and issubclass(found, BaseEstimator)
            and not inspect.isabstract(found))


def _export_onnx(
    model: Any, target: Path, input_example: Any, onnx_options: dict[Any, Any] | None, opset: Any
) -> dict[str, Any]:
    if input_example is None:
        raise ModelFormatError(
            "export_onnx=True needs input_example= to derive the ONNX input types"
        )
    skl2onnx = require("skl2onnx", flavor=NAME, install="lineal[onnx]")
    example, cast = _float32_example(input_example)
    options = onnx_options if onnx_options is not None else _tensor_probabilities(model)
    with saving(model, "onnx"):
        proto = skl2onnx.to_onnx(model, example, options=options, target_opset=opset)
        target.write_bytes(proto.SerializeToString())
    return {
        "file": target.name,
        "skl2onnx_version": skl2onnx.__version__,
        "inputs": [graph_input.name for graph_input in proto.graph.input],
        "outputs": [graph_output.name for graph_output in proto.graph.output],
        "opset": {entry.domain or "ai.onnx": entry.version for entry in proto.opset_import},
        "float64_inputs_as_float32": cast,
    }


def _float32_example(example: Any) -> tuple[Any, bool]:
    import numpy as np  # a dependency of scikit-learn, so present whenever this runs

    if isinstance(example, np.ndarray) and example.dtype == np.float64:
        return example.astype(np.float32), True
    if type(example).__name__ == "DataFrame" and hasattr(example, "select_dtypes"):
        wide = example.select_dtypes(include="float64").columns
        if len(wide):
            return example.astype({column: np.float32 for column in wide}), True
    return example, False


def _tensor_probabilities(model: Any) -> dict[Any, Any] | None:
    from sklearn.base import is_classifier

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return {id(final): {"zipmap": False}} if is_classifier(final) else None
