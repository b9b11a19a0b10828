"""Settings from a project's config file, with environment variables taking precedence.

The file is ``lineal.toml`` (keys at the top level) or ``pyproject.toml`` (under
``[tool.lineal]``), found by looking upward from the working directory, as git finds ``.git``;
the search stops at the filesystem root or the home folder. In each folder ``lineal.toml`` wins
over ``pyproject.toml``; a ``pyproject.toml`` without ``[tool.lineal]`` is passed over.

    uri = ".lineal"               # store location; a relative folder is relative to the file
    artifacts = "s3://bucket/p"   # where artifact bytes live
    project = "churn"             # default project
    capture_timeout = 30          # seconds
    capture = false               # do not capture code and environment for runs
    server = "https://lineal.example.com"

Each key has an environment variable that overrides it: ``LINEAL_URI``, ``LINEAL_ARTIFACTS``,
``LINEAL_PROJECT``, ``LINEAL_CAPTURE_TIMEOUT``, ``LINEAL_CAPTURE`` (0/false/no or 1/true/yes),
``LINEAL_SERVER``. Unknown keys are refused, so a typo is noticed rather than ignored.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidArgument

__all__ = ["Config", "find_upward", "load_config", "setting"]

#: Config keys and the environment variable that overrides each.
ENV_VARS = {
    "uri": "LINEAL_URI",
    "artifacts": "LINEAL_ARTIFACTS",
    "project": "LINEAL_PROJECT",
    "capture_timeout": "LINEAL_CAPTURE_TIMEOUT",
    "capture": "LINEAL_CAPTURE",
    "server": "LINEAL_SERVER",
}
_TYPES: dict[str, tuple[type, ...]] = {
    "uri": (str,), "artifacts": (str,), "project": (str,), "server": (str,),
    "capture_timeout": (int, float), "capture": (bool,),
}


@dataclass(frozen=True)
class Config:
    """The values of one config file (empty when there is none) and where it is."""

    values: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def find_upward(start: Path, test: Any) -> Path | None:
    """The first folder from ``start`` upward for which ``test(folder)`` is true; the search
    stops after the filesystem root or the home folder (a ``.lineal/`` in a parent of $HOME
    is someone else's)."""
    home = Path.home().resolve()
    for folder in (start, *start.parents):
        if test(folder):
            return folder
        if folder == home:
            return None
    return None


#: Parsed files by path, kept while the file's size and modification time stay the same: the
#: settings are read on every store opening and reference resolution.
_CACHE: dict[str, tuple[tuple[int, int], dict[str, Any] | None]] = {}


def _read(path: str, info: os.stat_result) -> dict[str, Any] | None:
    """The settings of the file ``path``, whose stat is ``info``."""
    stamp = (info.st_mtime_ns, info.st_size)
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    values = _parse(Path(path))
    _CACHE[path] = (stamp, values)
    return values


def _parse(path: Path) -> dict[str, Any] | None:
    import tomllib  # only where a config file is found: most commands read none

    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as error:
        raise InvalidArgument(f"{path} is not valid TOML: {error}",
                              hint="fix the file, or move it aside") from None
    except OSError:
        return None
    if path.name == "pyproject.toml":
        section = data.get("tool", {}).get("lineal")
        return section if isinstance(section, dict) else None
    return data


def _check(values: dict[str, Any], path: Path) -> dict[str, Any]:
    for key, value in values.items():
        if key not in _TYPES:
            raise InvalidArgument(f"{path}: unknown lineal setting {key!r}",
                                  hint="use " + ", ".join(sorted(_TYPES)))
        if isinstance(value, bool) and bool not in _TYPES[key] or not isinstance(value, _TYPES[key]):
            raise InvalidArgument(f"{path}: setting {key!r} has the wrong type ({value!r})",
                                  hint=f"give a {_TYPES[key][0].__name__}")
    return values


def load_config(cwd: Path | None = None) -> Config:
    """The config file found upward from ``cwd`` (see the module docstring).

    Read at every run start (the default project), so the walk is done on strings with one
    ``os.stat`` per candidate file: with pathlib it cost a third of a millisecond from a
    folder a few levels deep, a tenth of recording a whole run."""
    # os.getcwd() is absolute with symlinks resolved already: what resolve() would give.
    start = str(cwd.resolve()) if cwd is not None else os.getcwd()
    home = _home()
    folder = start
    while True:
        for name in ("lineal.toml", "pyproject.toml"):
            path = os.path.join(folder, name)
            try:
                info = os.stat(path)
            except (OSError, ValueError):
                continue
            if stat.S_ISREG(info.st_mode) and (values := _read(path, info)) is not None:
                return Config(_check(dict(values), Path(path)), Path(path))
        parent = os.path.dirname(folder)
        if folder == home or parent == folder:
            return Config()
        folder = parent


_HOMES: dict[str | None, str] = {}


def _home() -> str:
    """The home folder, resolved, as :func:`find_upward` compares it (cached per ``$HOME``)."""
    key = os.environ.get("HOME")
    home = _HOMES.get(key)
    if home is None:
        home = _HOMES[key] = str(Path.home().resolve())
    return home


def setting(key: str, cwd: Path | None = None) -> Any:
    """A setting's value: its environment variable if set (as text), else the config file's
    value, else None. Paths in ``uri`` and ``artifacts`` from the file are made absolute,
    relative to the file's folder."""
    env = os.environ.get(ENV_VARS[key], "").strip()
    if env:
        return env
    config = load_config(cwd)
    value = config.values.get(key)
    relative = value is not None and key in ("uri", "artifacts") and "://" not in value
    if relative and value is not None and config.path is not None:
        value = str((config.path.parent / Path(value).expanduser()).resolve())
    return value


def default_project(project: str | None = None) -> str:
    """``project`` if given, else ``LINEAL_PROJECT``, else the config file's, else ``default``."""
    return project or setting("project") or "default"


def capture_enabled() -> bool:
    """False when ``LINEAL_CAPTURE`` or the config file's ``capture`` turns capture off."""
    value = setting("capture")
    if isinstance(value, str):
        text = value.lower()
        if text in ("0", "false", "no", "off"):
            return False
        if text in ("1", "true", "yes", "on"):
            return True
        raise InvalidArgument(f"LINEAL_CAPTURE={value!r} is not a yes or no",
                              hint="set it to 0 or 1, or unset it")
    return value is not False
