"""Installed distributions (what ``pip freeze`` shows) and already-imported ML frameworks.

The package scan reads only the header of each distribution's METADATA file:
``Distribution.metadata`` runs the full e-mail parser over long descriptions and
costs around a millisecond per package, which is most of a second in a large
environment. The result is cached per process for a given ``sys.path``, since
installed packages do not change during a run (a ``pip install`` from inside the
run is the exception, and is not noticed).

Editable installs (``pip install -e``) are listed with their version like any
other package, and also under ``editable`` with their source location: their
version number says nothing about the code they contain, so a lineage reader
needs to know to look at the git fields instead.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._runner import ProcessOnce

if TYPE_CHECKING:
    from importlib.metadata import Distribution

#: Modules whose version ``capture()`` reports when, and only when, they are already imported.
FRAMEWORK_MODULES: tuple[str, ...] = (
    "torch",
    "tensorflow",
    "keras",
    "jax",
    "sklearn",
    "xgboost",
    "lightgbm",
    "onnx",
    "onnxruntime",
    "transformers",
    "pandas",
    "polars",
    "numpy",
    "pyarrow",
    "catboost",
    "statsmodels",
)
# Where the import name differs from the distribution name.
_DISTRIBUTION_OF_MODULE = {"sklearn": "scikit-learn"}

_NAME_SEPARATORS = re.compile(r"[-_.]+")


@dataclass(frozen=True)
class InstalledPackages:
    """Result of one scan: ``versions`` by normalized name, and editable installs' locations."""

    versions: dict[str, str]
    editable: dict[str, str]


_scan_cache: ProcessOnce[InstalledPackages] = ProcessOnce()


def normalize_name(name: str) -> str:
    """PEP 503 normalization: ``Foo_Bar.baz`` and ``foo-bar-baz`` are the same project."""
    return _NAME_SEPARATORS.sub("-", name).lower()


def probe_packages() -> InstalledPackages:
    """Every installed distribution and its version, sorted by normalized name."""
    return _scan_cache.get(tuple(sys.path), _scan)


def clear_package_cache() -> None:
    """Forget the cached scan, so the next probe reads the disk again."""
    _scan_cache.clear()


def _scan() -> InstalledPackages:
    # Imported here because importlib.metadata costs tens of milliseconds to
    # import; this runs in a probe thread, overlapped with the git subprocesses.
    import importlib.metadata

    versions: dict[str, str] = {}
    editable: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name, version = _name_and_version(dist)
        if not name or version is None:
            continue
        key = normalize_name(name)
        # The first one found on sys.path is the one Python imports, as pip freeze reports it.
        if key in versions:
            continue
        versions[key] = version
        location = _editable_location(dist)
        if location is not None:
            editable[key] = location
    return InstalledPackages(dict(sorted(versions.items())), dict(sorted(editable.items())))


def _name_and_version(dist: Distribution) -> tuple[str | None, str | None]:
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name, version = _parse_metadata_header(text.splitlines())
    if name is None or version is None:
        # Odd or hand-made metadata: let the full parser have a go.
        name = name or dist.metadata["Name"]
        version = version or dist.version
    return name, version


def _parse_metadata_header(lines: Iterable[str]) -> tuple[str | None, str | None]:
    name = version = None
    for line in lines:
        if not line:  # the blank line ends the headers; the long description follows
            break
        field, sep, value = line.partition(":")
        if not sep:
            continue
        field = field.strip().lower()
        if field == "name" and name is None:
            name = value.strip()
        elif field == "version" and version is None:
            version = value.strip()
        if name is not None and version is not None:
            break
    return name, version


def _editable_location(dist: Distribution) -> str | None:
    raw = dist.read_text("direct_url.json")
    if not raw:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    if isinstance(info, dict) and (info.get("dir_info") or {}).get("editable"):
        url = info.get("url")
        return str(url) if url else "unknown"
    return None


def imported_frameworks(
    modules: Mapping[str, Any], installed: Mapping[str, str] | None
) -> dict[str, str]:
    """Versions of the ML frameworks present in ``modules`` (normally ``sys.modules``).

    Nothing is imported to find out. The version is read from the module's own
    ``__dict__``, bypassing attribute access, because a lazily-loaded module
    (``importlib.util.LazyLoader``) would execute itself on the first attribute
    read. Without a ``__version__`` there, the installed distribution's version
    is used, and "unknown" when that is not available either.
    """
    found: dict[str, str] = {}
    for name in FRAMEWORK_MODULES:
        module = modules.get(name)
        if module is None:
            continue
        version = _own_version(module)
        if version is None and installed is not None:
            version = installed.get(normalize_name(_DISTRIBUTION_OF_MODULE.get(name, name)))
        found[name] = version or "unknown"
    return found


def _own_version(module: object) -> str | None:
    try:
        namespace = object.__getattribute__(module, "__dict__")
    except AttributeError:
        return None
    if not isinstance(namespace, dict):
        return None
    version = namespace.get("__version__")
    if version is None:
        return None
    # torch's TorchVersion and similar are str subclasses or objects with a str form.
    return str(version) if isinstance(version, str) else _safe_str(version)


def _safe_str(value: object) -> str | None:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not cost us the other frameworks
        return None
