"""The manifest written beside every saved model: what is in the folder and how to load it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelFormatError

__all__ = ["MANIFEST_NAME", "SavedModel", "read_manifest", "write_manifest"]

MANIFEST_NAME = "lineal-model.json"

# Bumped only if a future manifest cannot be read by this code; readers refuse newer versions
# instead of guessing, because a wrong guess about a pickle-based file is a security question.
MANIFEST_VERSION = 1

_REQUIRED = ("flavor", "format", "framework", "framework_version", "files", "pickle_based")


@dataclass(frozen=True)
class SavedModel:
    """Description of one saved model folder, stored as ``lineal-model.json`` inside it.

    ``files`` are paths relative to the folder. ``pickle_based`` is True when loading the model
    can execute arbitrary code, which is why such models only load with ``trust=True``.
    ``extra`` holds flavor-specific details (class name to rebuild, ONNX side export, ...).
    """

    flavor: str
    format: str
    framework: str
    framework_version: str
    files: list[str]
    pickle_based: bool
    signature: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form written to ``lineal-model.json``."""
        data = asdict(self)
        data["manifest_version"] = MANIFEST_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SavedModel:
        """Rebuild from :meth:`to_dict` output; raises ModelFormatError on a malformed dict."""
        if not isinstance(data, dict):
            raise ModelFormatError(
                f"model manifest must be a JSON object, got {type(data).__name__}"
            )
        missing = [key for key in _REQUIRED if key not in data]
        if missing:
            raise ModelFormatError(f"model manifest is missing {', '.join(missing)}")
        version = data.get("manifest_version", MANIFEST_VERSION)
        if not isinstance(version, int) or version > MANIFEST_VERSION:
            raise ModelFormatError(
                f"model manifest version {version!r} is newer than this lineal understands "
                f"({MANIFEST_VERSION}); upgrade lineal to load it"
            )
        files = data["files"]
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ModelFormatError("model manifest 'files' must be a list of relative paths")
        return cls(
            flavor=str(data["flavor"]),
            format=str(data["format"]),
            framework=str(data["framework"]),
            framework_version=str(data["framework_version"]),
            files=list(files),
            pickle_based=bool(data["pickle_based"]),
            signature=data.get("signature"),
            extra=dict(data.get("extra") or {}),
        )


def write_manifest(folder: Path, saved: SavedModel) -> Path:
    """Write ``lineal-model.json`` into ``folder`` and return its path."""
    target = folder / MANIFEST_NAME
    target.write_text(
        json.dumps(saved.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return target


def read_manifest(folder: Path) -> SavedModel:
    """Read and validate ``lineal-model.json`` from ``folder``."""
    source = folder / MANIFEST_NAME
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelFormatError(
            f"{source} not found: {folder} was not written by lineal.models.save_model "
            "(pass flavor_hint= to load a folder without a manifest)"
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"cannot read model manifest {source}: {exc}") from exc
    saved = SavedModel.from_dict(data)
    for name in saved.files:
        # A manifest that points outside its folder could make a loader read any file on disk.
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ModelFormatError(
                f"model manifest {source} lists a path outside the folder: {name}"
            )
    return saved
