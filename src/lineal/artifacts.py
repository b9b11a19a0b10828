"""Artifact operations shared by the SDK and the CLI: log content as a version, get a local path
to a version's content, download it, and record captured code and environments."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .content import HashCache, Progress, materialize, reference_digest, store_path
from .entities import ArtifactVersion, EdgeDirection, Storage
from .errors import InvalidArgument, NotFound
from .refs import validate_name
from .store import Store
from .store.base import NewArtifactVersion

if TYPE_CHECKING:
    from .capture import CapturedEnvironment
    from .tracking import ActiveRun

_caches: dict[str, HashCache] = {}


def hash_cache(store: Store) -> HashCache:
    """The per-store hash cache (in the store folder for local stores, else the user cache)."""
    key = store.blobs.root_uri
    if key not in _caches:
        if key.startswith("file://"):
            folder = Path(key.removeprefix("file://")).parent / "cache"
        else:
            folder = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lineal"
        _caches[key] = HashCache(folder / "hashes.db")
    return _caches[key]


def default_name(path: str | Path) -> str:
    base = Path(str(path).rstrip("/")).name or "artifact"
    name = re.sub(r"[^A-Za-z0-9._-]", "-", base).lstrip("._-")
    return name[:128] or "artifact"


def log_content(
    store: Store,
    path: str | Path,
    *,
    name: str | None,
    project: str,
    kind: str,
    metadata: Mapping[str, Any] | None,
    tags: Mapping[str, str] | None,
    aliases: Iterable[str],
    reference: bool,
    producer_run_id: str | None,
    actor: str,
    progress: Progress | None = None,
    role: str = "output",
) -> ArtifactVersion:
    """Hash and store (or reference) ``path`` and record it as a version of ``name``, produced
    by ``producer_run_id`` (if any) through one output edge with ``role``.

    The bytes are stored before the version is recorded, so a crash in between leaves at most an
    unreferenced blob, never a version whose bytes are missing.
    """
    name = validate_name(default_name(path) if name is None else name, "artifact name")
    validate_name(kind, "artifact kind")
    validate_name(role, "role")  # before any bytes are stored
    text = str(path)
    if reference:
        digest, size, uri, extra = reference_digest(text, hash_cache(store))
        storage, is_dir = Storage.REFERENCE, bool(extra.get("files"))
    else:
        if "://" in text and not text.startswith("file://"):
            raise InvalidArgument(
                f"{text} is a remote URL", hint="pass reference=True to record it without copying"
            )
        stored = store_path(store.blobs, Path(text.removeprefix("file://")), hash_cache(store), progress)
        digest, size, uri, is_dir = stored.digest, stored.size, stored.uri, stored.is_directory
        storage, extra = Storage.STORED, {"files": stored.file_count} if is_dir else {}
    spec = NewArtifactVersion(
        project=project,
        name=name,
        kind=kind,
        digest=digest,
        uri=uri,
        size=size,
        storage=storage,
        is_directory=is_dir,
        metadata={**extra, **(metadata or {})},
        tags=dict(tags or {}),
        aliases=tuple(aliases),
        producer_run_id=producer_run_id,
        producer_role=role,
    )
    version, created = store.metadata.create_artifact_version(spec, actor)
    if not created and producer_run_id is not None:
        # Identical content logged again: the run still produced it.
        store.metadata.add_edge(producer_run_id, version.id, EdgeDirection.OUTPUT, role, actor)
    return version


def local_path(store: Store, version: ArtifactVersion) -> Path:
    """A local path to a version's content, fetching it into the cache only when needed.

    Stored files in a local blob store are returned in place (read-only by convention: they are
    content-addressed); directories and remote blobs are materialised once per digest.
    """
    if version.storage is Storage.REFERENCE:
        if version.uri.startswith("file://"):
            path = Path(version.uri.removeprefix("file://"))
            if not path.exists():
                raise NotFound(f"referenced content of {version.ref} is gone: {path}")
            return path
        return Path(_download_reference(version))
    root = store.blobs.root_uri
    if root.startswith("file://") and not version.is_directory:
        return Path(store.blobs.uri(version.digest).removeprefix("file://"))
    cache_root = (
        Path(root.removeprefix("file://")).parent / "cache" / "content"
        if root.startswith("file://")
        else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lineal" / "content"
    )
    target = cache_root / version.digest.replace(":", "-")
    if not version.is_directory:
        target = target / version.name
    if target.exists():
        return target
    tmp = target.with_name(target.name + f".part-{os.getpid()}")
    materialize(store.blobs, version.digest, version.is_directory, tmp)
    try:
        os.replace(tmp, target)
    except OSError:
        if not target.exists():  # another process won the race: theirs is identical
            raise
    return target


def verified_path(store: Store, version: ArtifactVersion) -> Path:
    """``local_path``, after re-hashing the content against the recorded digests."""
    from .errors import IntegrityError
    from .store.blobs.local import hash_file

    path = local_path(store, version)
    if version.storage is Storage.REFERENCE:
        return path
    if not version.is_directory:
        digest, _ = hash_file(path)
        if digest != version.digest:
            raise IntegrityError(f"{version.ref}: content at {path} has digest {digest}, "
                                 f"recorded {version.digest}", hint="run `lineal verify`")
        return path
    if _directory_digest(path) == version.digest:
        return path
    # The cached copy was modified: materialise it afresh from the blob store, then re-check.
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    path = local_path(store, version)
    if _directory_digest(path) != version.digest:
        raise IntegrityError(f"{version.ref}: the stored files do not match the recorded "
                             f"digest {version.digest}", hint="run `lineal verify`")
    return path


def _directory_digest(path: Path) -> str:
    import hashlib

    from .content import manifest_bytes
    from .store.blobs.local import hash_file

    entries = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest, size = hash_file(file)
        entries.append({"path": file.relative_to(path).as_posix(), "digest": digest, "size": size})
    return "sha256:" + hashlib.sha256(manifest_bytes(entries)).hexdigest()


def _download_reference(version: ArtifactVersion) -> str:
    if "://" not in version.uri:
        # e.g. ``dataset:sha256...``: in-memory data recorded by reference. Its fingerprint is
        # known, its bytes never were: there is nothing to fetch.
        raise NotFound(
            f"{version.ref} was recorded by reference to in-memory data ({version.uri}); "
            "lineal holds no copy of its bytes",
            hint="log the data with store_bytes=True (or from a file) to keep a copy lineal can return",
        )
    from .store.blobs.remote import filesystem, raise_backend_error

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lineal" / "refs"
    target = cache / version.digest.replace(":", "-") / version.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = str(target) + f".part-{os.getpid()}"
        try:
            fs, key = filesystem(version.uri)
            fs.get(key, partial)
        except FileNotFoundError as exc:
            raise NotFound(f"referenced content of {version.ref} is gone: {version.uri}") from exc
        except Exception as exc:
            raise_backend_error(exc, f"cannot fetch {version.uri} (referenced by {version.ref})")
        os.replace(partial, target)
    return str(target)


def download(
    store: Store, version: ArtifactVersion, dest: Path, progress: Progress | None = None
) -> Path:
    """Copy a version's content to ``dest`` (a file path, or a folder for directories)."""
    if version.storage is Storage.REFERENCE:
        source = local_path(store, version)
        import shutil

        if source.is_dir():
            shutil.copytree(source, dest, dirs_exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
        return dest
    return materialize(store.blobs, version.digest, version.is_directory, dest, progress)


def record_capture(handle: ActiveRun, captured: CapturedEnvironment) -> None:
    """Store captured code and environment as deduplicated artifacts the run consumes."""
    from .store.sql.database import canonical_json

    store, project, actor = handle.store, handle.project, handle.actor
    # Where and by whom it ran is about the run, not the environment or the code: kept out of
    # the artifacts so identical environments on many hosts (pods, CI runners) and identical
    # code in many clones deduplicate to one version each.
    environment = dict(captured.environment)
    host = environment.pop("host", None) or {}
    code = dict(captured.code)
    git = dict(code.get("git") or {})
    repo_root = git.pop("root", None)
    if git:
        code["git"] = git
    pieces = (
        ("environment", "environment", environment, "environment"),
        ("code", "code", code, "code"),
    )
    for name, kind, body, role in pieces:
        blob = store.blobs.put_bytes(canonical_json(body).encode())
        spec = NewArtifactVersion(
            project=project,
            name=name,
            kind=kind,
            digest=blob.digest,
            uri=blob.uri,
            size=blob.size,
            storage=Storage.STORED,
            metadata=body,
        )
        version, _ = store.metadata.create_artifact_version(spec, actor)
        store.metadata.add_edge(handle.id, version.id, EdgeDirection.INPUT, role, actor)
        handle.inputs.append(version)
    tags = {f"lineal.framework.{k}": v for k, v in captured.frameworks.items()}
    for key in ("hostname", "user"):
        if host.get(key):
            tags[f"lineal.{key}"] = str(host[key])
    if repo_root:
        tags["lineal.git.root"] = str(repo_root)
    if git.get("commit"):
        tags["lineal.git.commit"] = git["commit"]
        tags["lineal.git.dirty"] = str(bool(git.get("dirty"))).lower()
    if captured.probe_errors:
        tags["lineal.capture.errors"] = ", ".join(sorted(captured.probe_errors))
    tags.update(invocation_tags(repo_root))
    handle.set_tags(tags)


#: Environment variables recorded on every run (tag ``lineal.env``) because they change what a
#: program computes; ``LINEAL_CAPTURE_ENV=NAME1,NAME2`` adds more.
CAPTURED_ENV_VARS = (
    "PYTHONHASHSEED",
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_DETERMINISTIC_OPS",
    "CUBLAS_WORKSPACE_CONFIG",
    "LINEAL_PROJECT",
)
# Names that look like they hold a secret are never recorded, even when a user lists them: tags
# end up in an append-only ledger, where a leaked token cannot be taken back.
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSW|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_KEY|AUTH", re.I)
_SECRET_FLAG = re.compile(r"^--?[\w-]*(secret|token|passw|credential|api[-_]?key)[\w-]*", re.I)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def invocation_tags(repo_root: str | None) -> dict[str, str]:
    """How this process was started, as run tags: ``lineal.argv`` (JSON list, values of
    secret-looking flags redacted), ``lineal.cwd`` (relative to ``repo_root`` when inside it) and
    ``lineal.env`` (JSON of the allowlisted variables that are set)."""
    import json
    import sys

    tags = {"lineal.argv": json.dumps(_redact_argv(list(sys.argv)))}
    try:
        cwd = os.path.realpath(os.getcwd())
    except OSError:  # the working directory was deleted
        cwd = None
    if cwd is not None:
        root = os.path.realpath(repo_root) if repo_root else None
        if root and (cwd == root or cwd.startswith(root.rstrip(os.sep) + os.sep)):
            cwd = os.path.relpath(cwd, root).replace(os.sep, "/")
        tags["lineal.cwd"] = cwd
    extra = [n.strip() for n in os.environ.get("LINEAL_CAPTURE_ENV", "").split(",") if n.strip()]
    wanted = [*CAPTURED_ENV_VARS, *(n for n in extra if _ENV_NAME.fullmatch(n))]
    refused = sorted({n for n in extra if _SECRET_NAME.search(n)})
    env = {n: os.environ[n] for n in wanted if n in os.environ and n not in refused}
    tags["lineal.env"] = json.dumps(env, sort_keys=True)
    if refused:
        tags["lineal.env.refused"] = ",".join(refused)
    return tags


def _redact_argv(argv: list[str]) -> list[str]:
    out: list[str] = []
    redact_next = False
    for arg in argv:
        if redact_next:
            out.append("<redacted>")
            redact_next = False
        elif _SECRET_FLAG.match(arg):
            flag, eq, _ = arg.partition("=")
            out.append(f"{flag}=<redacted>" if eq else arg)
            redact_next = not eq
        else:
            out.append(arg)
    return out
