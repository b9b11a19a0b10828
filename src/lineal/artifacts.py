"""Artifact operations shared by the SDK and the CLI: log content as a version, get a local path
to a version's content, download it, and record captured code and environments."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .content import HashCache, Progress, reference_digest, store_path
from .entities import ArtifactVersion, EdgeDirection, Storage
from .errors import IntegrityError, InvalidArgument, NotFound
from .housekeeping import check_not_purged
from .refs import validate_name
from .store import Store
from .store.base import BlobStore, NewArtifactVersion

if TYPE_CHECKING:
    from .capture import CapturedEnvironment
    from .tracking import ActiveRun

_caches: dict[str, HashCache] = {}
_CHUNK = 4 * 1024 * 1024


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


def default_name(path: str | os.PathLike[str]) -> str:
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
    """A local path to a version's content, checked against its recorded digest.

    Stored content is never handed out as the blob store's own file: it is copied once per
    digest into a cache (``<store>/cache/content`` for a local store, else the user cache),
    verified while it is copied, and made read-only. Every call checks the copy again (cheaply:
    a file whose size, mtime and inode are unchanged since it was hashed is not re-read) and
    copies it afresh when it was modified, so writing to the returned path can change neither
    the store nor what the next caller gets. IntegrityError when the stored bytes themselves
    do not match. Local files recorded by reference are returned in place: they are the user's.
    """
    check_not_purged(version)
    if version.storage is Storage.REFERENCE:
        if version.uri.startswith("file://"):
            path = Path(version.uri.removeprefix("file://"))
            if not path.exists():
                raise NotFound(f"referenced content of {version.ref} is gone: {path}")
            return path
        return Path(_download_reference(version))
    target = _content_cache(store) / version.digest.replace(":", "-")
    if not version.is_directory:
        target = target / version.name
    cache = hash_cache(store)
    if _local_digest(target, version.is_directory, cache) == version.digest:
        return target
    fetch(store, version, target)
    _seal(store, version, target, cache)
    return target


def _content_cache(store: Store) -> Path:
    root = store.blobs.root_uri
    if root.startswith("file://"):
        return Path(root.removeprefix("file://")).parent / "cache" / "content"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lineal" / "content"


def _seal(store: Store, version: ArtifactVersion, target: Path, cache: HashCache) -> None:
    """Make a freshly fetched (so verified) cache copy read-only and remember its files'
    digests by stat, so the next check need not re-read them."""
    from .content import normalise_member, read_manifest

    if not version.is_directory:
        os.chmod(target, 0o444)
        cache.put(target, os.lstat(target), version.digest)
        return
    for entry in read_manifest(store.blobs, version.digest):
        file = target / normalise_member(entry["path"])
        os.chmod(file, 0o444)
        cache.put(file, os.lstat(file), entry["digest"])


def _local_digest(path: Path, is_directory: bool, cache: HashCache) -> str | None:
    """The content digest of the file or folder at ``path`` (None when it is missing, or holds
    a symlink or anything but regular files and folders), using ``cache`` for unchanged files."""
    import stat

    from .content import manifest_digest

    def file_digest(file: Path) -> tuple[str, int] | None:
        st = os.lstat(file)
        if not stat.S_ISREG(st.st_mode):
            return None
        known = cache.get(file, st)
        if known is None:
            from .store.blobs.local import hash_file

            known = hash_file(file)[0]
            cache.put(file, st, known)
        return known, st.st_size

    try:
        if not is_directory:
            found = file_digest(path)
            return found[0] if found else None
        if path.is_symlink() or not path.is_dir():
            return None
        entries = []
        for folder, folders, files in os.walk(path):
            if any(Path(folder, name).is_symlink() for name in folders):
                return None
            for name in files:
                file = Path(folder, name)
                found = file_digest(file)
                if found is None:
                    return None
                entries.append({"path": file.relative_to(path).as_posix(), "digest": found[0],
                                "size": found[1]})
        return manifest_digest(entries)
    except OSError:
        return None


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
        os.chmod(partial, 0o444)  # a cache other callers read: not for writing through
        os.replace(partial, target)
    return str(target)


def download(
    store: Store, version: ArtifactVersion, dest: Path, progress: Progress | None = None
) -> Path:
    """Write a version's content at ``dest``, checked against its recorded digests.

    ``dest`` is the file (or, for a directory artifact, the folder) to write, and what is there
    is replaced; an existing folder receives a file artifact as ``dest/NAME``, and a directory
    artifact's files are placed into it beside what it already holds. Nothing is placed until
    all of the content has been copied and verified, each file is renamed into place (a
    symlink in the way is replaced, never written through), and nothing is written outside
    ``dest``. Returns the path written.
    """
    check_not_purged(version)
    dest = Path(dest).expanduser().absolute()
    if dest.is_dir() and not dest.is_symlink():
        if not version.is_directory:
            return fetch(store, version, dest / version.name, progress)
        with _staged(store, version, dest, dest, progress) as staging:
            for file in sorted(p for p in staging.rglob("*") if not p.is_dir()):
                relative = file.relative_to(staging)
                os.replace(file, _real_folder(dest, relative.parent) / relative.name)
        return dest
    return fetch(store, version, dest, progress)


def fetch(
    store: Store, version: ArtifactVersion, target: Path, progress: Progress | None = None
) -> Path:
    """Write ``version``'s content at ``target`` (a file, or a folder for a directory
    artifact), replacing whatever is there: the one way content leaves the store.

    The content is copied into a fresh folder beside ``target``, checked against the recorded
    digests as it streams (IntegrityError names the version and both digests), then renamed
    into place: ``target`` holds the old content or the new, never a mix, partial or corrupt
    copy, and a symlink at ``target`` is replaced, not followed. Manifest paths that are
    absolute or climb with ``..`` are refused before anything is written.
    """
    check_not_purged(version)
    target = Path(target).absolute()
    with _staged(store, version, target.parent, target, progress) as staging:
        _swap_in(staging, target, staging.parent / "previous")
    return target


@contextlib.contextmanager
def _staged(
    store: Store, version: ArtifactVersion, parent: Path, target: Path, progress: Progress | None
) -> Iterator[Path]:
    """Yield ``<parent>/.<name>.*.lineal-part/content`` holding the verified content, removed
    (with whatever is left in it) on the way out; OS errors become InvalidArgument."""
    import shutil
    import tempfile

    from .verify import check_local_copy

    advance = progress or (lambda _: None)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}.", suffix=".lineal-part"))
    except OSError as exc:
        raise InvalidArgument(f"cannot write into {parent}: {exc.strerror or exc}") from exc
    try:
        staging = root / "content"
        if version.storage is Storage.STORED:
            _copy_stored(store, version, staging, advance)
        else:
            _copy_reference(store, version, staging, advance)
            check_local_copy(version, staging)
        _usual_permissions(staging)
        yield staging
    except OSError as exc:
        raise InvalidArgument(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _real_folder(root: Path, relative: Path) -> Path:
    """``root/relative`` as real folders: a symlink or file in the way is replaced, so that
    nothing is written through a link into another place."""
    folder = root
    for part in relative.parts:
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            folder.unlink()
        if not folder.exists():
            folder.mkdir()
    return folder


def _swap_in(staging: Path, target: Path, aside: Path) -> None:
    """Rename ``staging`` to ``target``. A rename cannot replace a folder, so what is at
    ``target`` is first moved ``aside``, and moved back if the swap fails or is interrupted:
    the user keeps either the old content or the new, never neither."""
    if not (target.exists() or target.is_symlink()):
        os.replace(staging, target)
        return
    os.replace(target, aside)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(aside, target)
        raise


def _copy_reference(
    store: Store, version: ArtifactVersion, dest: Path, advance: Progress
) -> None:
    import shutil

    source = local_path(store, version)
    if source.is_dir():
        shutil.copytree(source, dest)
    else:
        shutil.copyfile(source, dest)
    advance(version.size)


def _copy_stored(store: Store, version: ArtifactVersion, dest: Path, advance: Progress) -> None:
    """Copy stored content blob by blob, hashing as it streams: progress moves with the bytes
    and the check costs no second read."""
    from .content import normalise_member, read_manifest

    if not version.is_directory:
        _copy_blob(store.blobs, version.digest, dest, advance, version.ref)
        return
    try:
        entries = read_manifest(store.blobs, version.digest)  # checks its digest and paths
    except NotFound:
        raise NotFound(f"{version.ref}: its directory manifest {version.digest} is missing from "
                       f"{store.blobs.root_uri}", hint="run `lineal verify`") from None
    except IntegrityError as error:
        raise IntegrityError(f"{version.ref}: {error.message}", hint="run `lineal verify`") from None
    dest.mkdir(parents=True)
    for entry in entries:
        member = normalise_member(entry["path"])
        target = dest / member
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_blob(store.blobs, entry["digest"], target, advance, f"{version.ref}:{member}")


def _copy_blob(blobs: BlobStore, digest: str, dest: Path, advance: Progress, what: str) -> None:
    import hashlib

    sha = hashlib.sha256()
    try:
        with blobs.open(digest) as stream, open(dest, "xb") as out:
            while chunk := stream.read(_CHUNK):
                sha.update(chunk)
                out.write(chunk)
                advance(len(chunk))
    except NotFound:
        raise NotFound(f"{what}: its blob {digest} is missing from {blobs.root_uri}",
                       hint="run `lineal verify`") from None
    actual = "sha256:" + sha.hexdigest()
    if actual != digest:
        raise IntegrityError(f"{what}: the stored content is corrupt: got {actual}, recorded "
                             f"{digest}", hint="run `lineal verify`")


def _usual_permissions(path: Path) -> None:
    # Blob stores write through private temporary files (mode 0600); a downloaded file should
    # have the permissions any new file of the user gets.
    umask = os.umask(0)
    os.umask(umask)
    mode = 0o666 & ~umask
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in files:
        os.chmod(file, mode)


def record_capture(
    handle: ActiveRun, captured: CapturedEnvironment, invocation: Mapping[str, Any] | None = None
) -> None:
    """Store captured code and environment as deduplicated artifacts the run consumes.

    ``invocation`` is :func:`invocation_facts` as read when the run started (read now when
    not given). A part that was not captured is stored as its ``not_captured`` marker, so that
    the record says it is unknown rather than leaving it out.
    """
    from .canonical import canonical_json
    from .capture import not_captured_reason

    store, project, actor = handle.store, handle.project, handle.actor
    # Where and by whom it ran is about the run, not the environment or the code: kept out of
    # the artifacts so identical environments on many hosts (pods, CI runners) and identical
    # code in many clones deduplicate to one version each.
    environment = dict(captured.environment)
    host = environment.pop("host", None) or {}
    if not_captured_reason(host) is not None:
        host = {}
    code = dict(captured.code)
    git = dict(code.get("git") or {})
    repo_root = None
    if not_captured_reason(git) is None:
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
    if git.get("commit") and not_captured_reason(git) is None:
        tags["lineal.git.commit"] = git["commit"]
        tags["lineal.git.dirty"] = str(bool(git.get("dirty"))).lower()
    if captured.probe_errors:
        tags["lineal.capture.errors"] = "; ".join(
            f"{name}: {reason}" for name, reason in sorted(captured.probe_errors.items()))
    tags.update(invocation_tags(repo_root, invocation))
    handle._set_default_tags(tags)


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


#: Recorded variables that ``lineal reproduce --run`` (and the bundle's run.sh) set again: the ones
#: that change what a program computes (seeds, thread counts, devices, determinism switches,
#: time zone and locale) and cannot make the interpreter load other code. Any other recorded name
#: (``LINEAL_CAPTURE_ENV`` records any a user lists) is skipped, with the reason shown.
REPLAYED_ENV_VARS = frozenset({
    *CAPTURED_ENV_VARS, "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
    "TZ", "LANG", "LANGUAGE",
})
_REPLAYED_PREFIXES = ("LC_",)
# Variables through which a value runs code or loads libraries when a process starts.
_LOADS_CODE = re.compile(
    r"^(PYTHON(?!HASHSEED$)\w*|LD_\w*|DYLD_\w*|PATH|PERL5?LIB|PERL5OPT|RUBYOPT|RUBYLIB|"
    r"NODE_OPTIONS|NODE_PATH|BASH_ENV|ENV|SHELLOPTS|PS4|IFS|GCONV_PATH|HOME|GIT_\w*)$"
)


def replayable_env(recorded: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split recorded environment variables into ``(applied, skipped)``: ``applied`` holds the
    names of :data:`REPLAYED_ENV_VARS` (and ``LC_*``) with their values, ``skipped`` maps every
    other name to why it is not applied. A record is data another person wrote: a recorded
    ``PYTHONPATH`` or ``LD_PRELOAD`` would run their code in the reproducing process."""
    applied: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for name, value in sorted(recorded.items()):
        if name in REPLAYED_ENV_VARS or name.startswith(_REPLAYED_PREFIXES):
            applied[name] = value
        elif _SECRET_NAME.search(name):
            skipped[name] = "looks like a credential"
        elif _LOADS_CODE.match(name):
            skipped[name] = "can make the process load or run other code"
        else:
            skipped[name] = ("not a variable lineal replays (seeds, threads, devices, "
                             "time zone, locale)")
    return applied, skipped


