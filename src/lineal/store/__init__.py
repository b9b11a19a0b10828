"""Where lineal keeps things, and the ``Store`` pair (metadata + blobs) the SDK works on.

Resolution order for the location: an explicit ``uri`` argument, then ``LINEAL_URI``, then
``uri`` in the config file (``lineal.toml`` or ``[tool.lineal]`` in ``pyproject.toml``, see
:mod:`lineal.config`), then the nearest existing ``.lineal/`` folder looking upward from the
working directory (stopping at the filesystem root or the home folder, as git and DVC do); when
there is none, ``.lineal/`` at the root of the current git repository, else in the working
directory (where a write creates it).

Reading never creates a store: :func:`open_store_for_reading` (every read-only command and SDK
read) refuses a location with no store, naming it and how to create one; :func:`open_store`
(also :func:`open_store_for_writing`) creates the store on first use.

    /path/to/folder  or  file:///path      embedded: <folder>/lineal.db + <folder>/blobs/
    sqlite:////abs/path/meta.db            SQLite file; blobs in LINEAL_ARTIFACTS or beside it
    postgresql://user@host/db              PostgreSQL; blobs in LINEAL_ARTIFACTS (required)
    mysql://root@host/db                   MySQL/MariaDB; blobs in LINEAL_ARTIFACTS (required)
    http://host:8080  or  https://...      a lineal server (``lineal server``); LINEAL_TOKEN
                                           holds the credential when it runs with --auth

``LINEAL_ARTIFACTS`` (or ``artifacts=``) is a folder or an fsspec URL such as
``s3://bucket/prefix``; for S3-compatible servers set ``LINEAL_S3_ENDPOINT_URL`` too.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArgument, NotFound
from .base import BlobStore, MetadataStore

__all__ = [
    "Store",
    "default_location",
    "open_store",
    "open_store_for_reading",
    "open_store_for_writing",
    "resolve_location",
    "sqlite_file",
    "store_exists",
    "upgrade_database",
]

ENV_URI = "LINEAL_URI"
ENV_ARTIFACTS = "LINEAL_ARTIFACTS"
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


@dataclass
class Store:
    """The metadata store and the blob store of one lineal location."""

    metadata: MetadataStore
    blobs: BlobStore
    location: str

    def close(self) -> None:
        self.metadata.close()


@dataclass(frozen=True)
class Location:
    database_url: str
    artifacts: str
    display: str


def default_location(cwd: Path | None = None) -> Path:
    """The nearest existing ``.lineal/`` from ``cwd`` upward (stopping at the filesystem root or
    the home folder); else ``.lineal/`` at the root of the enclosing git repository, else in
    ``cwd``."""
    from ..config import find_upward

    start = (cwd or Path.cwd()).resolve()
    found = find_upward(start, lambda folder: (folder / ".lineal").is_dir())
    if found is not None:
        return found / ".lineal"
    git = find_upward(start, lambda folder: (folder / ".git").exists())
    return (git or start) / ".lineal"


def resolve_location(uri: str | os.PathLike[str] | None = None, artifacts: str | None = None) -> Location:
    """Turn a user-facing location into a database URL and an artifact root."""
    from ..config import setting

    text = str(uri) if uri is not None else setting("uri") or ""
    artifacts = artifacts or setting("artifacts") or None
    if not text:
        text = str(default_location())
    scheme, sep, rest = text.partition("://")
    if not sep or scheme == "file":
        folder = Path(rest if sep else text).expanduser().resolve()
        return Location(
            f"sqlite:///{folder / 'lineal.db'}", artifacts or str(folder / "blobs"), str(folder)
        )
    base = scheme.split("+")[0]
    if base in ("http", "https"):
        return Location(text, "", text)
    if base == "sqlite":
        db_path = Path(text.removeprefix("sqlite:///"))
        default_blobs = str(db_path.parent / "blobs") if rest and rest != "/" else None
        if artifacts is None and default_blobs is None:
            raise InvalidArgument("an in-memory SQLite store needs an artifact root", hint=f"set {ENV_ARTIFACTS}")
        return Location(text, artifacts or default_blobs or "", text)
    if base in _DRIVERS:
        url = text if "+" in scheme else _DRIVERS[base] + "://" + rest
        if artifacts is None:
            raise InvalidArgument(
                f"a {base} metadata store needs a place for artifact bytes",
                hint=f"set {ENV_ARTIFACTS} to a folder or to s3://bucket/prefix",
            )
        return Location(url, artifacts, text)
    raise InvalidArgument(
        f"unsupported store location {text!r}",
        hint="use a folder, sqlite:///path, postgresql://..., or mysql://...",
    )


def open_store(uri: str | os.PathLike[str] | None = None, artifacts: str | None = None) -> Store:
    """Open (creating if needed) the store at ``uri``; see the module docstring for the forms.

    This is the write path; to read, use :func:`open_store_for_reading`, which never creates.
    """
    from .blobs import open_blob_store
    from .sql import SqlMetadataStore

    location = resolve_location(uri, artifacts)
    if is_server_url(location.database_url):
        from .http import open_http_store

        return open_http_store(location.database_url)
    metadata = SqlMetadataStore(location.database_url)
    return Store(metadata, open_blob_store(location.artifacts), location.display)


def is_server_url(url: str) -> bool:
    """Whether a location is a lineal server (``http://`` or ``https://``)."""
    return url.split("://", 1)[0] in ("http", "https")


open_store_for_writing = open_store


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL; None for in-memory or server databases."""
    if not database_url.startswith("sqlite:"):
        return None
    path = database_url.removeprefix("sqlite:///")
    if not path or path == ":memory:" or path == database_url:
        return None
    return Path(path)


def store_exists(location: Location) -> bool:
    """Whether a store is at ``location``: its SQLite file exists, or the server database has
    the lineal schema (an empty PostgreSQL/MySQL database is not a store yet)."""
    if is_server_url(location.database_url):
        return True  # the server answers for its store; a request names what is missing
    db_file = sqlite_file(location.database_url)
    if db_file is not None:
        return db_file.exists()
    if not location.database_url.startswith(tuple(_DRIVERS.values())):
        return True  # in-memory SQLite: nothing to find, nothing left behind
    from .sql.opening import has_lineal_schema

    return has_lineal_schema(location.database_url)


def open_store_for_reading(uri: str | os.PathLike[str] | None = None,
                           artifacts: str | None = None) -> Store:
    """Open the existing store at ``uri`` for reading; NotFound (nothing created) if there is
    none, so a mistyped location is noticed instead of answered from an empty store."""
    location = resolve_location(uri, artifacts)
    if not store_exists(location):
        raise NotFound(
            f"no lineal store at {location.display}",
            hint="create one with `lineal store init` (or any write: a run, a logged artifact), "
            "or point --uri / LINEAL_URI at an existing store",
        )
    return open_store(uri, artifacts)


_default: Store | None = None
_default_key: tuple[str | None, str | None] | None = None
_default_lock = threading.Lock()


def default_store(*, write: bool = False) -> Store:
    """The process-wide store for the current ``LINEAL_URI``; reopened when it changes.

    SDK reads call it as is: the read path, so a location with no store raises NotFound and
    nothing is created. What may be the first write to a new store (starting a run, an import,
    the registry) passes ``write=True``.
    """
    global _default, _default_key
    key = (os.environ.get(ENV_URI), os.environ.get(ENV_ARTIFACTS))
    with _default_lock:
        if _default is None or key != _default_key:
            opened = open_store() if write else open_store_for_reading()
            if _default is not None:
                _default.close()
            _default = opened
            _default_key = key
        return _default


def set_default_store(store: Store | None) -> None:
    """Make ``store`` the one the module-level SDK functions use (tests, notebooks)."""
    global _default, _default_key
    with _default_lock:
        _default = store
        _default_key = (os.environ.get(ENV_URI), os.environ.get(ENV_ARTIFACTS)) if store else None


def upgrade_database(
    uri: str | os.PathLike[str] | None = None,
) -> tuple[str | None, str | None, str]:
    """Migrate the metadata database named by ``uri`` (as for :func:`open_store`) to the schema
    this lineal needs (``lineal store upgrade``); returns ``(revision before, revision after,
    URL without password)``.

    Raises SchemaOutdated if the database is newer than this lineal, NotFound for a local
    store that does not exist (nothing is created).
    """
    from .sql.store import upgrade_database as upgrade

    # Only the database matters here; a placeholder artifact root keeps resolve_location from
    # insisting on LINEAL_ARTIFACTS for PostgreSQL/MySQL, where it would be irrelevant.
    location = resolve_location(uri, "unused://")
    db_file = sqlite_file(location.database_url)
    if db_file is not None and not db_file.exists():
        raise NotFound(f"no lineal store at {location.display}", hint="check --uri")
    return upgrade(location.database_url)
