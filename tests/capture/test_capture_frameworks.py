"""Framework versions come from sys.modules only; capture never imports a framework."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import lineal.capture
from lineal.capture import capture
from lineal.capture._packages import FRAMEWORK_MODULES, imported_frameworks

SRC = str(Path(lineal.capture.__file__).resolve().parents[2])


def run_child(code: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_fresh_process_reports_no_framework_and_imports_none() -> None:
    report = run_child(
        "import json, sys\n"
        "from lineal.capture import capture\n"
        "from lineal.capture._packages import FRAMEWORK_MODULES\n"
        "c = capture(timeout=10)\n"
        "print(json.dumps({'frameworks': c.frameworks,"
        " 'loaded': [m for m in FRAMEWORK_MODULES if m in sys.modules]}))\n"
    )
    assert report == {"frameworks": {}, "loaded": []}


@pytest.mark.skipif(importlib.util.find_spec("numpy") is None, reason="numpy is not installed")
def test_imported_numpy_is_reported_with_its_version() -> None:
    report = run_child(
        "import json, numpy\n"
        "from lineal.capture import capture\n"
        "print(json.dumps({'frameworks': capture(timeout=10).frameworks,"
        " 'numpy': numpy.__version__}))\n"
    )
    assert report["frameworks"]["numpy"] == report["numpy"]
    assert "torch" not in report["frameworks"]


def test_module_in_sys_modules_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("catboost")
    fake.__version__ = "1.2.5"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "catboost", fake)
    assert capture(timeout=10, include_packages=False).frameworks["catboost"] == "1.2.5"


def test_version_falls_back_to_the_installed_distribution() -> None:
    modules = {"sklearn": types.ModuleType("sklearn"), "polars": types.ModuleType("polars")}
    found = imported_frameworks(modules, {"scikit-learn": "1.5.0"})
    assert found == {"sklearn": "1.5.0", "polars": "unknown"}


def test_only_listed_frameworks_are_reported() -> None:
    modules = {"json": json, "numpy-not-really": types.ModuleType("x")}
    assert imported_frameworks(modules, None) == {}
    assert "sklearn" in FRAMEWORK_MODULES and "torch" in FRAMEWORK_MODULES


def test_lazy_module_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    source = tmp_path / "lazy_onnx.py"
    source.write_text(f"open({str(marker)!r}, 'w').close()\n__version__ = '9.9'\n")
    spec = importlib.util.spec_from_file_location("onnx", source)
    assert spec is not None and spec.loader is not None
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    found = imported_frameworks({"onnx": module}, None)
    assert not marker.exists()
    assert found == {"onnx": "unknown"}