def invocation_facts() -> dict[str, Any]:
    """How this process was started, read now: ``argv``, ``cwd`` (absolute, None when deleted)
    and ``environ`` (the allowlisted variables that are set, and the refused names)."""
    import sys

    try:
        cwd: str | None = os.path.realpath(os.getcwd())
    except OSError:  # the working directory was deleted
        cwd = None
    extra = [n.strip() for n in os.environ.get("LINEAL_CAPTURE_ENV", "").split(",") if n.strip()]
    wanted = [*CAPTURED_ENV_VARS, *(n for n in extra if _ENV_NAME.fullmatch(n))]
    refused = sorted({n for n in extra if _SECRET_NAME.search(n)})
    env = {n: os.environ[n] for n in wanted if n in os.environ and n not in refused}
    return {"argv": list(sys.argv), "cwd": cwd, "env": env, "refused": refused}


def invocation_tags(
    repo_root: str | None, facts: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """How this process was started, as run tags: ``lineal.argv`` (JSON list, values of
    secret-looking flags redacted), ``lineal.cwd`` (relative to ``repo_root`` when inside it) and
    ``lineal.env`` (JSON of the allowlisted variables that are set). ``facts`` is
    :func:`invocation_facts` from when the run started (read now when not given)."""
    import json

    facts = facts if facts is not None else invocation_facts()
    tags = {"lineal.argv": json.dumps(_redact_argv(list(facts["argv"])))}
    cwd = facts["cwd"]
    if cwd is not None:
        root = os.path.realpath(repo_root) if repo_root else None
        if root and (cwd == root or cwd.startswith(root.rstrip(os.sep) + os.sep)):
            cwd = os.path.relpath(cwd, root).replace(os.sep, "/")
        tags["lineal.cwd"] = cwd
    tags["lineal.env"] = json.dumps(facts["env"], sort_keys=True)
    if facts["refused"]:
        tags["lineal.env.refused"] = ",".join(facts["refused"])
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
